"""Log lines and the bounded ring buffer that holds them.

Every line gets a sequence number on arrival; the buffer keeps the newest ``capacity`` lines and
counts what it had to drop, so a view can always say "N lines dropped" instead of losing them
silently.

A stored line is a PLAIN tuple ``(seq, ts, host, process, stream, level, text)``, read with the
index constants below (or ``LogLine(*line)`` where names read better). Plain tuples are made in C
by ``zip`` and, unlike NamedTuple instances, the garbage collector stops tracking them: with
100,000 NamedTuples held, every full collection walked them all (60-80 ms event-loop stalls).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from itertools import islice
from typing import NamedTuple

# Levels, ordered so that "warnings and worse" is ``level >= WARN``.
DEBUG = 10
INFO = 20
WARN = 30
ERROR = 40
LEVEL_NAMES = {DEBUG: "DEBUG", INFO: "INFO", WARN: "WARN", ERROR: "ERROR"}

#: Stream of lines shipdeck writes itself (gap markers, follower problems): never filtered out
#: by level or text, because they explain what the other lines mean.
MARK = "mark"


SEQ, TS, HOST, PROCESS, STREAM, LEVEL, TEXT = range(7)
Line = tuple[int, float, str, str, str, int, str]


class LogLine(NamedTuple):
    """Named view of a stored line: ``LogLine(*line)``."""

    seq: int
    ts: float  # arrival time (epoch seconds)
    host: str
    process: str  # e.g. "demo/0"
    stream: str  # "out" | "err" | MARK
    level: int
    text: str


class RingBuffer:
    """The newest ``capacity`` lines, addressable by sequence number."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._lines: deque[Line] = deque(maxlen=capacity)
        self.next_seq = 1  # the seq the next line will get
        self.total = 0  # lines ever added

    def __len__(self) -> int:
        return len(self._lines)

    def __iter__(self) -> Iterator[Line]:
        return iter(self._lines)

    @property
    def dropped(self) -> int:
        """Lines pushed out of the buffer by newer ones."""
        return self.total - len(self._lines)

    @property
    def first_seq(self) -> int:
        """Seq of the oldest line still held (== next_seq when empty)."""
        return self._lines[0][SEQ] if self._lines else self.next_seq

    @property
    def last_seq(self) -> int:
        return self.next_seq - 1

    def extend(self, lines: list[Line]) -> None:
        """Append lines already numbered by :meth:`reserve` (in order)."""
        self._lines.extend(lines)
        self.total += len(lines)

    def reserve(self, count: int) -> int:
        """Reserve ``count`` sequence numbers; returns the first."""
        first = self.next_seq
        self.next_seq += count
        return first

    def since(self, seq: int) -> list[Line]:
        """Lines with a seq greater than ``seq`` that are still held, oldest first."""
        start = max(0, seq + 1 - self.first_seq)
        if start >= len(self._lines):
            return []
        if start == 0:
            return list(self._lines)
        # deque indexing is O(n) from the nearer end; islice from the right end is cheaper for
        # the usual case of "the last few thousand lines".
        tail = len(self._lines) - start
        if tail < start:
            out = list(islice(reversed(self._lines), tail))
            out.reverse()
            return out
        return list(islice(self._lines, start, None))

    def missed_since(self, seq: int) -> int:
        """How many lines after ``seq`` were dropped before a reader got to them."""
        return max(0, self.first_seq - seq - 1) if self.total else 0
