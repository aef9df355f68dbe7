"""Named checks of single values (referenced by name from config_models metadata)
and the checks that look across keys and sections."""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from tui.core.config_lines import KeyPath
from tui.core.config_models import Config
from tui.core.config_schema import example_hint, is_secret, toml_repr


class Reporter(Protocol):
    """What a check needs of the walk that calls it (config_validate's Checker): where relative
    paths start, the keys already reported or given, and a way to report one more. A protocol,
    so this module never imports the walk that imports it."""

    base_dir: Path
    bad: set[KeyPath]
    given: set[KeyPath]

    def report(self, path: KeyPath, message: str, hint: str) -> Any: ...


Check = Callable[[Reporter, dataclasses.Field[Any], Any, KeyPath], Any]
_NAME = re.compile(r"[A-Za-z0-9._-]+")
_HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def _check_name(c: Reporter, f: dataclasses.Field[Any], v: str, path: KeyPath) -> Any:
    if not v:
        return c.report(path, "must not be empty", example_hint(f))
    if not _NAME.fullmatch(v):
        return c.report(
            path,
            f'{json.dumps(v)} has characters other than letters, digits, ".", "_" and "-"',
            example_hint(f),
        )
    return v


def _check_nonempty(c: Reporter, f: dataclasses.Field[Any], v: str, path: KeyPath) -> Any:
    return v if v.strip() else c.report(path, "must not be empty", example_hint(f))


def _check_abs_path(c: Reporter, f: dataclasses.Field[Any], v: str, path: KeyPath) -> Any:
    if v.startswith("/"):
        return v
    return c.report(
        path, f"must be an absolute path on the host, got {json.dumps(v)}", example_hint(f)
    )


def _check_abs_path_or_empty(c: Reporter, f: dataclasses.Field[Any], v: str, path: KeyPath) -> Any:
    if v == "" or v.startswith("/"):
        return v
    return c.report(
        path,
        f"must be an absolute path on the host, got {json.dumps(v)}",
        'e.g. "/home/deploy/.pm2", or ""',
    )


def _check_local_file(c: Reporter, f: dataclasses.Field[Any], v: str, path: KeyPath) -> Any:
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


def _check_url(c: Reporter, f: dataclasses.Field[Any], v: str, path: KeyPath) -> Any:
    try:
        parts = urlsplit(v)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if ok:
        return v
    # webhook URLs carry tokens: never echo them, not even in a config error
    shown = "" if is_secret(f) else f": {json.dumps(v)}"
    return c.report(path, f"not an http(s) URL{shown}", example_hint(f))


def _check_path_or_url(c: Reporter, f: dataclasses.Field[Any], v: str, path: KeyPath) -> Any:
    """A path on the host, or an http(s) URL (anything with "://" must be one)."""
    if "://" not in v:
        return v
    return _check_url(c, f, v, path)


def _check_regex(c: Reporter, f: dataclasses.Field[Any], v: str, path: KeyPath) -> Any:
    try:
        re.compile(v)
    except re.error as e:
        sample = f.metadata.get("example", f.default)
        sample = sample[0] if isinstance(sample, tuple) else sample
        hint = f"a Python regular expression, e.g. {json.dumps(sample)}"
        return c.report(path, f"invalid regular expression: {e}", hint)
    return v


def _check_hhmm(c: Reporter, f: dataclasses.Field[Any], v: str, path: KeyPath) -> Any:
    if v == "" or _HHMM.fullmatch(v):
        return v
    return c.report(
        path,
        f"{json.dumps(v)} is not a time of day",
        'HH:MM on a 24-hour clock, e.g. "16:00", or ""',
    )


def _check_increasing(
    c: Reporter, f: dataclasses.Field[Any], v: tuple[Any, ...], path: KeyPath
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
    "path_or_url": _check_path_or_url,
    "regex": _check_regex,
    "hhmm": _check_hhmm,
}
def _check_steps_to_100(
    c: Reporter, f: dataclasses.Field[Any], v: tuple[Any, ...], path: KeyPath
) -> Any:
    # A canary that never reaches 100% never finishes: the last step is the full switch.
    if v and v[-1] != 100:
        return c.report(path, f"must end at 100, got {toml_repr(v)}", example_hint(f))
    return v


ARRAY_CHECKS: dict[str, Check] = {
    "increasing": _check_increasing,
    "ends_at_100": _check_steps_to_100,
}


# ---- checks across keys and sections ---------------------------------------------


def cross_check(c: Reporter, cfg: Config) -> None:
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
    _check_flags(c, cfg)


def _check_database(c: Reporter, cfg: Config, hosts: Any, names: dict[str, int]) -> None:
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


def _check_flags(c: Reporter, cfg: Config) -> None:
    """The feature-flags item needs both where to read the flags and what they should be."""
    cl = cfg.checklist
    source, flags = ("checklist", "feature_flags_source"), ("checklist", "feature_flags")
    if source in c.bad or any(bad[:2] == flags for bad in c.bad):
        return
    if cl.feature_flags and not cl.feature_flags_source:
        c.report(
            source,
            "required when [checklist.feature_flags] lists flags",
            "a file on the host (relative to the release directory) or a URL, e.g. "
            'feature_flags_source = "config/flags.json"',
        )
    elif cl.feature_flags_source and not cl.feature_flags:
        c.report(
            source,
            "set, but no flags to compare",
            'add [checklist.feature_flags] with name = "expected", e.g. new_checkout = "true"',
        )


def _check_items(c: Reporter, cfg: Config) -> None:
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
        if (*path, "judge") not in c.bad:
            _check_judge(c, item, path)


_BUDGET_EXAMPLE = json.dumps(r"(\d+) warnings")


def _check_judge(c: Reporter, item: Any, path: KeyPath) -> None:
    """The keys each judge needs, and the ones it would silently ignore."""
    judge, given = item.judge, c.given
    if judge != "manual" and not item.command and (*path, "command") not in c.bad:
        c.report(
            (*path, "command"),
            f"judge = {json.dumps(judge)} needs a command",
            'e.g. command = ["npm", "test"], or judge = "manual"',
        )
    patterns_ok = (*path, "pattern") not in c.bad and (*path, "fail_pattern") not in c.bad
    if judge == "regex" and not item.pattern and not item.fail_pattern and patterns_ok:
        c.report(
            (*path, "pattern"),
            'judge = "regex" needs a pattern or a fail_pattern',
            'e.g. pattern = "found 0 vulnerabilities", or fail_pattern = "(?i)critical"',
        )
    if judge == "budget" and (*path, "pattern") not in c.bad:
        groups = re.compile(item.pattern).groups if item.pattern else 0
        if not item.pattern:
            c.report(
                (*path, "pattern"),
                'judge = "budget" needs a pattern',
                f"a regex with one group around the number, e.g. pattern = {_BUDGET_EXAMPLE}",
            )
        elif groups != 1:
            c.report(
                (*path, "pattern"),
                f'judge = "budget" needs exactly one group in the pattern, got {groups}',
                f"one (...) around the number, e.g. pattern = {_BUDGET_EXAMPLE}",
            )
    if judge == "budget" and (*path, "budget") not in given:
        c.report(
            (*path, "budget"),
            'judge = "budget" needs a budget',
            "the largest number allowed, e.g. budget = 10",
        )
    unused = {
        "pattern": ("regex", "budget"),
        "fail_pattern": ("regex",),
        "budget": ("budget",),
    }
    for key, judges in unused.items():
        if judge not in judges and (*path, key) in given and (*path, key) not in c.bad:
            which = " or ".join(f"judge = {json.dumps(j)}" for j in judges)
            c.report(
                (*path, key),
                f"only used by {which}, not judge = {json.dumps(judge)}",
                f"set {which}, or remove {key}",
            )
