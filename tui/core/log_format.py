"""Structured (JSON) log lines: level, message and time from pino, bunyan or winston output.

These loggers write one JSON object per line. Matching "error" against the raw line misses
pino's errors (a numeric level 50) and counts any line whose fields mention "error" (a path, a
field name), so a JSON line is judged by its level field and searched by its message alone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tui.core.log_buffer import DEBUG, ERROR, INFO, WARN

FORMATS = ("auto", "text", "json")

# Level words as winston (npm and syslog levels), bunyan and pino name them.
_WORDS = {
    "fatal": ERROR, "emerg": ERROR, "alert": ERROR, "crit": ERROR, "critical": ERROR,
    "error": ERROR, "err": ERROR,
    "warn": WARN, "warning": WARN,
    "notice": INFO, "info": INFO, "http": INFO, "information": INFO,
    "verbose": DEBUG, "debug": DEBUG, "silly": DEBUG, "trace": DEBUG,
}  # fmt: skip


def level_of(value: Any) -> int | None:
    """pino and bunyan number their levels (10 trace ... 50 error, 60 fatal); winston names
    them. None when the value says nothing known."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if value >= 50:
            return ERROR
        if value >= 40:
            return WARN
        if value >= 30:
            return INFO
        return DEBUG
    if isinstance(value, str):
        word = value.strip().lower()
        if word.isdigit():
            return level_of(int(word))
        return _WORDS.get(word)
    return None


def time_of(value: Any) -> float | None:
    """Epoch seconds from a number (pino: epoch ms) or an ISO 8601 string (winston, bunyan)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        # Epoch milliseconds are > 1e11 for any date after 1973; seconds are far below that.
        return float(value) / 1000.0 if value > 1e11 else float(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment.timestamp() if moment.tzinfo is not None else None
    return None


@dataclass(frozen=True, slots=True)
class Structured:
    """What a JSON log line says; ``level``/``ts`` are None when its fields do not say."""

    level: int | None
    message: str
    ts: float | None
    rest: str  # the other fields, folded as key=value

    def line(self) -> str:
        """One readable line: the message, then the other fields."""
        return f"{self.message}  {self.rest}" if self.rest else self.message


@dataclass(frozen=True)
class LogFormat:
    """``[logs] format``, ``level_key``, ``message_keys`` and ``time_keys``."""

    format: str = "auto"
    level_key: str = "level"
    message_keys: Sequence[str] = ("msg", "message")
    time_keys: Sequence[str] = ("time", "timestamp")

    @classmethod
    def from_config(cls, logs: Any) -> LogFormat:
        return cls(
            getattr(logs, "format", "auto"),
            getattr(logs, "level_key", "level"),
            tuple(getattr(logs, "message_keys", ("msg", "message"))),
            tuple(getattr(logs, "time_keys", ("time", "timestamp"))),
        )

    def parse(self, text: str) -> Structured | None:
        """The line as a structured record, or None when it is plain text (format "text", or
        not a JSON object)."""
        if self.format == "text":
            return None
        stripped = text.lstrip()
        if not stripped.startswith("{"):
            return None
        try:
            record = json.loads(stripped)
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        message, used = "", set()
        for key in self.message_keys:
            if key in record:
                message, used = _text(record[key]), {key}
                break
        ts = None
        for key in self.time_keys:
            if key in record:
                ts = time_of(record[key])
                used.add(key)
                break
        level = level_of(record.get(self.level_key)) if self.level_key in record else None
        used.add(self.level_key)
        rest = " ".join(f"{k}={_text(v)}" for k, v in record.items() if k not in used)
        return Structured(level, message, ts, rest)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
