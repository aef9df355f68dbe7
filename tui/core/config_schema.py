"""Validate a parsed TOML document against the models in config_models.

The walk never stops at the first problem: a bad value is reported and replaced
by its default (or a placeholder) so the rest of the file, and the checks across
sections, still run. The caller throws the best-effort Config away whenever any
problem was reported.
"""

import dataclasses
import difflib
import itertools
import json
import math
import re
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, get_args, get_origin
from urllib.parse import urlsplit

from tui.core.config_lines import KeyPath, line_of
from tui.core.config_models import Config, Problem

Fields = dict[str, dataclasses.Field[Any]]
_BAD: Any = object()  # "this value was reported; don't use it"

_EXPECTED = {
    "str": "a string",
    "bool": "true or false",
    "int": "an integer",
    "float": "a number",
}


def kind_of(f: dataclasses.Field[Any]) -> str:
    """The shape of a field: str, bool, int, float, strs, ints, command, table, tables, map."""
    if f.metadata.get("command"):
        return "command"
    t = f.type
    if t in (str, bool, int, float):
        return t.__name__  # type: ignore[union-attr]
    if dataclasses.is_dataclass(t):
        return "table"
    origin = get_origin(t)
    if origin is tuple:
        elem = get_args(t)[0]
        return "tables" if dataclasses.is_dataclass(elem) else f"{elem.__name__}s"
    if origin is Mapping:
        return "map"
    raise TypeError(f"config field {f.name} has an unsupported type {t!r}")


def toml_fields(cls: type) -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(cls) if f.metadata.get("toml", True)}


def element_class(f: dataclasses.Field[Any]) -> type:
    return get_args(f.type)[0] if kind_of(f) == "tables" else f.type  # type: ignore[return-value]


def show(path: KeyPath) -> str:
    """("hosts", 1, "port") -> "hosts[2].port" (array indices shown 1-based)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += f".{part}" if out else part
    return out


def header(path: KeyPath, kind: str) -> str:
    """The TOML table header that holds `path`: [app], [[hosts]], [steps.build]."""
    names = ".".join(p for p in path if isinstance(p, str))
    return f"[[{names}]]" if kind == "tables" else f"[{names}]"


def toml_repr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(toml_repr(v) for v in value) + "]"
    return str(value)


def describe(value: Any, secret: bool = False) -> str:
    """How a wrong value reads in a message: 'a string "22"', 'a boolean true'."""
    if secret and isinstance(value, str | int | float):
        return "a string" if isinstance(value, str) else "a number"
    if isinstance(value, bool):
        return f"a boolean {toml_repr(value)}"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f"a string {json.dumps(text)}"
    if isinstance(value, int):
        return f"an integer {value}"
    if isinstance(value, float):
        return f"a float {value}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date/time"


def _key_homes(cls: type, path: KeyPath, kind: str, into: dict[str, list[str]]) -> None:
    for name, f in toml_fields(cls).items():
        if path:
            into.setdefault(name, []).append(header(path, kind))
        sub_kind = kind_of(f)
        if sub_kind in ("table", "tables"):
            _key_homes(element_class(f), (*path, name), sub_kind, into)


KEY_HOMES: dict[str, list[str]] = {}  # "port" -> ["[[hosts]]", "[database]"]
_key_homes(Config, (), "table", KEY_HOMES)
TOP_LEVEL = {name: kind_of(f) for name, f in toml_fields(Config).items()}  # "hosts" -> "tables"


class Checker:
    def __init__(self, file: str, base_dir: Path, lines: dict[KeyPath, int]) -> None:
        self.file = file
        self.base_dir = base_dir
        self.lines = lines
        self.problems: list[Problem] = []
        self.bad: set[KeyPath] = set()

    def report(self, path: KeyPath, message: str, hint: str) -> Any:
        self.bad.add(path)
        line = line_of(self.lines, path)
        self.problems.append(Problem(self.file, line, show(path), message, hint))
        return _BAD

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
            value = _BAD
            if name in raw:
                value = self.value(f, raw[name], sub)
            elif f.metadata.get("required") and not _excused(f, raw):
                self.missing(f, sub, path, kind)
            elif f.metadata.get("required"):
                value = ""
            if value is not _BAD:
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
            return self.keymap(raw, path)
        if kind == "command":
            return self.command(f, raw, path)
        if kind in ("strs", "ints"):
            if not isinstance(raw, list):
                return self.report(
                    path, f"expected an array, got {describe(raw, _secret(f))}", example_hint(f)
                )
            items = [self.scalar(f, kind[:-1], item, (*path, i)) for i, item in enumerate(raw)]
            if any(item is _BAD for item in items):
                return _BAD
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
                f"expected {_EXPECTED[kind]}, got {describe(raw, _secret(f))}",
                example_hint(f),
            )
        if kind == "float" and not math.isfinite(raw):
            return self.report(path, f"expected a finite number, got {raw}", example_hint(f))
        if not self.bounds_ok(f, raw, path):
            return _BAD
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
            if value is _BAD:
                return _BAD
        return value

    def bounds_ok(self, f: dataclasses.Field[Any], value: float, path: KeyPath) -> bool:
        ge, gt, le = f.metadata.get("ge"), f.metadata.get("gt"), f.metadata.get("le")
        if ge is not None and le is not None:
            if not ge <= value <= le:
                self.report(path, f"{value} is out of range", f"{ge}..{le}")
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
                if value is _BAD:
                    return _BAD
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
        return tuple(None if item is _BAD else item for item in items)

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
            return _BAD if bad else tuple(raw)
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
        return MappingProxyType(good)


def _secret(f: dataclasses.Field[Any]) -> bool:
    return bool(f.metadata.get("secret"))


def _excused(f: dataclasses.Field[Any], raw: dict[str, Any]) -> bool:
    cond = f.metadata.get("optional_if")
    return cond is not None and raw.get(cond[0]) == cond[1]


def example_hint(f: dataclasses.Field[Any]) -> str:
    """'e.g. port = 22': the field's example, else its default, else a sample of its shape."""
    sample = f.metadata.get("example", f.default)
    if sample in ((), "", dataclasses.MISSING):
        sample = {"command": ("npm", "run", "migrate"), "strs": ("...",)}.get(kind_of(f), "...")
    return f"e.g. {f.name} = {toml_repr(sample)}"


# ---- named checks (referenced from config_models metadata) -----------------------

Check = Callable[[Checker, dataclasses.Field[Any], Any, KeyPath], Any]
_NAME = re.compile(r"[A-Za-z0-9._-]+")
_HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def _check_name(c: Checker, f: dataclasses.Field[Any], v: str, path: KeyPath) -> Any:
    if not v:
        return c.report(path, "must not be empty", example_hint(f))
    if not _NAME.fullmatch(v):
        return c.report(
            path,
            f'{json.dumps(v)} has characters other than letters, digits, ".", "_" and "-"',
            example_hint(f),
        )
    return v


def _check_nonempty(c: Checker, f: dataclasses.Field[Any], v: str, path: KeyPath) -> Any:
    return v if v.strip() else c.report(path, "must not be empty", example_hint(f))


def _check_abs_path(c: Checker, f: dataclasses.Field[Any], v: str, path: KeyPath) -> Any:
    if v.startswith("/"):
        return v
    return c.report(
        path, f"must be an absolute path on the host, got {json.dumps(v)}", example_hint(f)
    )


def _check_abs_path_or_empty(c: Checker, f: dataclasses.Field[Any], v: str, path: KeyPath) -> Any:
    if v == "" or v.startswith("/"):
        return v
    return c.report(
        path,
        f"must be an absolute path on the host, got {json.dumps(v)}",
        'e.g. "/home/deploy/.pm2", or ""',
    )


def _check_local_file(c: Checker, f: dataclasses.Field[Any], v: str, path: KeyPath) -> Any:
    if v == "":
        return v
    try:
        p = Path(v).expanduser()
    except RuntimeError:  # "~" but no home directory known
        p = Path(v)
    p = c.base_dir / p  # an absolute p wins over base_dir
    hint = f"the path of an existing file; relative paths start at {c.base_dir}"
    try:
        if p.is_dir():
            return c.report(path, f"is a directory, not a file: {p}", hint)
        if not p.is_file():
            return c.report(path, f"file not found: {p}", hint)
    except OSError as e:
        return c.report(path, f"cannot check the file {p}: {e.strerror or e}", hint)
    return str(p)


def _check_url(c: Checker, f: dataclasses.Field[Any], v: str, path: KeyPath) -> Any:
    try:
        parts = urlsplit(v)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if ok:
        return v
    # webhook URLs carry tokens: never echo them, not even in a config error
    shown = "" if _secret(f) else f": {json.dumps(v)}"
    return c.report(path, f"not an http(s) URL{shown}", example_hint(f))


def _check_regex(c: Checker, f: dataclasses.Field[Any], v: str, path: KeyPath) -> Any:
    try:
        re.compile(v)
    except re.error as e:
        sample = f.metadata.get("example", f.default)
        sample = sample[0] if isinstance(sample, tuple) else sample
        hint = f"a Python regular expression, e.g. {json.dumps(sample)}"
        return c.report(path, f"invalid regular expression: {e}", hint)
    return v


def _check_hhmm(c: Checker, f: dataclasses.Field[Any], v: str, path: KeyPath) -> Any:
    if v == "" or _HHMM.fullmatch(v):
        return v
    return c.report(
        path,
        f"{json.dumps(v)} is not a time of day",
        'HH:MM on a 24-hour clock, e.g. "16:00", or ""',
    )


def _check_increasing(
    c: Checker, f: dataclasses.Field[Any], v: tuple[Any, ...], path: KeyPath
) -> Any:
    if not v:
        return c.report(path, "must not be empty", example_hint(f))
    if any(a >= b for a, b in itertools.pairwise(v)):
        return c.report(path, f"must increase step by step, got {toml_repr(v)}", example_hint(f))
    return v


CHECKS: dict[str, Check] = {
    "name": _check_name,
    "nonempty": _check_nonempty,
    "abs_path": _check_abs_path,
    "abs_path_or_empty": _check_abs_path_or_empty,
    "local_file": _check_local_file,
    "url": _check_url,
    "regex": _check_regex,
    "hhmm": _check_hhmm,
    "keys": lambda c, f, v, path: v,  # keymap values are checked in Checker.keymap
}
ARRAY_CHECKS: dict[str, Check] = {"increasing": _check_increasing}


# ---- checks across keys and sections ---------------------------------------------


def cross_check(c: Checker, cfg: Config) -> None:
    hosts = cfg.hosts if isinstance(cfg.hosts, tuple) else None
    if hosts == ():
        c.report(
            ("hosts",), "empty host list", "add at least one [[hosts]] table with name and address"
        )
    names: dict[str, int] = {}
    for i, host in enumerate(hosts or ()):
        if host is None or not host.name or ("hosts", i, "name") in c.bad:
            continue
        if host.name in names:
            first = names[host.name]
            c.report(
                ("hosts", i, "name"),
                f"duplicate host name {json.dumps(host.name)}",
                f"host names must be unique; hosts[{first + 1}] is already {json.dumps(host.name)}",
            )
        else:
            names[host.name] = i
    _check_database(c, cfg, hosts, names)
    _check_items(c, cfg)


def _check_database(c: Checker, cfg: Config, hosts: Any, names: dict[str, int]) -> None:
    db = cfg.database
    if db.enabled and not db.name and ("database", "name") not in c.bad:
        c.report(
            ("database", "name"),
            "required when database.enabled = true",
            'e.g. name = "shop_production"',
        )
    # only judge run_on when every host name is known; otherwise it would be a guess
    hosts_ok = (
        bool(hosts)
        and None not in hosts
        and not any(("hosts", i, "name") in c.bad for i in range(len(hosts)))
    )
    if db.run_on and hosts_ok and db.run_on not in names:
        known = ", ".join(json.dumps(n) for n in names)
        c.report(
            ("database", "run_on"),
            f"no host named {json.dumps(db.run_on)} in [[hosts]]",
            f'one of: {known}; or "" for the primary host',
        )


def _check_items(c: Checker, cfg: Config) -> None:
    items = cfg.checklist.items
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        if item is None:
            continue
        path = ("checklist", "items", i)
        if item.id and (*path, "id") not in c.bad:
            if item.id in seen:
                c.report(
                    (*path, "id"),
                    f"duplicate item id {json.dumps(item.id)}",
                    f"ids must be unique; checklist.items[{seen[item.id] + 1}] is already"
                    f" {json.dumps(item.id)}",
                )
            else:
                seen[item.id] = i
        if item.judge == "exit0" and not item.command and (*path, "command") not in c.bad:
            c.report(
                (*path, "command"),
                'judge = "exit0" needs a command',
                'e.g. command = ["npm", "test"], or judge = "manual"',
            )
