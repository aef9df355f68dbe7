"""A modal that asks for a typed reason (an override of a gate); dismisses with it or None."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

#: A reason shorter than this is not a reason ("x", "ok").
MIN_REASON = 8


class ReasonModal(ModalScreen[str | None]):
    DEFAULT_CSS = """
    ReasonModal {
        align: center middle;
    }
    ReasonModal > #reason-box {
        width: 76;
        height: auto;
        border: thick $warning;
        background: $surface;
        padding: 1 2;
    }
    ReasonModal #reason-title {
        text-style: bold;
        color: $warning;
        margin-bottom: 1;
    }
    ReasonModal #reason-buttons {
        height: auto;
        align-horizontal: right;
        margin-top: 1;
    }
    ReasonModal Button {
        margin-left: 2;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="reason.cancel",
                tooltip="Do not override; close this dialog"),
    ]  # fmt: skip

    def __init__(self, title: str, what: str, *, confirm_label: str = "Override") -> None:
        super().__init__()
        self.title_text = title
        self.what = what
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical(id="reason-box"):
            yield Label(self.title_text, id="reason-title")
            yield Static(self.what, id="reason-what", markup=False)
            yield Input(placeholder=f"reason (at least {MIN_REASON} characters)", id="reason")
            with Horizontal(id="reason-buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button(self.confirm_label, id="ok", variant="warning", disabled=True)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def _valid(self, value: str) -> bool:
        return len(value.strip()) >= MIN_REASON

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#ok", Button).disabled = not self._valid(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self._valid(event.value):
            self.dismiss(event.value.strip())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        value = self.query_one(Input).value
        self.dismiss(value.strip() if event.button.id == "ok" and self._valid(value) else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
