"""The top bar: app, environment, and each host's connection state with its one-line reason."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui.core.hosts import HostState
from tui.core.transport import ConnState

_STYLE = {
    ConnState.CONNECTED: ("●", "green"),
    ConnState.CONNECTING: ("◌", "yellow"),
    ConnState.FAILED: ("✖", "red"),
    ConnState.DISCONNECTED: ("✖", "red"),
    ConnState.IDLE: ("○", "grey50"),
}


class HostBar(Widget):
    DEFAULT_CSS = """
    HostBar {
        height: 1;
        background: $panel;
        color: $text;
        padding: 0 1;
    }
    """

    states: reactive[tuple[HostState, ...]] = reactive(tuple, always_update=True)

    def __init__(
        self, app_name: str, environment: str, read_only: bool = False, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.app_name = app_name
        self.environment = environment
        self.read_only = read_only

    def set_state(self, state: HostState) -> None:
        by_name = {s.name: s for s in self.states}
        by_name[state.name] = state
        self.states = tuple(by_name.values())

    def render(self) -> Text:
        text = Text()
        text.append("shipdeck ", style="bold")
        text.append(f"{self.app_name} ", style="bold cyan")
        env_style = "bold white on red" if self.environment == "production" else "black on yellow"
        text.append(f" {self.environment} ", style=env_style)
        if self.read_only:
            text.append(" READ-ONLY ", style="bold black on magenta")
        for state in self.states:
            glyph, colour = _STYLE.get(state.state, ("?", "white"))
            text.append("  ")
            text.append(f"{glyph} {state.name} ", style=colour)
            label = str(state.state)
            if state.reason and state.state in (ConnState.FAILED, ConnState.DISCONNECTED):
                label = f"{label}: {state.reason}"
            text.append(label, style=colour)
        return text
