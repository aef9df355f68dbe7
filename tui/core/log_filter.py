"""What a log line means and whether a view shows it: level classification, filters, error rate.

Classification runs on every line at ingest, so the common case (an INFO line on stdout) costs one
regex search: a combined pattern rules out all three levels at once.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from tui.core.log_buffer import (
    DEBUG,
    ERROR,
    HOST,
    INFO,
    LEVEL,
    MARK,
    PROCESS,
    STREAM,
    TEXT,
    WARN,
    Line,
)
from tui.core.log_format import LogFormat

LEVEL_WORDS = {"all": DEBUG, "debug": DEBUG, "info": INFO, "warn": WARN, "error": ERROR}


# A pattern that is only alternatives of plain words (like the defaults) can be pre-filtered
# with substring search, which is several times faster than a regex scan.
_LITERALS = re.compile(r"[A-Za-z0-9_ :=/-]+")


def _literals(pattern: str) -> list[str] | None:
    parts = pattern.split("|")
    return parts if all(_LITERALS.fullmatch(p) for p in parts) else None


class Classifier:
    """Level of a line from configurable patterns; stderr is an error unless a pattern says
    otherwise (a WARN or DEBUG line written to stderr keeps its level)."""

    def __init__(
        self,
        error_pattern: str = "ERROR|Error|error",
        warn_pattern: str = "WARN|Warn|warn",
        debug_pattern: str = "DEBUG|Debug",
        stderr_is_error: bool = True,
        log_format: LogFormat | None = None,
    ) -> None:
        # JSON lines (format auto/json) are judged by their level field and their message.
        self.format = log_format or LogFormat()
        self.error = re.compile(error_pattern)
        self.warn = re.compile(warn_pattern)
        self.debug = re.compile(debug_pattern)
        patterns = (error_pattern, warn_pattern, debug_pattern)
        self.any = re.compile("|".join(f"(?:{p})" for p in patterns), re.MULTILINE)
        words = [_literals(p) for p in patterns]
        # Lower-cased words: a superset filter (every hit is then checked exactly).
        self._words: tuple[str, ...] | None = None
        if all(w is not None for w in words):
            self._words = tuple(sorted({w.lower() for ws in words if ws for w in ws}))
        self.stderr_is_error = stderr_is_error

    @classmethod
    def from_config(cls, logs: Any) -> Classifier:
        return cls(
            logs.error_pattern, logs.warn_pattern, logs.debug_pattern, logs.stderr_is_error,
            LogFormat.from_config(logs),
        )

    @classmethod
    def of(cls, classifier_or_pattern: Classifier | str) -> Classifier:
        """A Classifier as given, or one for a bare error regex (a line on stderr then is an
        error only where the regex matches, as the regex alone judged it)."""
        if isinstance(classifier_or_pattern, Classifier):
            return classifier_or_pattern
        return cls(error_pattern=classifier_or_pattern, stderr_is_error=False)

    def level(self, text: str, stream: str = "out") -> int:
        default = ERROR if stream == "err" and self.stderr_is_error else INFO
        if text[:1] == "{" or text[:2].lstrip()[:1] == "{":
            record = self.format.parse(text)
            if record is not None:
                if record.level is not None:
                    return record.level
                text = record.message
        if self.error.search(text):
            return ERROR
        if self.warn.search(text):
            return WARN
        if self.debug.search(text):
            return DEBUG
        return default

    def levels(self, texts: list[str], stream: str) -> list[int]:
        """Levels of a batch. The hot path: most lines match nothing, so the whole batch is
        scanned once (joined) and only the lines with a hit are classified one by one."""
        default = ERROR if stream == "err" and self.stderr_is_error else INFO
        out = [default] * len(texts)
        if len(texts) < 4:
            return [self.level(t, stream) for t in texts]
        if self.format.format != "text":
            structured = [i for i, t in enumerate(texts) if t[:1] == "{"]
            if structured:
                # JSON lines are judged by their fields, not by words anywhere in them.
                for i in structured:
                    out[i] = self.level(texts[i], stream)
                rest = [i for i in range(len(texts)) if texts[i][:1] != "{"]
                for i, level in zip(rest, self.levels([texts[i] for i in rest], stream),
                                    strict=True):
                    out[i] = level
                return out
        blob = "\n".join(texts)
        starts: list[int] = []
        if self._words is not None:
            low = blob.lower()
            find = low.find
            for word in self._words:
                i = find(word)
                while i >= 0:
                    starts.append(i)
                    i = find(word, i + 1)
        else:
            starts = [m.start() for m in self.any.finditer(blob)]
        if not starts:
            return out
        ends = list(accumulate(len(t) + 1 for t in texts))
        level = self.level
        for index in {bisect_right(ends, start) for start in starts}:
            out[index] = level(texts[index], stream)
        return out


def parse_query(query: str) -> tuple[tuple[re.Pattern[str], ...], tuple[re.Pattern[str], ...]]:
    """``"timeout !health"`` -> includes (every one must match) and excludes (none may).

    Terms are separated by spaces; a term starting with ``!`` excludes. Raises ValueError with a
    one-line reason for a bad regex.
    """
    includes: list[re.Pattern[str]] = []
    excludes: list[re.Pattern[str]] = []
    for term in query.split():
        negate = term.startswith("!") and len(term) > 1
        source = term[1:] if negate else term
        try:
            pattern = re.compile(source)
        except re.error as err:
            raise ValueError(f"bad regex {source!r}: {err}") from None
        (excludes if negate else includes).append(pattern)
    return tuple(includes), tuple(excludes)


@dataclass(frozen=True)
class LogFilter:
    """Which lines a view shows. Marker lines pass level and text filters (they explain gaps)."""

    min_level: int = DEBUG
    hosts: frozenset[str] = frozenset()  # empty = every host
    processes: frozenset[str] = frozenset()  # empty = every process
    query: str = ""
    includes: tuple[re.Pattern[str], ...] = field(default=(), compare=False)
    excludes: tuple[re.Pattern[str], ...] = field(default=(), compare=False)

    @classmethod
    def make(
        cls,
        *,
        min_level: int = DEBUG,
        hosts: frozenset[str] | set[str] = frozenset(),
        processes: frozenset[str] | set[str] = frozenset(),
        query: str = "",
    ) -> LogFilter:
        includes, excludes = parse_query(query)
        return cls(min_level, frozenset(hosts), frozenset(processes), query, includes, excludes)

    def replace(self, **changes: Any) -> LogFilter:
        args = {
            "min_level": self.min_level,
            "hosts": self.hosts,
            "processes": self.processes,
            "query": self.query,
        }
        args.update(changes)
        return LogFilter.make(**args)

    @property
    def is_empty(self) -> bool:
        return (
            self.min_level <= DEBUG and not self.hosts and not self.processes and not self.query
        )

    def matches(self, line: Line) -> bool:
        if self.hosts and line[HOST] not in self.hosts:
            return False
        if line[STREAM] == MARK:
            return True
        if line[LEVEL] < self.min_level:
            return False
        if self.processes and line[PROCESS] not in self.processes:
            return False
        text = line[TEXT]
        for pattern in self.includes:
            if pattern.search(text) is None:
                return False
        return all(pattern.search(text) is None for pattern in self.excludes)

    def apply(self, lines: list[Line]) -> list[Line]:
        if self.is_empty:
            return lines
        matches = self.matches
        return [line for line in lines if matches(line)]

    def describe(self) -> str:
        parts = []
        if self.min_level >= ERROR:
            parts.append("errors only")
        elif self.min_level >= WARN:
            parts.append("warnings+")
        elif self.min_level >= INFO:
            parts.append("info+")
        if self.hosts:
            parts.append("host " + ",".join(sorted(self.hosts)))
        if self.processes:
            parts.append("process " + ",".join(sorted(self.processes)))
        if self.query:
            parts.append(repr(self.query))
        return " · ".join(parts)


class ErrorRate:
    """Error lines per host, counted per second, read as errors per minute.

    Keeps ``history_minutes`` of per-second counts, so the watch window and the timeline can ask
    for a rate now or per-minute totals for a chart.
    """

    def __init__(self, history_minutes: int = 15) -> None:
        self.horizon = max(1, history_minutes) * 60
        self._seconds: dict[str, deque[list[int]]] = {}  # host -> [[second, count], ...]
        self.totals: dict[str, int] = {}

    def add(self, host: str, count: int, now: float) -> None:
        if count <= 0:
            return
        second = int(now)
        buckets = self._seconds.get(host)
        if buckets is None:
            buckets = self._seconds[host] = deque()
        if buckets and buckets[-1][0] == second:
            buckets[-1][1] += count
        else:
            buckets.append([second, count])
        while buckets and buckets[0][0] <= second - self.horizon:
            buckets.popleft()
        self.totals[host] = self.totals.get(host, 0) + count

    def per_minute(self, host: str, now: float) -> int:
        """Errors on ``host`` in the 60 seconds up to ``now``."""
        second = int(now)
        total = 0
        for s, c in reversed(self._seconds.get(host, ())):
            if s <= second - 60:
                break
            if s <= second:
                total += c
        return total

    def hosts(self) -> list[str]:
        return sorted(self._seconds)

    def minutes(self, host: str, now: float, count: int = 15) -> list[int]:
        """Per-minute error totals for the last ``count`` whole minutes, oldest first (the last
        entry is the current, partial minute)."""
        current = int(now) // 60
        out = [0] * count
        for s, c in self._seconds.get(host, ()):
            index = count - 1 - (current - s // 60)
            if 0 <= index < count:
                out[index] += c
        return out
