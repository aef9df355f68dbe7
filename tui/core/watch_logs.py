"""Reads what the app's log files grew by between two calls, by byte offset: the new complete
lines of each file, how many of them are errors, and the host's clock.

Rule: one command per call reads every file, and only the bytes that grew since the last call
cross the link (capped per file: past the cap the count is a lower bound). A line is an error
when the Classifier says its level is ERROR or worse (``[logs]``: a JSON line by its level
field, pino's 50 included; a text line by ``error_pattern``; a line on stderr by
``stderr_is_error``), the same judgement as the log pane's.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, timezone

from tui.core.log_buffer import ERROR
from tui.core.log_filter import Classifier
from tui.core.transport import Transport, TransportError
from tui.core.watch_rules import parse_offset

__all__ = ["COMMAND_TIMEOUT_S", "LogErrorCounter", "LogGrowth"]

COMMAND_TIMEOUT_S = 20.0  # for each command the watch and its baseline run on the host


@dataclass
class _Offset:
    offset: int = -1  # -1 = not yet measured: the first read only notes the size
    pending: str = ""  # a line the app had not finished writing


@dataclass(frozen=True)
class LogGrowth:
    """What one read found: new complete lines per file (in file order), error lines among them,
    and the host's clock when it read (epoch seconds and UTC offset; None when unknown)."""

    errors: int
    lines: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    host_now: float | None = None
    host_tz: timezone = UTC
    truncated: bool = False  # a file grew past the cap: only its tail was read


# The host's clock and UTC offset; then for each "path offset" pair: the file's size now, then
# its bytes from offset to that size (the last CAP bytes if more grew; from 0 if the file
# shrank: rotated or truncated).
_GROWTH_SH = r"""
cap=$1; tag=$2; shift 2
printf '%s-clock %s\n' "$tag" "$(date '+%s %z')"
while [ "$#" -ge 2 ]; do
  f=$1; o=$2; shift 2
  s=$(stat -c %s -- "$f" 2>/dev/null) || s=-1
  printf '%s %s %s\n' "$tag" "$s" "$f"
  [ "$s" -ge 0 ] && [ "$o" -ge 0 ] || continue
  [ "$s" -ge "$o" ] || o=0
  n=$((s - o))
  if [ "$n" -gt "$cap" ]; then tail -c "$cap" -- "$f" | head -c "$cap"
  elif [ "$n" -gt 0 ]; then tail -c +$((o + 1)) -- "$f" | head -c "$n"
  fi
  printf '\n'
done
"""


class LogErrorCounter:
    """Reads the app's log files' new lines between calls, by byte offset, and counts the error
    lines among them.

    One command per call for all files; only the new bytes travel (capped per file). Used for
    the watch's error counts and its log-drift lines. ``streams``: path -> "out" | "err" (pm2's
    out and error logs; a path not in it is "out").
    """

    def __init__(
        self,
        transport: Transport,
        classifier: Classifier | str,
        *,
        streams: Mapping[str, str] | None = None,
        cap_bytes: int = 512 * 1024,
    ) -> None:
        self.transport = transport
        self.classifier = Classifier.of(classifier)
        self.streams: dict[str, str] = dict(streams or {})
        self.cap_bytes = cap_bytes
        self.files: dict[str, _Offset] = {}
        self.truncated = False  # the last call read only the tail of a burst: a lower bound

    async def count(self, paths: Sequence[str]) -> int | None:
        """Error lines written since the previous call (0 on the first call for a file: it
        only notes where the file ends). None when the files could not be read."""
        growth = await self.read(paths)
        return None if growth is None else growth.errors

    async def read(self, paths: Sequence[str]) -> LogGrowth | None:
        """The lines written since the previous call and the error count among them (nothing on
        the first call for a file: it only notes where the file ends). None when the files
        could not be read."""
        if not paths:
            return None
        for p in paths:
            self.files.setdefault(p, _Offset())
        tag = "@@shipdeck-" + secrets.token_hex(6)
        argv = ["sh", "-c", _GROWTH_SH, "sh", str(self.cap_bytes), tag]
        for p in paths:
            argv += [p, str(self.files[p].offset)]
        try:
            result = await self.transport.run(argv, timeout=COMMAND_TIMEOUT_S)
        except TransportError:
            return None
        if not result.ok:
            return None
        return self._parse(result.stdout, tag)

    def _parse(self, out: str, tag: str) -> LogGrowth:
        self.truncated = False
        host_now, host_tz = _clock(out, tag)
        chunks = re.split(rf"(?m)^{re.escape(tag)} (-?\d+) (.*)\n", out)
        # chunks: [before, size, path, body, size, path, body, ...]
        errors = 0
        lines: dict[str, tuple[str, ...]] = {}
        for i in range(1, len(chunks) - 2, 3):
            size, path, body = int(chunks[i]), chunks[i + 1], chunks[i + 2]
            state = self.files.setdefault(path, _Offset())
            body = body[:-1] if body.endswith("\n") else body  # the separator printf
            if size < 0:
                continue
            if state.offset < 0:
                state.offset = size
                continue
            grown = size - state.offset if size >= state.offset else size
            if grown > self.cap_bytes:
                self.truncated = True
                body = body.split("\n", 1)[1] if "\n" in body else ""  # first line is cut
                state.pending = ""
            text = state.pending + body
            complete, _, state.pending = text.rpartition("\n")
            state.offset = size
            if complete:
                new = complete.split("\n")
                lines[path] = tuple(new)
                stream = self.streams.get(path, "out")
                errors += sum(1 for lv in self.classifier.levels(new, stream) if lv >= ERROR)
        return LogGrowth(errors, lines, host_now, host_tz, self.truncated)


def _clock(out: str, tag: str) -> tuple[float | None, timezone]:
    m = re.search(rf"(?m)^{re.escape(tag)}-clock (\d+)(?: ([+-]\d{{4}}))?$", out)
    if m is None:
        return None, UTC
    return float(m.group(1)), (parse_offset(m.group(2) or "") or UTC)
