"""The rollback's second question: the code only, or the data too (DESIGN "Database safety").

Shown after the typed-app-name rollback confirm, and only when there is a way to roll data
back: ``[steps.rollback] migrate_down`` set (run the bad release's down-migration), or
``[database]`` enabled (restore the dump taken at this deployment's BACKUP). Both are
destructive, so their buttons are enabled only once the operator has typed the database name
(``[database] name``, or the app name when no database is configured). "Code only" has the
focus, and Escape means code only too: the rollback itself was already confirmed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Button, Input, Static

from tui.core.transport_errors import describe_argv
from tui.core.workflow_steps import DataRollback
from widgets.confirm_modal import DestructiveModal

if TYPE_CHECKING:
    pass


class DataRollbackModal(DestructiveModal[DataRollback]):
    DEFAULT_CSS = """
    DataRollbackModal #data-choices {
        height: auto;
    }
    DataRollbackModal #data-choices Button {
        width: 100%;
        margin-top: 1;
    }
    DataRollbackModal #data-choices Label {
        margin-top: 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "code_only", "Code only", id="data_rollback.code_only",
                tooltip="Roll back the code only; the database stays as it is"),
    ]  # fmt: skip

    def __init__(self, app_name: str, migrate_down: tuple[str, ...], database: str) -> None:
        """``migrate_down``: the down-migration command (empty: not offered); ``database``:
        the database's name when [database] is enabled, else "" (no restore offered)."""
        super().__init__()
        self.app_name = app_name
        self.migrate_down = migrate_down
        self.database = database
        self.require_text = database or app_name

    @classmethod
    def for_config(cls, config: Any) -> DataRollbackModal | None:
        """The question for this config, or None when there is no way to roll data back."""
        migrate_down = tuple(config.steps.rollback.migrate_down)
        database = config.database.name if config.database.enabled else ""
        if not migrate_down and not database:
            return None
        return cls(config.app.name, migrate_down, database)

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static("ROLLBACK: the data too?", id="confirm-title")
            ways = [f"The code of {self.app_name} goes back first, then the data if you say so."]
            if self.migrate_down:
                ways.append("The down-migration undoes the bad release's migrations.")
            if self.database:
                ways.append(
                    f"The restore puts {self.database} back as the BACKUP dump has it"
                    " (pg_restore --clean: data written since then is lost)."
                )
            yield Static(" ".join(ways), id="confirm-what")
            with Vertical(id="data-choices"):
                yield Button("Code only", id="code-only", variant="primary")
                yield from self.typed_name("enable the data choices")
                if self.migrate_down:
                    yield Button(
                        f"Code + down-migration ({describe_argv(self.migrate_down, 40)})",
                        id="migrate-down", variant="error", disabled=True,
                    )  # fmt: skip
                if self.database:
                    yield Button(
                        f"Code + restore {self.database} from the BACKUP dump",
                        id="restore-db", variant="error", disabled=True,
                    )  # fmt: skip

    def on_mount(self) -> None:
        self.query_one("#code-only", Button).focus()

    def _data_buttons(self) -> list[Button]:
        return [b for b in self.query(Button) if b.id in ("migrate-down", "restore-db")]

    def on_input_changed(self, event: Input.Changed) -> None:
        for button in self._data_buttons():
            button.disabled = not self.typed(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        # Enter does not pick a destructive way by itself: it moves on to the choices.
        if self.typed(event.value):
            self._data_buttons()[0].focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        choice = {
            "migrate-down": DataRollback.MIGRATE_DOWN,
            "restore-db": DataRollback.RESTORE_DB,
        }.get(event.button.id or "", DataRollback.CODE_ONLY)
        self.dismiss(choice)

    def action_code_only(self) -> None:
        self.dismiss(DataRollback.CODE_ONLY)
