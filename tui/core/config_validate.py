"""Validate a parsed TOML document against the models in config_models.

The walk never stops at the first problem: a bad value is reported and replaced
by its default (or a placeholder) so the rest of the file, and the checks across
sections, still run. The caller throws the best-effort Config away whenever any
problem was reported.
"""

import dataclasses
import difflib
import json
import math
import shlex
from pathlib import Path
from typing import Any

from tui.core.config_checks import ARRAY_CHECKS, CHECKS, cross_check
from tui.core.config_lines import KeyPath, line_of
from tui.core.config_models import Config, FrozenMap, Problem
from tui.core.config_schema import (
    BAD,
    EXPECTED,
    KEY_HOMES,
    TOP_LEVEL,
    Fields,
    describe,
    element_class,
    example_hint,
    header,
    is_secret,
    kind_of,
    show,
    toml_fields,
    toml_repr,
)


class Checker:
    def __init__(self, file: str, base_dir: Path, lines: dict[KeyPath, int]) -> None:
        self.file = file
        self.base_dir = base_dir
        self.lines = lines
        self.problems: list[Problem] = []
        self.bad: set[KeyPath] = set()
        self.given: set[KeyPath] = set()  # keys the file sets (for "required when" cross-checks)

    def report(self, path: KeyPath, message: str, hint: str) -> Any:
        self.bad.add(path)
        line = line_of(self.lines, path)
        self.problems.append(Problem(self.file, line, show(path), message, hint))
        return BAD

    # ---- the walk -------------------------------------------------------------

    def build(self, doc: dict[str, Any]) -> Config:
        cfg = self.table(Config, doc, ())
        cross_check(self, cfg)
        return cfg

    def table(self, cls: type, raw: Any, path: KeyPath, kind: str = "table") -> Any:
        if not isinstance(raw, dict):
            return self.report(
                path,
                f"expected a table, got {describe(raw)}",
                f"write it as a section: {header(path, kind)}",
            )
        fields = toml_fields(cls)
        for key, value in raw.items():
            if key not in fields:
                self.unknown(key, value, fields, path, kind)
        kwargs: dict[str, Any] = {}
        for name, f in fields.items():
            sub = (*path, name)
            value = BAD
            if name in raw:
                self.given.add(sub)
                value = self.value(f, raw[name], sub)
            elif f.metadata.get("required") and not _excused(f, raw):
                self.missing(f, sub, path, kind)
            elif f.metadata.get("required"):
                value = ""
            if value is not BAD:
                kwargs[name] = value
            elif f.metadata.get("required"):
                kwargs[name] = "" if f.type is str else None  # placeholder, never returned
        return cls(**kwargs)

    def unknown(self, key: str, value: Any, fields: Fields, path: KeyPath, kind: str) -> None:
        sub = (*path, key)
        is_section = isinstance(value, dict) or (
            isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)
        )
        what = "unknown section" if is_section else "unknown key"
        close = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.6)
        top = TOP_LEVEL.get(key)
        if close:
            near_kind = kind_of(fields[close[0]])
            if near_kind in ("table", "tables", "map"):
                hint = f"did you mean {header((*path, close[0]), near_kind)}?"
            else:
                hint = f'did you mean "{close[0]}"?'
        elif top is not None and isinstance(value, dict):
            hint = f"did you mean {header((key,), top)}?"
        elif top is not None:
            hint = f'"{key}" is a top-level key: move it above {header(path, kind)}'
        elif key in KEY_HOMES:
            hint = f'"{key}" is a key of ' + ", ".join(KEY_HOMES[key])
        else:
            hint = "known keys: " + ", ".join(fields)
        self.report(sub, what, hint)

    def missing(self, f: dataclasses.Field[Any], sub: KeyPath, path: KeyPath, kind: str) -> None:
        sub_kind = kind_of(f)
        if sub_kind in ("table", "tables"):
            required = [
                n for n, g in toml_fields(element_class(f)).items() if g.metadata.get("required")
            ]
            need = " and ".join(required)
            if sub_kind == "tables":
                self.report(
                    sub,
                    f"no {f.name} defined",
                    f"add at least one {header(sub, sub_kind)} table with {need}",
                )
            else:
                self.report(
                    sub,
                    "missing required section",
                    f"add a section {header(sub, sub_kind)} with {need}",
                )
            return
        where = f"under {header(path, kind)}" if path else "at the top"
        self.report(
            sub,
            "missing required key",
            f"add {f.name} = {toml_repr(f.metadata['example'])} {where}",
        )

    def value(self, f: dataclasses.Field[Any], raw: Any, path: KeyPath) -> Any:
        kind = kind_of(f)
        if kind == "table":
            return self.table(f.type, raw, path)  # type: ignore[arg-type]
        if kind == "tables":
            return self.tables(f, raw, path)
        if kind == "map":
            return (
                self.scalar_map(f, raw, path)
                if f.metadata.get("scalars")
                else self.keymap(raw, path)
            )
        if kind == "command":
            return self.command(f, raw, path)
        if kind in ("strs", "ints"):
            if not isinstance(raw, list):
                return self.report(
                    path, f"expected an array, got {describe(raw, is_secret(f))}", example_hint(f)
                )
            items = [self.scalar(f, kind[:-1], item, (*path, i)) for i, item in enumerate(raw)]
            if any(item is BAD for item in items):
                return BAD
            return self.array_checks(f, tuple(items), path)
        return self.scalar(f, kind, raw, path)

    def scalar(self, f: dataclasses.Field[Any], kind: str, raw: Any, path: KeyPath) -> Any:
        ok = {
            "str": isinstance(raw, str),
            "bool": isinstance(raw, bool),
            # bool is a subclass of int: `port = true` must not pass as 1
            "int": isinstance(raw, int) and not isinstance(raw, bool),
            "float": isinstance(raw, int | float) and not isinstance(raw, bool),
        }[kind]
        if not ok:
            return self.report(
                path,
                f"expected {EXPECTED[kind]}, got {describe(raw, is_secret(f))}",
                example_hint(f),
            )
        if kind == "float" and not math.isfinite(raw):
            return self.report(path, f"expected a finite number, got {raw}", example_hint(f))
        if not self.bounds_ok(f, raw, path):
            return BAD
        choices = f.metadata.get("choices")
        if choices is not None and raw not in choices:
            return self.report(
                path,
                f"{toml_repr(raw)} is not allowed",
                "one of: " + ", ".join(toml_repr(c) for c in choices),
            )
        value = float(raw) if kind == "float" else raw
        for check in f.metadata.get("checks", ()):
            if check in ARRAY_CHECKS:
                continue
            value = CHECKS[check](self, f, value, path)
            if value is BAD:
                return BAD
        return value

    def bounds_ok(self, f: dataclasses.Field[Any], value: float, path: KeyPath) -> bool:
        ge, gt, le = f.metadata.get("ge"), f.metadata.get("gt"), f.metadata.get("le")
        if ge is not None and le is not None:
            if not ge <= value <= le:
                hint = f.metadata.get("range", f"{ge}..{le}")
                self.report(path, f"{value} is out of range", hint)
                return False
            return True
        if ge is not None and not value >= ge:
            self.report(path, f"{value} is too small", f"at least {ge}")
            return False
        if gt is not None and not value > gt:
            self.report(path, f"{value} is too small", f"more than {gt}")
            return False
        return True

    def array_checks(self, f: dataclasses.Field[Any], value: tuple[Any, ...], path: KeyPath) -> Any:
        for check in f.metadata.get("checks", ()):
            if check in ARRAY_CHECKS:
                value = ARRAY_CHECKS[check](self, f, value, path)
                if value is BAD:
                    return BAD
        return value

    def tables(self, f: dataclasses.Field[Any], raw: Any, path: KeyPath) -> Any:
        if not isinstance(raw, list):
            return self.report(
                path,
                f"expected an array of tables, got {describe(raw)}",
                f"write each entry as a {header(path, 'tables')} table",
            )
        cls = element_class(f)
        items = [self.table(cls, item, (*path, i), "tables") for i, item in enumerate(raw)]
        return tuple(None if item is BAD else item for item in items)

    def command(self, f: dataclasses.Field[Any], raw: Any, path: KeyPath) -> Any:
        if isinstance(raw, str):
            try:
                return tuple(shlex.split(raw))
            except ValueError as e:
                return self.report(
                    path,
                    f"cannot split the command: {e}",
                    f"close the quote, or write an array of strings, {example_hint(f)}",
                )
        if isinstance(raw, list):
            bad = False
            for i, item in enumerate(raw):
                if not isinstance(item, str):
                    self.report(
                        (*path, i), f"expected a string, got {describe(item)}", example_hint(f)
                    )
                    bad = True
            return BAD if bad else tuple(raw)
        return self.report(
            path, f"expected a string or an array of strings, got {describe(raw)}", example_hint(f)
        )

    def keymap(self, raw: Any, path: KeyPath) -> Any:
        if not isinstance(raw, dict):
            return self.report(
                path, f"expected a table, got {describe(raw)}", "write it as a section: [keymap]"
            )
        good: dict[str, str] = {}
        for action, key in raw.items():
            sub = (*path, action)
            if not isinstance(key, str):
                self.report(
                    sub,
                    f"expected a string, got {describe(key)}",
                    f'a key name, e.g. {action} = "ctrl+d"',
                )
            elif not key.strip():
                self.report(sub, "empty key name", f'a key name, e.g. {action} = "ctrl+d"')
            else:
                good[action] = key
        return FrozenMap(good)

    def scalar_map(self, f: dataclasses.Field[Any], raw: Any, path: KeyPath) -> Any:
        """A table of name = string | boolean | number, kept as text (true, 3, 0.5) so it
        compares with values read elsewhere; nested tables become dotted names."""
        if not isinstance(raw, dict):
            return self.report(
                path, f"expected a table, got {describe(raw)}",
                f"write it as a section: {header(path, 'table')}",
            )  # fmt: skip
        good: dict[str, str] = {}

        def walk(table: dict[str, Any], sub: KeyPath) -> None:
            for name, value in table.items():
                at = (*sub, name)
                dotted = ".".join(str(p) for p in at[len(path) :])
                if isinstance(value, dict):
                    walk(value, at)
                elif isinstance(value, str):
                    good[dotted] = value
                elif isinstance(value, bool | int) or (
                    isinstance(value, float) and math.isfinite(value)
                ):
                    good[dotted] = json.dumps(value)  # as JSON writes it: true, 3, 0.5
                else:
                    sample = f.metadata.get("example", {}) or {"name": "value"}
                    key, val = next(iter(sample.items()))
                    self.report(
                        at, f"expected a string, true/false or a finite number, got "
                        f"{describe(value)}",
                        f"e.g. {key} = {toml_repr(val)}",
                    )  # fmt: skip

        walk(raw, path)
        return FrozenMap(good)


def _excused(f: dataclasses.Field[Any], raw: dict[str, Any]) -> bool:
    cond = f.metadata.get("optional_if")
    return cond is not None and raw.get(cond[0]) == cond[1]
