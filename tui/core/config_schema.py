"""Reading the schema (the fields of config_models) and wording problems about it.

kind_of() tells the shape of a field, show()/header() name keys and tables the
way the TOML file spells them, describe()/example_hint() word what is wrong and
what would be right.
"""

import dataclasses
import json
from collections.abc import Mapping
from typing import Any, get_args, get_origin

from tui.core.config_lines import KeyPath
from tui.core.config_models import Config

Fields = dict[str, dataclasses.Field[Any]]
BAD: Any = object()  # "this value was reported; don't use it"

EXPECTED = {
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


def is_secret(f: dataclasses.Field[Any]) -> bool:
    return bool(f.metadata.get("secret"))


def example_hint(f: dataclasses.Field[Any]) -> str:
    """'e.g. port = 22': the field's example, else its default, else a sample of its shape."""
    sample = f.metadata.get("example", f.default)
    if sample in ((), "", dataclasses.MISSING):
        sample = {"command": ("npm", "run", "migrate"), "strs": ("...",)}.get(kind_of(f), "...")
    return f"e.g. {f.name} = {toml_repr(sample)}"
