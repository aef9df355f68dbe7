"""Counts new error lines in an app's log files between two calls, by byte offset.

Rule: one command per call reads every file, and only the bytes that grew since the last call
cross the link (capped per file: past the cap the count is a lower bound).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from tui.core.transport import Transport, TransportError

__all__ = ["COMMAND_TIMEOUT_S", "LogErrorCounter"]

COMMAND_TIMEOUT_S = 20.0  # for each command the watch and its baseline run on the host


@dataclass
class _Offset:
    offset: int = -1  # -1 = not yet measured: the first read only notes the size
    pending: str = ""  # a line the app had not finished writing


# For each "path offset" pair: the file's size now, then its bytes from offset to that size
# (the last CAP bytes if more grew; from 0 if the file shrank: rotated or truncated).
_GROWTH_SH = r"""
cap=$1; tag=$2; shift 2
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
    """Counts new error lines in the app's log files between calls, by byte offset.

    One command per call for all files; only the new bytes travel (capped per file). Used for
    the error rate when the console's log follower is not there to give it.
    """

    def __init__(
        self,
        transport: Transport,
        pattern: str,
        *,
        cap_bytes: int = 512 * 1024,
    ) -> None:
        self.transport = transport
        self.regex = re.compile(pattern)
        self.cap_bytes = cap_bytes
        self.files: dict[str, _Offset] = {}
        self.truncated = False  # the last call read only the tail of a burst: a lower bound

    async def count(self, paths: Sequence[str]) -> int | None:
        """Error lines written since the previous call (0 on the first call for a file: it
        only notes where the file ends). None when the files could not be read."""
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

    def _parse(self, out: str, tag: str) -> int:
        errors = 0
        self.truncated = False
        chunks = re.split(rf"(?m)^{re.escape(tag)} (-?\d+) (.*)\n", out)
        # chunks: [before, size, path, body, size, path, body, ...]
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
                errors += sum(1 for line in complete.split("\n") if self.regex.search(line))
        return errors
