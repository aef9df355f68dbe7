"""The logs screen: every host's logs full-screen, with saving and copying."""

from __future__ import annotations

import time
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen

from tui.context import context_of
from widgets.key_footer import KeyFooter
from widgets.logs_pane import LogsPane


class LogsScreen(Screen[None]):
    """The app's screen ``logs`` (ShipdeckApp.SCREENS): made the first time it is opened and
    kept while the app runs, so its filters and search survive leaving and coming back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="logs.back",
                tooltip="Back to the dashboard (logs keep being followed)"),
        Binding("s", "save", "Save view", id="logs.save",
                tooltip="Write the lines the current filter shows to a file in this directory"),
        Binding("c", "copy_line", "Copy line", id="logs.copy",
                tooltip="Copy the current search hit (or the last visible line) to the clipboard"),
    ]  # fmt: skip

    def __init__(self, save_dir: Path | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.save_dir = save_dir

    def compose(self) -> ComposeResult:
        config = context_of(self).config
        yield LogsPane(max_lines=config.logs.buffer_lines, id="logs-full")
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one(LogsPane).view.focus()

    @property
    def pane(self) -> LogsPane:
        return self.query_one(LogsPane)

    def action_save(self) -> None:
        app_name = context_of(self).config.app.name
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = (self.save_dir or Path.cwd()) / f"shipdeck-logs-{app_name}-{stamp}.log"
        try:
            count = self.pane.save(path)
        except OSError as err:
            self.notify(f"cannot save the logs to {path}: {err.strerror or err}", severity="error")
            return
        self.notify(f"saved {count:,} lines to {path}")

    def action_copy_line(self) -> None:
        line = self.pane.current_line()
        if not line:
            self.notify("no line to copy", severity="warning")
            return
        self.app.copy_to_clipboard(line)
        self.notify("copied: " + (line if len(line) <= 60 else line[:59] + "…"))
