"""The log view: the shown lines, formatted (time, level, host, process, stream) and styled
only when they scroll into view; and the formatter that turns a stored line into display text.

Used by the logs pane (widgets/logs_pane.py), which feeds it batches from the shared store.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from rich.style import Style
from rich.text import Text
from textual import events
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.core.log_buffer import DEBUG, ERROR, INFO, MARK, TEXT, TS, WARN, Line
from tui.core.log_format import LogFormat, Structured

_LEVEL_TAG = {DEBUG: "DEBUG", INFO: "INFO ", WARN: "WARN ", ERROR: "ERROR"}
_MARK_TAG = "====="
_MATCH_STYLE = Style(color="black", bgcolor="yellow")
_CURRENT_STYLE = Style(bgcolor="grey30")

#: What the view asks about a key before anything else: True = used (the pane's prompt keys).
KeyRouter = Callable[[events.Key], bool]


# An ISO-8601 time at the start of a line, as apps and pm2's `time: true` write it:
# 2026-11-26T18:31:24.880Z, 2026-11-26 18:31:24+02:00, 2026-11-26T18:31:24: (pm2).
_STAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?")


@functools.lru_cache(maxsize=4096)
def _stamp_hms(stamp: str) -> str:
    """HH:MM:SS in the console's local time ("" when it is no real time); a stamp without a
    zone is the app host's local time and is shown as written."""
    try:
        moment = datetime.fromisoformat(stamp.replace(",", ".").replace("Z", "+00:00"))
    except ValueError:
        return ""  # not a real time after all: the arrival time is shown
    if moment.tzinfo is None:
        return moment.strftime("%H:%M:%S")
    return time.strftime("%H:%M:%S", time.localtime(moment.timestamp()))


class LineFormatter:
    """A stored line -> one display line (time strings cached: a batch shares its second)."""

    def __init__(
        self, redact: Callable[[str], str] | None = None, log_format: LogFormat | None = None
    ) -> None:
        # JSON lines (pino, winston, bunyan) show as `time level message  key=value ...`.
        self.log_format = log_format or LogFormat()
        self._second = -1
        self._hms = ""
        # Secrets (config [secrets]) never reach the screen, a saved file or the clipboard.
        # Applied here, to the few lines that are shown, not to every line at ingest.
        self.redact = redact

    def hms(self, ts: float) -> str:
        second = int(ts)
        if second != self._second:
            self._second, self._hms = second, time.strftime("%H:%M:%S", time.localtime(ts))
        return self._hms

    def line_hms(self, ts: float, text: str) -> str:
        """The time a line shows: the app's own timestamp when the line starts with one (the
        backlog shown at start arrives all at once, minutes or hours after it was written),
        else when it arrived."""
        if text[:2].isdigit():
            stamp = _STAMP.match(text)
            if stamp is not None and (shown := _stamp_hms(stamp.group(0))):
                return shown
        return self.hms(ts)

    def prefix_width(self, lines: list[Line]) -> int:
        """Width of the longest prefix in a batch (time, level, host, process, stream)."""
        return 24 + max(len(line[2]) + len(line[3]) for line in lines)

    def prefix(self, line: Line, record: Structured | None = None) -> str:
        _seq, ts, host, process, stream, level, text = line
        if stream == MARK:
            return f"{self.hms(ts)} {_MARK_TAG} {host} "
        if record is not None and record.ts is not None:
            when = self.hms(record.ts)
        else:
            when = self.line_hms(ts, text)
        return f"{when} {_LEVEL_TAG.get(level, 'INFO ')} {host} {process} {stream} │ "

    def __call__(self, line: Line) -> str:
        text = line[TEXT]
        record = self.log_format.parse(text) if text[:1] == "{" else None
        if record is not None:
            text = record.line()
        if self.redact is not None:
            text = self.redact(text)
        return self.prefix(line, record) + text

    def full(self, line: Line) -> str:
        """With the date, for saved files."""
        day = time.strftime("%Y-%m-%d", time.localtime(line[TS]))
        return f"{day} {self(line)}"


_LEVEL_STYLE = {
    ERROR: Style(color="red", bold=True),
    WARN: Style(color="yellow"),
    DEBUG: Style(dim=True),
}
_MARK_STYLE = Style(color="magenta", bold=True)


class LogView(ScrollView, can_focus=True):
    """The shown lines, kept as stored line tuples and formatted only when they scroll into view.

    Writing a batch is a list extend: no per-line formatting, measuring or cache work (Textual's
    Log does all three per line, which is most of its cost at high rates). Rendered lines are
    cached by sequence number, so following the tail renders only the new lines.
    """

    DEFAULT_CSS = """
    LogView {
        background: $surface;
        color: $text;
        overflow: scroll;
        &:focus {
            background-tint: $foreground 5%;
        }
    }
    """

    def __init__(
        self,
        max_lines: int,
        formatter: LineFormatter,
        *,
        key_router: KeyRouter | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_lines = max(1, max_lines)
        self.formatter = formatter
        self.key_router = key_router
        self.search: re.Pattern[str] | None = None
        self.current_hit = -1  # index into the shown lines, -1 = none
        self._lines: list[Line] = []
        self._width = 0
        self._strips: LRUCache[tuple[int, bool], Strip] = LRUCache(512)

    @property
    def line_count(self) -> int:
        return len(self._lines)

    @property
    def entries(self) -> list[Line]:
        return self._lines

    @property
    def lines(self) -> list[str]:
        """The shown lines as text (formats all of them: for search, copy and tests)."""
        fmt = self.formatter
        return [fmt(line) for line in self._lines]

    def line_text(self, index: int) -> str:
        return self.formatter(self._lines[index])

    def clear(self) -> None:
        self._lines = []
        self._width = 0
        self.current_hit = -1
        self._strips.clear()
        self._set_virtual_size(Size(0, 0))
        self.refresh()

    def write(self, lines: list[Line], *, follow: bool = True) -> None:
        if not lines:
            return
        at_end = self.is_vertical_scroll_end
        self._lines.extend(lines)
        extra = len(self._lines) - self.max_lines
        if extra > 0:
            del self._lines[:extra]
            if self.current_hit >= 0:
                self.current_hit = max(-1, self.current_hit - extra)
        # A width estimate (prefix + longest text); exact cell widths would cost per line.
        longest = max(map(len, [line[6] for line in lines])) + self.formatter.prefix_width(lines)
        self._width = max(self._width, longest)
        self._set_virtual_size(Size(self._width, len(self._lines)))
        if follow and at_end and not self.is_vertical_scrollbar_grabbed:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        # Always: scroll_end repaints only when the offset moves, and while every line still
        # fits in the view it does not (the dashboard's pane stayed blank under "following
        # 3 lines"). Rendered lines are cached, so the repaint formats only the new ones.
        self.refresh()

    def _set_virtual_size(self, size: Size) -> None:
        # virtual_size is a layout=True reactive: assigning it lays out the whole screen, which
        # at 20 writes a second cost more than the writes. Scrollbars are always shown here
        # (overflow: scroll), so nothing else can move: update the scroll limits only.
        if size != self.virtual_size:
            self.set_reactive(LogView.virtual_size, size)
            self._scroll_update(size)

    def restyle(self) -> None:
        self._strips.clear()
        self.refresh()

    def on_key(self, event: events.Key) -> None:
        # Keys typed in one burst after "/" (a paste, tmux) were all sent here before the "/"
        # binding could move the focus; the pane handles its prompt keys in order, here.
        if self.key_router is not None and self.key_router(event):
            event.stop()
            event.prevent_default()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        rich_style = self.rich_style
        if index >= len(self._lines):
            return Strip.blank(width, rich_style)
        line = self._lines[index]
        key = (line[0], index == self.current_hit)
        strip = self._strips.get(key)
        if strip is None:
            strip = self._render(line, rich_style, current=key[1])
            self._strips[key] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, rich_style)

    def _render(self, line: Line, rich_style: Style, *, current: bool) -> Strip:
        text = Text(self.formatter(line), no_wrap=True, end="")
        text.stylize(rich_style)
        style = _MARK_STYLE if line[4] == MARK else _LEVEL_STYLE.get(line[5])
        if style is not None:
            text.stylize(style)
        if current:
            text.stylize(_CURRENT_STYLE)
        if self.search is not None:
            for match in self.search.finditer(text.plain):
                if match.end() > match.start():
                    text.stylize(_MATCH_STYLE, match.start(), match.end())
        return Strip(text.render(self.app.console), text.cell_len)
