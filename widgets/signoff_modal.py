"""Sign off a checklist item: who (the local user) and when are recorded, with an optional note
and link (a PR, a runbook). Enter in the note or link signs; Escape cancels. Dismisses with
(note, link), or None."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label


class SignOffModal(ModalScreen[tuple[str, str] | None]):
    DEFAULT_CSS = """
    SignOffModal {
        align: center middle;
    }
    SignOffModal > #signoff-box {
        width: 80;
        height: auto;
        border: thick $success;
        background: $surface;
        padding: 1 2;
    }
    SignOffModal #signoff-title {
        text-style: bold;
        margin-bottom: 1;
    }
    SignOffModal #signoff-buttons {
        height: auto;
        align-horizontal: right;
        margin-top: 1;
    }
    SignOffModal Button {
        margin-left: 2;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="signoff.cancel",
                tooltip="Do not sign and close this dialog"),
    ]  # fmt: skip

    def __init__(self, label: str, who: str, note: str = "") -> None:
        super().__init__()
        self.label = label
        self.who = who
        self.hint = note

    def compose(self) -> ComposeResult:
        with Vertical(id="signoff-box"):
            yield Label(f"Sign off: {self.label}", id="signoff-title", markup=False)
            if self.hint:
                yield Label(self.hint, markup=False)
            yield Label(f"Signed by {self.who}, now.", markup=False)
            yield Input(placeholder="note (optional)", id="signoff-note")
            yield Input(placeholder="link (optional): PR, runbook, ticket", id="signoff-link")
            with Horizontal(id="signoff-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Sign off", id="sign", variant="success")

    def on_mount(self) -> None:
        self.query_one("#signoff-note", Input).focus()

    def _result(self) -> tuple[str, str]:
        note = self.query_one("#signoff-note", Input).value.strip()
        link = self.query_one("#signoff-link", Input).value.strip()
        return note, link

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(self._result())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(self._result() if event.button.id == "sign" else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
