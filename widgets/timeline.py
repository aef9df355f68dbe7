"""The deployment timeline: every step, command, check, action and alarm, newest at the bottom."""

from __future__ import annotations

import time
from collections.abc import Iterable

from rich.text import Text
from textual.widgets import DataTable

from tui.core.journal import Event

_KIND_STYLE = {
    "step.fail": "bold red",
    "alarm": "bold red",
    "disconnect": "red",
    "step.ok": "green",
    "connect": "green",
    "check": "cyan",
    "action": "magenta",
    "lock": "yellow",
}


def _result(event: Event) -> Text:
    if event.exit_status is None:
        if event.kind == "step.fail" or event.kind == "alarm":
            return Text("FAIL", style="bold red")
        if event.kind == "step.ok":
            return Text("ok", style="green")
        return Text("")
    if event.exit_status == 0:
        return Text("ok", style="green")
    return Text(f"exit {event.exit_status}", style="bold red")


class Timeline(DataTable):
    DEFAULT_CSS = """
    Timeline {
        height: 1fr;
    }
    """

    #: Keep the widget bounded; the journal holds everything, this is the view.
    MAX_ROWS = 2000

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self._row_keys: list[object] = []
        # Events arrive in id order from two paths (the backlog and live messages): an id at or
        # below the last one shown is already on screen.
        self._last_id = 0

    def on_mount(self) -> None:
        self.add_column("time", width=8, key="time")
        self.add_column("host", width=8, key="host")
        self.add_column("step", width=8, key="step")
        self.add_column("event", width=11, key="kind")
        self.add_column("message", key="message")
        self.add_column("took", width=6, key="took")
        self.add_column("result", width=7, key="result")

    def reset(self) -> None:
        """Drop the rows shown (a new deployment starts); ids already seen stay skipped."""
        self.clear()
        self._row_keys.clear()

    def add_events(self, events: Iterable[Event]) -> None:
        follow = self.cursor_row >= self.row_count - 1
        for event in events:
            if event.id <= self._last_id:
                continue
            self._last_id = event.id
            style = _KIND_STYLE.get(event.kind, "")
            took = f"{event.duration:.1f}s" if event.duration is not None else ""
            key = self.add_row(
                time.strftime("%H:%M:%S", time.localtime(event.ts)),
                event.host,
                event.step,
                Text(event.kind, style=style),
                Text(event.message.splitlines()[0] if event.message else "", style=style),
                took,
                _result(event),
                key=str(event.id),
            )
            self._row_keys.append(key)
        while len(self._row_keys) > self.MAX_ROWS:
            self.remove_row(self._row_keys.pop(0))
        if follow and self.row_count:
            self.move_cursor(row=self.row_count - 1, animate=False)
