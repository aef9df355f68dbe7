"""The shell boundary: argv lists go in quoted, output bytes come back as lines.

``quote_command`` is the ONE place in shipdeck where ``shlex.quote`` is applied. Callers build
argument lists; a string from the config never reaches a remote shell unquoted.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_text(what: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a str, not {type(value).__name__}: {value!r}")
    if "\0" in value:
        raise ValueError(f"{what} contains a NUL byte, which no command line can carry: {value!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} is not valid UTF-8 text: {value!r}") from None
    return value


def check_argv(argv: Sequence[str]) -> tuple[str, ...]:
    """Validate an argument list and return it as a tuple (ValueError with a clear reason)."""
    if isinstance(argv, str | bytes):
        raise ValueError(f"argv must be a list of strings, not a single string: {argv!r}")
    items = tuple(argv)
    if not items:
        raise ValueError("argv is empty: there is no command to run")
    for i, item in enumerate(items):
        _check_text(f"argv[{i}]", item)
    if not items[0]:
        raise ValueError("argv[0] is empty: there is no command to run")
    if items[0].startswith("-"):
        # bash's `exec` would read it as an option; no program is named like that.
        raise ValueError(f"argv[0] must not start with '-': {items[0]!r}")
    return items


def check_env(env: Mapping[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (env or {}).items():
        if not isinstance(key, str) or not _ENV_NAME.fullmatch(key):
            raise ValueError(
                f"env name {key!r} is not a valid variable name ([A-Za-z_][A-Za-z0-9_]*)"
            )
        out[key] = _check_text(f"env[{key}]", value)
    return out


def quote_command(
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> str:
    """Build one POSIX shell command line that runs exactly ``argv``.

    ``cd -- DIR && K=V exec argv...``: ``exec`` replaces the shell so a signal sent over SSH
    reaches the command itself (a shell in between would die and orphan it). Assignments are
    written before ``exec`` so no ``env`` binary is needed and an argv[0] containing ``=`` can
    never be mistaken for one.
    """
    words = [shlex.quote(a) for a in check_argv(argv)]
    parts = [f"{k}={shlex.quote(v)}" for k, v in check_env(env).items()]
    line = " ".join([*parts, "exec", *words])
    if cwd is not None:
        _check_text("cwd", cwd)
        if not cwd:
            raise ValueError("cwd is empty")
        line = f"cd -- {shlex.quote(cwd)} && {line}"
    return line


class LineSplitter:
    """Turn a byte stream into text lines, keeping a partial line across chunks.

    Splitting happens on bytes (``\\n`` never occurs inside a UTF-8 sequence), then each batch is
    decoded once with ``errors="replace"``. A line longer than ``max_line`` bytes is cut into
    pieces rather than buffered without bound. A trailing ``\\r`` (CRLF output) is dropped.
    """

    def __init__(self, max_line: int = 1 << 20) -> None:
        self._buf = bytearray()
        self._max = max_line

    def feed(self, data: bytes) -> list[str]:
        buf = self._buf
        buf += data
        lines: list[str] = []
        end = buf.rfind(b"\n")
        if end >= 0:
            text = bytes(buf[:end]).decode("utf-8", errors="replace")
            del buf[: end + 1]
            lines = text.split("\n")
            if "\r" in text:
                lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
        while len(buf) > self._max:
            lines.append(bytes(buf[: self._max]).decode("utf-8", errors="replace"))
            del buf[: self._max]
        return lines

    def flush(self) -> list[str]:
        """The unterminated last line, if any (call once at end of stream)."""
        if not self._buf:
            return []
        text = bytes(self._buf).decode("utf-8", errors="replace")
        self._buf.clear()
        return [text[:-1] if text.endswith("\r") else text]
