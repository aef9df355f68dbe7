"""The override modal: pass a closed gate only with a typed reason.

It lists what blocks the gate (checklist items, policy violations) and asks for the reason,
which goes to the journal (overrides + a timeline note) and into the changelog line. Override
stays disabled until a reason of a few words is typed; Escape cancels. Dismisses with the
reason, or None.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

#: Fewer characters than this is not a reason anyone can read later ("x", "ok").
MIN_REASON_CHARS = 8


def reason_ok(text: str) -> bool:
    return len(text.strip()) >= MIN_REASON_CHARS


class OverrideModal(ModalScreen[str | None]):
    DEFAULT_CSS = """
    OverrideModal {
        align: center middle;
    }
    OverrideModal > #override-box {
        width: 96;
        height: auto;
        max-height: 90%;
        border: thick $error;
        background: $surface;
        padding: 1 2;
    }
    OverrideModal #override-title {
        text-style: bold;
        color: $error;
        margin-bottom: 1;
    }
    OverrideModal #override-blocking {
        height: auto;
        max-height: 14;
        color: $text-muted;
        margin-bottom: 1;
    }
    OverrideModal #override-buttons {
        height: auto;
        align-horizontal: right;
        margin-top: 1;
    }
    OverrideModal Button {
        margin-left: 2;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="override.cancel",
                tooltip="Leave the gate closed and close this dialog"),
    ]  # fmt: skip

    def __init__(self, gates: Sequence[str], blocking: Sequence[str], who: str = "") -> None:
        super().__init__()
        self.gates = tuple(gates)
        self.blocking = tuple(blocking)
        self.who = who

    def compose(self) -> ComposeResult:
        names = " and ".join(self.gates) or "the"
        with Vertical(id="override-box"):
            yield Label(f"Override the {names} gate", id="override-title")
            with VerticalScroll(id="override-blocking"):
                for line in self.blocking:
                    yield Static(f"• {line}", markup=False)
            who = f" as {self.who}" if self.who else ""
            yield Label(f"Reason (recorded in the journal and the changelog{who}):")
            yield Input(placeholder="why this deploy goes ahead anyway", id="override-reason")
            with Horizontal(id="override-buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button("Override", id="override", variant="error", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#override-reason", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#override", Button).disabled = not reason_ok(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if reason_ok(event.value):
            self.dismiss(event.value.strip())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "override":
            self.dismiss(self.query_one("#override-reason", Input).value.strip())
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
