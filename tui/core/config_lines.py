"""Find the source line of each key in a TOML text that tomllib already accepted.

tomllib returns plain dicts without positions, so problems would have no line
numbers. This scanner walks the text once and maps key paths to lines, e.g.
("hosts", 1, "port") -> 14 for `port = ...` in the second [[hosts]] block
(indices are 0-based here; messages show them 1-based). It only has to be right
for valid TOML, but it must never raise: on anything odd it records less.
"""

import json
import re

KeyPath = tuple[str | int, ...]

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def key_lines(text: str) -> dict[KeyPath, int]:
    try:
        return _Scanner(text).scan()
    except (IndexError, ValueError):
        return {}


def line_of(lines: dict[KeyPath, int], path: KeyPath) -> int:
    """Line of `path`, else of its nearest recorded ancestor, else 1."""
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.line = 1
        self.lines: dict[KeyPath, int] = {}
        self.table: KeyPath = ()
        # current index of each array of tables, by its resolved path
        self.aot: dict[KeyPath, int] = {}

    def scan(self) -> dict[KeyPath, int]:
        text = self.text
        while self.i < len(text):
            c = text[self.i]
            if c == "\n":
                self.line += 1
                self.i += 1
            elif c in " \t\r":
                self.i += 1
            elif c == "#":
                self._skip_to_eol()
            elif c == "[":
                self._header()
            else:
                self._key_value()
        return self.lines

    def _skip_to_eol(self) -> None:
        end = self.text.find("\n", self.i)
        self.i = len(self.text) if end < 0 else end

    def _resolve(self, names: list[str]) -> KeyPath:
        out: list[str | int] = []
        for name in names:
            out.append(name)
            index = self.aot.get(tuple(out))
            if index is not None:
                out.append(index)
        return tuple(out)

    def _header(self) -> None:
        double = self.text.startswith("[[", self.i)
        self.i += 2 if double else 1
        names = self._key()
        if not names:
            self._skip_to_eol()
            return
        if double:
            parent = (*self._resolve(names[:-1]), names[-1])
            index = self.aot.get(parent, -1) + 1
            self.aot[parent] = index
            self.table = (*parent, index)
            self.lines.setdefault(parent, self.line)
        else:
            self.table = self._resolve(names)
        self.lines.setdefault(self.table, self.line)
        self._skip_to_eol()

    def _key_value(self) -> None:
        names = self._key()
        if not names or self.i >= len(self.text) or self.text[self.i] != "=":
            self._skip_to_eol()
            return
        for end in range(1, len(names) + 1):
            self.lines.setdefault((*self.table, *names[:end]), self.line)
        self.i += 1
        self._skip_value()

    def _key(self) -> list[str]:
        """Parse a dotted key at self.i; stops at '=', ']' or anything else."""
        text = self.text
        names: list[str] = []
        while True:
            self._skip_blanks()
            if self.i >= len(text):
                return names
            c = text[self.i]
            if c == '"':
                end = self._string_end(self.i + 1, '"', escapes=True)
                names.append(_unescape(text[self.i + 1 : end - 1]))
                self.i = end
            elif c == "'":
                end = self._string_end(self.i + 1, "'", escapes=False)
                names.append(text[self.i + 1 : end - 1])
                self.i = end
            else:
                m = _BARE.match(text, self.i)
                if not m:
                    return names
                names.append(m.group())
                self.i = m.end()
            self._skip_blanks()
            if self.i < len(text) and text[self.i] == ".":
                self.i += 1
                continue
            return names

    def _skip_blanks(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in " \t":
            self.i += 1

    def _string_end(self, start: int, quote: str, *, escapes: bool) -> int:
        """Index just past the closing quote of a one-line string body from `start`."""
        text = self.text
        j = start
        while j < len(text) and text[j] != "\n":
            if escapes and text[j] == "\\":
                j += 2
                continue
            if text[j] == quote:
                return j + 1
            j += 1
        return j

    def _skip_value(self) -> None:
        """Skip a value, across lines while inside [ ] / { } or multi-line strings."""
        text = self.text
        depth = 0
        while self.i < len(text):
            c = text[self.i]
            if c == "\n":
                if depth == 0:
                    return
                self.line += 1
                self.i += 1
            elif text.startswith('"""', self.i) or text.startswith("'''", self.i):
                self._skip_multiline(text[self.i])
            elif c in "\"'":
                self.i = self._string_end(self.i + 1, c, escapes=c == '"')
            elif c in "[{":
                depth += 1
                self.i += 1
            elif c in "]}":
                depth -= 1
                self.i += 1
            elif c == "#":
                self._skip_to_eol()
            else:
                self.i += 1

    def _skip_multiline(self, quote: str) -> None:
        text = self.text
        delim = quote * 3
        j = self.i + 3
        while j < len(text):
            if quote == '"' and text[j] == "\\":
                if text[j + 1 : j + 2] == "\n":
                    self.line += 1
                j += 2
                continue
            if text.startswith(delim, j):
                j += 3
                # up to two quotes may sit right before the closing delimiter
                while j < len(text) and text[j] == quote:
                    j += 1
                break
            if text[j] == "\n":
                self.line += 1
            j += 1
        self.i = j


def _unescape(body: str) -> str:
    # TOML basic-string escapes are JSON's plus \UXXXXXXXX; good enough for key names
    try:
        return json.loads(f'"{body}"')
    except ValueError:
        return body
