"""Streaming logs: every host's app logs in one bounded store, classified and counted.

``LogHub`` runs one ``HostFollower`` per host (one SSH channel each, see ``log_tail``) feeding a
shared ``LogStore``: a ring buffer with dropped-line accounting, level classification and a
per-host error-rate counter. Views never get pushed lines one by one: the store calls its
listeners once per batch and views pull ``buffer.since(seq)`` when they next render.

Usage::

    hub = LogHub(config, pool, journal=journal)
    task = asyncio.create_task(hub.run())       # follows until cancelled
    hub.store.add_listener(on_change)          # called (no arguments) after each batch
    lines = hub.store.buffer.since(last_seen_seq)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import PurePosixPath
from typing import Any

from tui.core.log_buffer import ERROR, INFO, MARK, WARN, RingBuffer
from tui.core.log_filter import Classifier, ErrorRate
from tui.core.log_tail import (
    FOLLOW_JS,
    MAX_LINE,
    Frame,
    FrameParser,
    LineCutter,
    ProtocolError,
)
from tui.core.pm2 import Pm2Backend, Pm2Error
from tui.core.transport import Transport, TransportError

Listener = Callable[[], None]


class LogStore:
    """All lines of all hosts: ring buffer + classification + error rate + change listeners."""

    def __init__(
        self,
        capacity: int = 100_000,
        classifier: Classifier | None = None,
        *,
        history_minutes: int = 15,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.buffer = RingBuffer(capacity)
        self.classifier = classifier or Classifier()
        self.rates = ErrorRate(history_minutes)
        self.clock = clock
        self._listeners: list[Listener] = []

    @classmethod
    def from_config(cls, config: Any, clock: Callable[[], float] = time.time) -> LogStore:
        return cls(
            config.logs.buffer_lines,
            Classifier.from_config(config.logs),
            history_minutes=config.monitor.history_minutes,
            clock=clock,
        )

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def add_lines(
        self,
        host: str,
        process: str,
        stream: str,
        texts: list[str],
        ts: float | None = None,
        *,
        count_errors: bool = True,
    ) -> None:
        """One batch of lines of one file (classified and time-stamped here, on arrival).

        ``count_errors=False`` for backlog (the last lines shown on start): old errors must not
        look like a burst happening now."""
        if not texts:
            return
        now = self.clock() if ts is None else ts
        levels = self.classifier.levels(texts, stream)
        first = self.buffer.reserve(len(texts))
        count = len(texts)
        # All in C: zip builds the line tuples (see log_buffer on why plain tuples).
        fields = zip(
            range(first, first + count),
            repeat(now, count),
            repeat(host, count),
            repeat(process, count),
            repeat(stream, count),
            levels,
            texts,
            strict=True,
        )
        self.buffer.extend(list(fields))
        errors = levels.count(ERROR) if count_errors else 0
        if errors:
            self.rates.add(host, errors, now)
        self._changed()

    def add_mark(self, host: str, text: str, level: int = WARN, ts: float | None = None) -> None:
        """A line of shipdeck's own: a gap, a follower problem. Shown whatever the filter."""
        now = self.clock() if ts is None else ts
        seq = self.buffer.reserve(1)
        self.buffer.extend([(seq, now, host, "", MARK, level, text)])
        self._changed()

    def notify(self) -> None:
        """Tell the views something changed besides lines (e.g. a follower's state)."""
        self._changed()

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()


# --------------------------------------------------------------------------- following a host


@dataclass(frozen=True)
class LogSource:
    path: str
    process: str  # label, e.g. "demo/0"
    stream: str  # "out" | "err"


@dataclass
class _File:
    source: LogSource
    ino: str = ""  # "" = never opened
    offset: int = -1
    backlog_end: int = 0  # bytes before this were in the file when we first opened it
    cutter: LineCutter = field(default_factory=LineCutter)

    @property
    def label(self) -> str:
        name = PurePosixPath(self.source.path).name
        return f"{self.source.process} {self.source.stream} ({name})"


class FollowError(Exception):
    """The follower could not run (e.g. no node on the host); str() is one line."""


Discover = Callable[[], Awaitable[list[LogSource]]]

# After a failure, wait this long before trying again (the last value repeats).
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)


def hhmmss(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


class HostFollower:
    """Follows one host's log files over one channel, and keeps following across drops."""

    def __init__(
        self,
        transport: Transport,
        store: LogStore,
        discover: Discover,
        *,
        initial_lines: int = 200,
        node: str | Sequence[str] = "node",
        retry_delays: Iterable[float] = RETRY_DELAYS,
        rediscover_s: float = 60.0,
        silence_s: float = 30.0,
        max_line: int = MAX_LINE,
    ) -> None:
        self.transport = transport
        self.host = str(transport.host.name)
        self.store = store
        self.discover = discover
        self.initial_lines = initial_lines
        # Candidates, tried in turn while one is "not found" (exit 127): a node installed with
        # nvm is often not on a non-interactive SSH session's PATH, but sits next to pm2.
        self.nodes = (node,) if isinstance(node, str) else tuple(node) or ("node",)
        self.node = self.nodes[0]
        self.retry_delays = tuple(retry_delays) or (1.0,)
        self.rediscover_s = rediscover_s
        self.max_line = max_line
        # The program writes a heartbeat every 5 s: this much silence means the link is dead.
        self.silence_s = silence_s
        self.files: dict[str, _File] = {}
        self.state = "starting"  # starting | following | interrupted
        self.note = ""  # one-line reason while interrupted
        self._lost_at: float | None = None
        self._last_note = ""
        self._order: list[_File] = []

    async def run(self) -> None:
        """Follow until cancelled. Problems become marker lines, never exceptions."""
        failures = 0
        while True:
            try:
                sources = await self.discover()
                if not sources:
                    raise FollowError("no log files to follow (no matching processes)")
                await self._follow(sources)
                failures = 0
            except asyncio.CancelledError:
                raise
            except (TransportError, Pm2Error, FollowError, ProtocolError, OSError) as err:
                self._interrupted(str(err) or type(err).__name__)
                delay = self.retry_delays[min(failures, len(self.retry_delays) - 1)]
                failures += 1
                await asyncio.sleep(delay)

    # ------------------------------------------------------------------ one session

    def _spec(self, sources: list[LogSource]) -> str:
        order = []
        for src in sources:
            known = self.files.get(src.path)
            if known is None or known.source != src:
                known = self.files[src.path] = _File(src, cutter=LineCutter(self.max_line))
            order.append(known)
        self._order = order
        spec = [
            {"p": f.source.path, "i": f.ino or None, "o": f.offset, "n": self.initial_lines}
            for f in order
        ]
        return json.dumps(spec, separators=(",", ":"))

    async def _follow(self, sources: list[LogSource]) -> None:
        argv = [self.node, "-e", FOLLOW_JS, self._spec(sources)]
        parser = FrameParser()
        loop = asyncio.get_running_loop()
        next_discovery = loop.time() + self.rediscover_s
        discovery: asyncio.Task[list[LogSource]] | None = None
        stderr = bytearray()
        started = False
        stream = self.transport.stream_chunks(argv)
        try:
            async with asyncio.timeout_at(loop.time() + self.silence_s) as deadline:
                async for kind, chunk in stream:
                    deadline.reschedule(loop.time() + self.silence_s)
                    if kind == "stderr":
                        stderr += chunk
                        del stderr[:-2000]
                        continue
                    if not started:
                        started = True
                        self._resumed()
                    self._handle(parser.feed(chunk))
                    if discovery is None and loop.time() >= next_discovery:
                        discovery = asyncio.ensure_future(self.discover())
                    elif discovery is not None and discovery.done():
                        changed = self._changed(discovery, sources)
                        discovery, next_discovery = None, loop.time() + self.rediscover_s
                        if changed:
                            return  # restart with the new file set, from the same offsets
        except TimeoutError:
            raise FollowError(
                f"no data from the log follower for {self.silence_s:g}s; the link seems dead"
            ) from None
        finally:
            if discovery is not None:
                discovery.cancel()
            await stream.aclose()
        status = stream.exit_status
        why = bytes(stderr).decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        if status == 127:
            tried = self.node
            later = self.nodes[self.nodes.index(tried) + 1 :]
            if later:
                self.node = later[0]
                return  # try the next candidate right away
            self.node = self.nodes[0]
            names = " or ".join(repr(n) for n in self.nodes)
            raise FollowError(f"cannot follow logs: {names} not found on the host")
        raise FollowError(f"log follower ended (exit {status}) {why[0]}".strip())

    def _changed(self, discovery: asyncio.Task[list[LogSource]], sources: list[LogSource]) -> bool:
        if discovery.cancelled() or discovery.exception() is not None:
            return False  # keep following what we have; the next round will try again
        return sorted(discovery.result(), key=lambda s: s.path) != sorted(
            sources, key=lambda s: s.path
        )

    def _handle(self, items: list[Frame | tuple[int, bytes]]) -> None:
        order, store = self._order, self.store
        for item in items:
            if isinstance(item, tuple):
                idx, data = item
                f = order[idx]
                backlog = f.offset < f.backlog_end
                f.offset += len(data)
                lines = f.cutter.feed(data)
                if lines:
                    src = f.source
                    store.add_lines(
                        self.host, src.process, src.stream, lines, count_errors=not backlog
                    )
            else:
                self._frame(item)

    def _frame(self, frame: Frame) -> None:
        if frame.kind == "H" or frame.idx >= len(self._order):
            return
        f = self._order[frame.idx]
        if frame.kind == "O":
            ino, offset = frame.args[0], int(frame.args[1])
            if f.ino and ino != f.ino:
                self._flush(f)
                self._mark(f"{f.label}: file replaced (rotated); following the new one", INFO)
            elif len(frame.args) > 2:
                f.backlog_end = int(frame.args[2])  # first open: the tail shown is history
            f.ino, f.offset = ino, offset
        elif frame.kind == "T":
            self._flush(f)
            f.offset = 0
            self._mark(f"{f.label}: file truncated; following from its start", INFO)
        elif frame.kind == "G":
            self._flush(f)
            lost = hhmmss(self._lost_at) if self._lost_at else "the interruption"
            self._mark(
                f"{f.label}: file {frame.args[0] if frame.args else 'changed'} while the link was"
                f" down; lines written to it after {lost} may be missing",
                ERROR,
            )
        elif frame.kind == "M":
            why = frame.args[0] if frame.args else "missing"
            self._mark(f"{f.label}: cannot read {f.source.path} ({why}); waiting for it", WARN)

    def _flush(self, f: _File) -> None:
        rest = f.cutter.flush()
        if rest:
            self.store.add_lines(self.host, f.source.process, f.source.stream, rest)

    def _mark(self, text: str, level: int = WARN) -> None:
        self.store.add_mark(self.host, text, level)

    # ------------------------------------------------------------------ interruptions

    def _interrupted(self, why: str) -> None:
        now = self.store.clock()
        if self.state == "following":
            self._lost_at = now
        never_followed = self.state == "starting" or (
            self.state == "interrupted" and self._lost_at is None
        )
        self.state, self.note = "interrupted", why
        if why != self._last_note:
            self._last_note = why
            if never_followed:
                # Not a gap in the logs (there were none yet): the views show it as a state.
                self.store.notify()
            else:
                self._mark(f"log follow interrupted at {hhmmss(now)}: {why}; retrying", ERROR)

    def _resumed(self) -> None:
        if self._lost_at is not None:
            now = self.store.clock()
            gap = now - self._lost_at
            self._mark(
                f"── gap {hhmmss(self._lost_at)} → {hhmmss(now)} ({gap:.1f} s): log follow"
                " resumed from the byte offsets it had reached ──",
                WARN,
            )
        elif self._last_note:
            self._mark("log follow started", INFO)
        self._lost_at = None
        self._last_note = ""
        self.state, self.note = "following", ""


# --------------------------------------------------------------------------- pm2 + the hub


async def pm2_sources(backend: Pm2Backend, app_name: str) -> list[LogSource]:
    """The out/err log files of the app's pm2 processes (shared paths appear once)."""
    procs = sorted((p for p in await backend.jlist() if p.name == app_name), key=lambda p: p.pm_id)
    paths: dict[str, list[str]] = {}
    streams: dict[str, str] = {}
    for proc in procs:
        for path, stream in ((proc.out_log, "out"), (proc.err_log, "err")):
            if path and path != "/dev/null":
                paths.setdefault(path, []).append(f"{proc.name}/{proc.pm_id}")
                streams.setdefault(path, stream)
    return [
        LogSource(path, labels[0] if len(labels) == 1 else app_name, streams[path])
        for path, labels in paths.items()
    ]


class LogHub:
    """The store plus one follower per host; optionally marks error bursts in the journal."""

    def __init__(
        self,
        config: Any,
        transports: Iterable[Transport],
        *,
        journal: Any = None,
        store: LogStore | None = None,
        burst_per_minute: int | None = None,
    ) -> None:
        self.config = config
        self.store = store or LogStore.from_config(config)
        self.journal = journal
        logs = config.logs
        self.burst_per_minute = burst_per_minute or logs.burst_errors_per_minute
        self.running = False  # set by whoever runs run(), so a second view does not start it again
        self._bursting: set[str] = set()
        self._last_burst_check = 0.0
        app = config.app
        self.followers = {
            t.host.name: HostFollower(
                t,
                self.store,
                _pm2_discover(Pm2Backend(t, app.pm2_bin, app.pm2_home), app.name),
                initial_lines=logs.initial_lines,
                node=node_candidates(app.pm2_bin),
                rediscover_s=logs.rediscover_s,
                max_line=logs.max_line_kb * 1024,
            )
            for t in transports
        }
        if journal is not None:
            self.store.add_listener(self._check_bursts)

    async def run(self) -> None:
        if self.config.app.backend != "pm2":
            for host in self.followers:
                self.store.add_mark(host, "log follow for compose apps is not implemented yet")
            return
        await asyncio.gather(*(f.run() for f in self.followers.values()))

    def _check_bursts(self) -> None:
        # A burst marks the timeline once; it re-arms when the rate falls to half the threshold.
        now = self.store.clock()
        if now - self._last_burst_check < 1.0:
            return
        self._last_burst_check = now
        rates = self.store.rates
        for host in rates.hosts():
            rate = rates.per_minute(host, now)
            if rate >= self.burst_per_minute and host not in self._bursting:
                self._bursting.add(host)
                self.journal.record(
                    kind="alarm",
                    host=host,
                    step="logs",
                    message=f"error burst: {rate} error lines in the last minute",
                    data={"errors_per_minute": rate},
                )
            elif rate * 2 < self.burst_per_minute:
                self._bursting.discard(host)


def node_candidates(pm2_bin: str) -> tuple[str, ...]:
    """``node``, then the node next to an absolute pm2 path (nvm installs both in one bin/)."""
    if "/" in pm2_bin:
        sibling = str(PurePosixPath(pm2_bin).parent / "node")
        return ("node", sibling)
    return ("node",)


def _pm2_discover(backend: Pm2Backend, app_name: str) -> Discover:
    async def discover() -> list[LogSource]:
        return await pm2_sources(backend, app_name)

    return discover


__all__ = [
    "ERROR",
    "INFO",
    "MARK",
    "WARN",
    "FollowError",
    "HostFollower",
    "LogHub",
    "LogSource",
    "LogStore",
    "pm2_sources",
]
