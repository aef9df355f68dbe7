"""One-line texts for the operator: an error or a command's output cut down to one line.

The journal, the console and the headless printer show these as they are, so they never hold a
newline and never come out empty.
"""

from __future__ import annotations

from tui.core.transport_errors import Result
from tui.core.transport_errors import one_line as _collapse

__all__ = ["last_line", "one_line"]


def one_line(value: object) -> str:
    """``value`` with its whitespace (newlines too) collapsed; an exception without a message
    gives its type's name instead of nothing."""
    text = _collapse(value)
    if not text and isinstance(value, BaseException):
        return type(value).__name__
    return text


def last_line(result: Result, *, empty: str = "no output", limit: int | None = 200) -> str:
    """The last non-blank line a command wrote (stderr first, else stdout), as one line cut to
    ``limit`` characters; ``empty`` when it wrote nothing."""
    for text in (result.stderr, result.stdout):
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if lines:
            line = _collapse(lines[-1])
            return line if limit is None else line[:limit]
    return empty
