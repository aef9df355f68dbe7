"""The logs pane: a bounded view of streamed log and command output lines."""

from __future__ import annotations

from collections.abc import Iterable

from textual.widgets import Log


class LogsPane(Log):
    DEFAULT_CSS = """
    LogsPane {
        height: 1fr;
    }
    """

    def __init__(self, max_lines: int = 10_000, **kwargs: object) -> None:
        super().__init__(max_lines=max_lines, highlight=False, **kwargs)  # type: ignore[arg-type]

    def add_lines(self, lines: Iterable[str]) -> None:
        # One write per batch: per-line writes are what make log views fall behind.
        self.write_lines(list(lines))
