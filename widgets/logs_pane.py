"""The logs pane: a filtered, searchable view of the shared log store, rendered in batches.

The store (tui.core.logs) calls the pane back once per ingested batch; the pane merges those
calls into one message and renders at most every RENDER_INTERVAL, pulling the new lines from the
ring buffer and handing them to the view in one write. Formatting and styling (error lines,
search matches) happen only for lines that scroll into view (the view and its line formatter:
widgets/log_view.py). In the console the store is the app's log hub's, which the app runs.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input

from tui.context import find_context
from tui.core.log_buffer import DEBUG, ERROR, HOST, MARK, PROCESS, TEXT, WARN, Line
from tui.core.log_filter import LogFilter
from tui.core.log_format import LogFormat
from tui.core.logs import LogStore
from widgets.log_view import LineFormatter, LogView
from widgets.visibility import after_first_frame

#: At most one render per this many seconds, however fast lines arrive.
RENDER_INTERVAL = 0.05

_LEVEL_CYCLE = (DEBUG, WARN, ERROR)


class StatusLine(Widget):
    """One line of text; updating it never asks for a new layout (it is refreshed per render)."""

    DEFAULT_CSS = """
    StatusLine {
        height: 1;
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._text = Text()

    def show(self, text: Text) -> None:
        if text != self._text:
            self._text = text
            self.refresh()

    def render(self) -> Text:
        return self._text


class LogsPane(Vertical):
    """Follow/pause, level/host/process/regex filters, search, counts of new and dropped lines."""

    DEFAULT_CSS = """
    LogsPane {
        height: 1fr;
    }
    LogsPane > LogView {
        height: 1fr;
        background: $surface;
    }
    LogsPane > #log-status {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text-muted;
    }
    LogsPane > #log-input {
        display: none;
        height: 3;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_pause", "Pause/follow", id="logs.pause",
                tooltip="Stop scrolling (new lines are counted, none lost) or follow again"),
        Binding("slash", "search", "Search", id="logs.search",
                tooltip="Search the shown lines with a regex; n/N jump between matches"),
        Binding("n", "next_match", "Next match", id="logs.next_match", show=False,
                tooltip="Jump to the next (newer) line matching the search"),
        Binding("N", "prev_match", "Prev match", id="logs.prev_match", show=False,
                tooltip="Jump to the previous (older) line matching the search"),
        Binding("f", "edit_filter", "Filter", id="logs.filter",
                tooltip="Show only lines matching regexes; !regex hides matching lines"),
        Binding("l", "cycle_level", "Level", id="logs.level",
                tooltip="Cycle the level filter: all, warnings and errors, errors only"),
        Binding("h", "cycle_host", "Host", id="logs.host", show=False,
                tooltip="Cycle the host filter: all hosts, then each host"),
        Binding("p", "cycle_process", "Process", id="logs.process", show=False,
                tooltip="Cycle the process filter: all processes, then each process"),
        Binding("x", "clear_filters", "Clear", id="logs.clear", show=False,
                tooltip="Clear level, host, process and regex filters and the search"),
        Binding("escape", "close_prompt", "Close prompt", id="logs.close_prompt", show=False,
                tooltip="Close the search/filter prompt without applying it"),
    ]  # fmt: skip

    class Changed(Message):
        """The store got lines; merged so a burst of batches costs one render."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LogsPane.Changed)

    def __init__(
        self,
        max_lines: int = 10_000,
        *,
        store: LogStore | None = None,
        hosts: Iterable[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_lines = max_lines
        self.store: LogStore | None = store
        self.filter = LogFilter()
        self.paused = False
        self.new_while_paused = 0
        self.written = 0  # lines handed to the view, ever (benchmarks count them)
        self.search_text = ""
        self._hit_info = ""
        self.error = ""  # last filter/search problem, shown in the status line
        self._host_names = list(hosts)
        self._seen_seq = 0  # last store seq taken into account
        self._note_seq = 0  # pane-only lines get negative sequence numbers
        self._pause_seq = 0
        self._change_posted = False
        self._last_render_at = 0.0
        self._render_timer: Any = None
        self._prompt_mode = ""
        self._formatter = LineFormatter()

    def compose(self) -> ComposeResult:
        yield LogView(self.max_lines, self._formatter, key_router=self.route_key, id="log-view")
        yield StatusLine(id="log-status")
        # The search/filter prompt (#log-input) is mounted after the first frame: it is hidden
        # until "/" or "f", and an Input's styles are a good part of a pane's start-up cost.

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    def on_mount(self) -> None:
        # In the console: the app's log hub (one store for every view) and the redactor. On its
        # own (benchmarks, tests), a store of its own unless one was given.
        ctx = find_context(self)
        if self.store is None:
            self.store = ctx.logs.store if ctx is not None and ctx.logs is not None else LogStore()
        if ctx is not None:
            self._formatter.redact = ctx.redactor
            self._formatter.log_format = LogFormat.from_config(ctx.config.logs)
            if not self._host_names:
                self._host_names = [h.name for h in ctx.config.hosts]
        self.store.add_listener(self._on_store_change)
        self.rebuild()
        after_first_frame(self, self._mount_prompt)
        # The error rate decays with time, not only with new lines.
        self.set_interval(1.0, self.update_status)

    def on_unmount(self) -> None:
        if self.store is not None:
            self.store.remove_listener(self._on_store_change)

    def add_lines(self, lines: Iterable[str]) -> None:
        """Plain lines from shipdeck itself (e.g. command output), through the same store."""
        assert self.store is not None
        self.store.add_lines("", "", "out", list(lines))

    # ------------------------------------------------------------------ batching

    def _on_store_change(self) -> None:
        if not self._change_posted:
            self._change_posted = True
            self.post_message(self.Changed())

    def on_logs_pane_changed(self, message: Changed) -> None:
        message.stop()
        self._change_posted = False
        if self._render_timer is not None:
            return
        wait = self._last_render_at + RENDER_INTERVAL - time.monotonic()
        if wait > 0:
            self._render_timer = self.set_timer(wait, self._timed_render)
        else:
            self.render_new()

    def _timed_render(self) -> None:
        self._render_timer = None
        self.render_new()

    def render_new(self) -> None:
        """Take every line that arrived since the last render (one write for all of them)."""
        store = self.store
        if store is None:
            return
        self._last_render_at = time.monotonic()
        buffer = store.buffer
        new = buffer.since(self._seen_seq)
        self._seen_seq = buffer.last_seq
        shown = self.filter.apply(new)
        if self.paused:
            self.new_while_paused += len(shown)
        elif shown:
            self._write(shown)
        self.update_status()

    def _write(self, lines: list[Line]) -> None:
        if len(lines) > self.max_lines:
            lines = lines[-self.max_lines :]
        self.view.write(lines)
        self.written += len(lines)

    def rebuild(self) -> None:
        """Refill the view from the store with the current filter (after a filter change)."""
        store = self.store
        if store is None:
            return
        view = self.view
        view.clear()
        view.current_hit = -1
        self._hit_info = ""
        self._seen_seq = self._pause_seq = store.buffer.last_seq
        self.new_while_paused = 0
        self._write(self.filter.apply(store.buffer.since(0)))
        view.scroll_end(animate=False, immediate=True)
        self.update_status()

    # ------------------------------------------------------------------ follow / pause

    def action_toggle_pause(self) -> None:
        if self.paused:
            self.resume()
        else:
            self.pause()

    def pause(self) -> None:
        if not self.paused:
            self.render_new()
            self.paused = True
            self._pause_seq = self._seen_seq
            self.new_while_paused = 0
            self.update_status()

    def resume(self) -> None:
        if not self.paused or self.store is None:
            return
        self.paused = False
        buffer = self.store.buffer
        missed = buffer.missed_since(self._pause_seq)
        lines = self.filter.apply(buffer.since(self._pause_seq))
        self._seen_seq = buffer.last_seq
        self.new_while_paused = 0
        if missed:
            self._note_seq -= 1  # a line of the view only, never in the store
            note = (
                f"{missed:,} lines were dropped from the buffer while paused (it is full);"
                " raise [logs] buffer_lines to keep more"
            )
            self.view.write([(self._note_seq, time.time(), "", "", MARK, WARN, note)])
        self._write(lines)
        self.view.current_hit = -1
        self.view.scroll_end(animate=False, immediate=True)
        self.update_status()

    # ------------------------------------------------------------------ filters

    def set_filter(self, new: LogFilter) -> None:
        self.filter = new
        self.rebuild()

    def action_cycle_level(self) -> None:
        levels = _LEVEL_CYCLE
        index = levels.index(self.filter.min_level) if self.filter.min_level in levels else 0
        self.set_filter(self.filter.replace(min_level=levels[(index + 1) % len(levels)]))

    def _cycle(self, current: frozenset[str], choices: list[str]) -> frozenset[str]:
        if not choices:
            return frozenset()
        if not current:
            return frozenset({choices[0]})
        last = sorted(current)[-1]
        index = choices.index(last) + 1 if last in choices else len(choices)
        return frozenset({choices[index]}) if index < len(choices) else frozenset()

    def action_cycle_host(self) -> None:
        assert self.store is not None
        hosts = sorted(set(self._host_names) | {ln[HOST] for ln in self.store.buffer if ln[HOST]})
        self.set_filter(self.filter.replace(hosts=self._cycle(self.filter.hosts, hosts)))

    def action_cycle_process(self) -> None:
        assert self.store is not None
        procs = sorted({ln[PROCESS] for ln in self.store.buffer if ln[PROCESS]})
        self.set_filter(self.filter.replace(processes=self._cycle(self.filter.processes, procs)))

    def action_clear_filters(self) -> None:
        self.search_text = ""
        self.view.search = None
        self.error = ""
        self.set_filter(LogFilter())

    def apply_query(self, query: str) -> bool:
        try:
            new = self.filter.replace(query=query)
        except ValueError as err:
            self.error = str(err)
            self.update_status()
            return False
        self.error = ""
        self.set_filter(new)
        return True

    # ------------------------------------------------------------------ search

    def search(self, text: str) -> bool:
        """Highlight matches of ``text`` (a regex; all-lowercase means ignore case) and jump to
        the most recent one at or above the bottom of the view."""
        view = self.view
        if not text:
            self.search_text = ""
            view.search = None
            view.current_hit = -1
            view.restyle()
            self.update_status()
            return True
        try:
            pattern = re.compile(text, 0 if text != text.lower() else re.IGNORECASE)
        except re.error as err:
            self.error = f"bad regex {text!r}: {err}"
            self.update_status()
            return False
        self.error = ""
        self.search_text = text
        view.search = pattern
        start = (
            int(view.scroll_offset.y + view.size.height) if view.size.height else (view.line_count)
        )
        self._jump(-1, start)
        return True

    def _matches(self) -> list[int]:
        pattern = self.view.search
        if pattern is None:
            return []
        # Cheap first: the raw text, then the prefix; a raw hit is confirmed on the shown
        # (redacted) line, so a search never points at a masked secret.
        fmt, search = self._formatter, pattern.search
        return [
            y
            for y, line in enumerate(self.view.entries)
            if (search(line[TEXT]) and search(fmt(line))) or search(fmt.prefix(line))
        ]

    def _jump(self, direction: int, origin: int | None = None) -> None:
        view = self.view
        hits = self._matches()
        if not hits:
            view.current_hit = -1
            self._hit_info = ""
            self.error = f"no line matches /{self.search_text}/" if self.search_text else ""
            view.restyle()
            self.update_status()
            return
        here = view.current_hit if origin is None else origin
        if direction > 0:
            later = [y for y in hits if y > here]
            target = later[0] if later else hits[0]
        else:
            earlier = [y for y in hits if y < here]
            target = earlier[-1] if earlier else hits[-1]
        self.pause()  # a jump must not be carried away by new lines
        view.current_hit = target
        self._hit_info = f" {hits.index(target) + 1}/{len(hits)}"
        view.scroll_to(y=max(0, target - view.size.height // 2), animate=False, immediate=True)
        view.restyle()
        self.update_status()

    def action_next_match(self) -> None:
        if self.search_text:
            self._jump(+1)

    def action_prev_match(self) -> None:
        if self.search_text:
            self._jump(-1)

    # ------------------------------------------------------------------ the prompt

    def action_search(self) -> None:
        self._open_input("search", self.search_text, "search regex (lowercase = ignore case)")

    def action_edit_filter(self) -> None:
        self._open_input("filter", self.filter.query, "filter: regex … !regex hides; empty = all")

    def _mount_prompt(self) -> None:
        if self.is_attached and not self._closing:
            self._prompt_box()

    def _prompt_box(self) -> Input:
        """The prompt, mounted now if it is not yet (a key pressed before the first frame)."""
        found = self.query("#log-input")
        if found:
            return found.only_one(Input)
        box = Input(id="log-input")
        self.mount(box)  # in the DOM at once; keys queued meanwhile go through route_key
        return box

    def _open_input(self, mode: str, value: str, placeholder: str) -> None:
        box = self._prompt_box()
        self._prompt_mode = mode
        box.value, box.placeholder = value, placeholder
        # Shown and focused now, not after a refresh: keys typed right after "/" (a paste, a
        # fast typist, tmux) are already queued and must reach the prompt.
        box.display = True
        self.screen.set_focus(box)

    def _close_input(self) -> None:
        box = self._prompt_box()
        box.display = False
        self._prompt_mode = ""
        self.screen.set_focus(self.view)

    @on(Input.Submitted, "#log-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        # Enter is a binding, handled ahead of keys still queued at the Input (typed in one
        # burst: a paste, tmux); read the value once the Input has processed them.
        event.input.call_later(self._apply_prompt, event.input)

    def route_key(self, event: events.Key) -> bool:
        """A key that reached the view: opens the prompt or goes into it. True if used."""
        if not self._prompt_mode:
            for binding in self._bindings.key_to_bindings.get(event.key, ()):
                if binding.action in ("search", "edit_filter"):
                    getattr(self, f"action_{binding.action}")()
                    return True
            return False
        box = self._prompt_box()
        if event.key == "enter":
            self._apply_prompt(box)
        elif event.key == "escape":
            self._close_input()
        elif event.key == "backspace":
            box.action_delete_left()
        elif event.is_printable and event.character:
            box.insert_text_at_cursor(event.character)
        else:
            return False
        return True

    def _apply_prompt(self, box: Input) -> None:
        if not self._prompt_mode:
            return
        value = box.value
        ok = self.search(value) if self._prompt_mode == "search" else self.apply_query(value)
        if ok:
            self._close_input()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Escape belongs to the prompt only while it is open; otherwise the screen's Back.
        if action == "close_prompt":
            return bool(self._prompt_mode)
        return True

    def action_close_prompt(self) -> None:
        if self._prompt_mode:
            self._close_input()

    # ------------------------------------------------------------------ current line, saving

    def current_line(self) -> str:
        """The line a copy takes: the current search hit, else the last visible line."""
        view = self.view
        count = view.line_count
        if not count:
            return ""
        if 0 <= view.current_hit < count:
            return view.line_text(view.current_hit)
        bottom = int(view.scroll_offset.y) + max(1, view.size.height) - 1
        return view.line_text(min(bottom, count - 1))

    def save(self, path: Path) -> int:
        """Write every buffered line the filter shows (not only the visible ones)."""
        assert self.store is not None
        lines = self.filter.apply(self.store.buffer.since(0))
        full = self._formatter.full
        with path.open("w", encoding="utf-8") as out:
            for line in lines:
                out.write(full(line) + "\n")
        return len(lines)

    # ------------------------------------------------------------------ status line

    def status_text(self) -> Text:
        store = self.store
        text = Text()
        if self.paused:
            text.append("⏸ paused", style="bold yellow")
            if self.new_while_paused:
                text.append(f"  +{self.new_while_paused:,} new", style="bold yellow")
        else:
            text.append("● following", style="green")
        if store is not None:
            text.append(f"  {len(store.buffer):,} lines")
            if store.buffer.dropped:
                text.append(f"  {store.buffer.dropped:,} dropped (buffer full)", style="yellow")
            now = store.clock()
            hosts = [
                *self._host_names,
                *(h for h in store.rates.hosts() if h not in self._host_names),
            ]
            rates = [(h, store.rates.per_minute(h, now)) for h in hosts]
            if rates:
                text.append("  err/min ")
                for i, (host, rate) in enumerate(rates):
                    text.append(
                        ("  " if i else "") + f"{host} {rate}", style="bold red" if rate else ""
                    )
        ctx = find_context(self)
        hub = ctx.logs if ctx is not None else None
        for host, follower in hub.followers.items() if hub is not None else ():
            if follower.note:
                text.append(f"  {host}: {follower.note}", style="bold red")
        described = self.filter.describe()
        if described:
            text.append(f"  filter: {described}", style="cyan")
        if self.search_text:
            text.append(f"  /{self.search_text}/{self._hit_info}", style="black on yellow")
        if self.error:
            text.append(f"  {self.error}", style="bold red")
        return text

    def update_status(self) -> None:
        self.query_one(StatusLine).show(self.status_text())
