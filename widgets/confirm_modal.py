"""THE confirm modal for destructive actions (DESIGN convention 6).

It says what will happen and the exact command; for the most dangerous actions (stop and delete
in production) the operator must type the app name before Confirm is enabled. Cancel has the
focus, and Escape cancels. Dismisses with True only on an explicit confirm.

``DestructiveModal`` is the frame it shares with the other destructive dialogs (the rollback's
data question, widgets/data_rollback_modal.py): the red box, the title, and the typed-name gate.
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

ResultT = TypeVar("ResultT")


class DestructiveModal(ModalScreen[ResultT]):
    """The box (#confirm-box), its title (#confirm-title) and, when ``require_text`` is set, the
    "Type NAME" line with its input (#confirm-input). Subclasses compose the rest."""

    DEFAULT_CSS = """
    DestructiveModal {
        align: center middle;
    }
    DestructiveModal > #confirm-box {
        width: 72;
        height: auto;
        border: thick $error;
        background: $surface;
        padding: 1 2;
    }
    DestructiveModal #confirm-title {
        text-style: bold;
        color: $error;
        margin-bottom: 1;
    }
    DestructiveModal #confirm-command {
        color: $text-muted;
        margin: 1 0;
    }
    """

    require_text: str = ""

    def typed_name(self, what: str = "confirm") -> ComposeResult:
        """The typed-name gate: nothing when no name is required."""
        if self.require_text:
            yield Label(f"Type [b]{self.require_text}[/b] to {what}:")
            yield Input(placeholder=self.require_text, id="confirm-input")

    def typed(self, value: str) -> bool:
        return not self.require_text or value == self.require_text


class ConfirmModal(DestructiveModal[bool]):
    DEFAULT_CSS = """
    ConfirmModal #confirm-buttons {
        height: auto;
        align-horizontal: right;
        margin-top: 1;
    }
    ConfirmModal Button {
        margin-left: 2;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "cancel",
            "Cancel",
            id="confirm.cancel",
            tooltip="Do nothing and close this dialog",
        ),
    ]

    def __init__(
        self,
        title: str,
        what: str,
        command: str = "",
        *,
        require_text: str = "",
        confirm_label: str = "Confirm",
    ) -> None:
        super().__init__()
        self.title_text = title
        self.what = what
        self.command = command
        self.require_text = require_text
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Label(self.title_text, id="confirm-title")
            yield Static(self.what, id="confirm-what")
            if self.command:
                yield Static(f"$ {self.command}", id="confirm-command", markup=False)
            yield from self.typed_name()
            with Horizontal(id="confirm-buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button(
                    self.confirm_label,
                    id="confirm",
                    variant="error",
                    disabled=bool(self.require_text),
                )

    def on_mount(self) -> None:
        if self.require_text:
            self.query_one("#confirm-input", Input).focus()
        else:
            self.query_one("#cancel", Button).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#confirm", Button).disabled = not self.typed(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.typed(event.value):
            self.dismiss(True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm")

    def action_cancel(self) -> None:
        self.dismiss(False)
