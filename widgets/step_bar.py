"""The five workflow steps with their state, the deployment they belong to, and what is going on."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

STEP_LABELS = (
    ("backup", "1 BACKUP"),
    ("build", "2 BUILD"),
    ("deploy", "3 DEPLOY"),
    ("verify", "4 VERIFY"),
    ("confirm", "5 CONFIRM"),
)

_STATE = {
    "ok": ("✔", "bold green"),
    "running": ("…", "bold yellow"),
    "failed": ("✖", "bold red"),
    "": ("·", "grey62"),
}


class StepBar(Widget):
    DEFAULT_CSS = """
    StepBar {
        height: 4;
        border: round $primary 60%;
        padding: 0 1;
    }
    """

    states: reactive[dict[str, str]] = reactive(dict, always_update=True)
    headline: reactive[str] = reactive("no deployment open: press 1 to start with BACKUP")
    status: reactive[str] = reactive("")
    status_is_error: reactive[bool] = reactive(False)
    rolled_back: reactive[bool] = reactive(False)

    def show(self, states: Mapping[str, str], headline: str, rolled_back: bool = False) -> None:
        self.states = dict(states)
        self.headline = headline
        self.rolled_back = rolled_back

    def say(self, message: str, error: bool = False) -> None:
        self.status = message
        self.status_is_error = error

    def render(self) -> Text:
        text = Text()
        for step, label in STEP_LABELS:
            glyph, style = _STATE.get(self.states.get(step, ""), _STATE[""])
            text.append(f"{glyph} {label}", style=style)
            text.append("  ")
        if self.rolled_back:
            text.append("↩ ROLLED BACK", style="bold magenta")
        text.append("\n")
        text.append(self.headline, style="bold")
        if self.status:
            text.append("  ")
            text.append(self.status, style="bold red" if self.status_is_error else "cyan")
        return text
