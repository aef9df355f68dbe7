"""One-line texts for the operator: an error or a command's output cut down to one line.

The journal, the console and the headless printer show these as they are, so they never hold a
newline and never come out empty.
"""

from __future__ import annotations

import re

from tui.core.transport_errors import Result
from tui.core.transport_errors import one_line as _collapse

__all__ = ["last_line", "one_line", "telling_line"]


def one_line(value: object) -> str:
    """``value`` with its whitespace (newlines too) collapsed; an exception without a message
    gives its type's name instead of nothing."""
    text = _collapse(value)
    if not text and isinstance(value, BaseException):
        return type(value).__name__
    return text


def last_line(result: Result, *, empty: str = "no output", limit: int | None = 200) -> str:
    """Why a command failed, as one line cut to ``limit`` characters: the most telling line of
    its output (``telling_line``), else the last non-blank one; ``empty`` when it wrote
    nothing. (The name is the older one: callers say "its last line" for "its one line".)"""
    line = telling_line(result.stderr + "\n" + result.stdout, fallback=False)
    line = line or telling_line(result.stderr) or telling_line(result.stdout)
    if not line:
        return empty
    line = _collapse(line)
    return line if limit is None else line[:limit]


# npm ends every failure with where its log is; nothing after that line says why.
_NPM_TRAILER = re.compile(r"A complete log of this run can be found in|Log files were not written")
_NPM = re.compile(r"^\s*npm (?:error|ERR!)\s?(.*)$")
# npm's lines that only describe the failed command, not the failure.
_NPM_META = re.compile(r"^(?:code|errno|syscall|path|command|signal|workspace|location)\b|^$")
# A thrown JavaScript error (`Error: ...`, `TypeError [ERR_X]: ...`), git's `fatal:`, `error:`.
_ERROR = re.compile(r"^\s*(?:Uncaught )?(?:[A-Z]\w*)?Error(?: \[[A-Z_0-9]+\])?: \S"
                    r"|^\s*(?:fatal|error|ERROR|Error): \S")
_NOISE = re.compile(r"^\s*(?:Node\.js v\d|at \S|\^+\s*$)")


def telling_line(text: str, *, fallback: bool = True) -> str:
    """The line of a command's output that says best why it failed ("" when there is none):
    the first thrown error (`Error: ...`) or `fatal:` / `error:` line; else npm's first
    `npm error` / `npm ERR!` line that is not about the command itself; else the last non-blank
    line before npm's log-file trailer (never Node's version banner or a stack frame), unless
    ``fallback`` is False."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    for i, line in enumerate(lines):
        if _NPM_TRAILER.search(line):
            lines = lines[:i]
            break
    for line in lines:
        if _ERROR.search(line):
            return line.strip()
    for line in lines:
        npm = _NPM.match(line)
        if npm and not _NPM_META.search(npm.group(1).strip()):
            return line.strip()
    if not fallback:
        return ""
    plain = [ln for ln in lines if not _NOISE.search(ln) and not _NPM.match(ln)]
    return (plain or lines or [""])[-1].strip()
