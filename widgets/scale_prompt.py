"""Ask for a number of instances (scale to N, or scale up by N in an emergency)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class ScalePrompt(ModalScreen[int | None]):
    DEFAULT_CSS = """
    ScalePrompt {
        align: center middle;
    }
    ScalePrompt > Vertical {
        width: 50;
        height: auto;
        border: thick $primary;
        background: $surface;
        padding: 1 2;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="scale.cancel", tooltip="Do not scale"),
    ]

    def __init__(self, question: str, default: int) -> None:
        super().__init__()
        self.question = question
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            yield Input(str(self.default), type="integer", id="scale-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if text.isdigit() and int(text) <= 64:
            self.dismiss(int(text))
        else:
            self.notify("a whole number from 0 to 64", severity="warning")

    def action_cancel(self) -> None:
        self.dismiss(None)
