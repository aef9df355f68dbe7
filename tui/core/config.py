"""shipdeck's config: find the file, read it with tomllib, validate it strictly.

Public API: find_config_path, load_config, check_config, Problem, ConfigError and
the frozen models (Config, AppConfig, HostConfig, ...). Every problem is one line,
`FILE:LINE: KEY: what is wrong (what would be right)`, and all of them are found in
one pass. The models and their defaults live in config_models.py, the validation
in config_schema.py, the key -> line scanner in config_lines.py.
"""

import dataclasses
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

from platformdirs import user_config_dir

from tui.core.config_lines import key_lines
from tui.core.config_models import (
    AppConfig,
    BackupStep,
    BuildStep,
    CanaryConfig,
    ChecklistConfig,
    ChecklistItem,
    Config,
    DatabaseConfig,
    DeployStep,
    HealthConfig,
    HostConfig,
    LogsConfig,
    MonitorConfig,
    NotifyConfig,
    PolicyConfig,
    Problem,
    RollbackStep,
    SecretsConfig,
    StepsConfig,
    VerifyStep,
)
from tui.core.config_validate import Checker

__all__ = [
    "CONFIG_NAME",
    "ENV_VAR",
    "AppConfig",
    "BackupStep",
    "BuildStep",
    "CanaryConfig",
    "ChecklistConfig",
    "ChecklistItem",
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "DeployStep",
    "HealthConfig",
    "HostConfig",
    "LogsConfig",
    "MonitorConfig",
    "NotifyConfig",
    "PolicyConfig",
    "Problem",
    "RollbackStep",
    "SecretsConfig",
    "StepsConfig",
    "VerifyStep",
    "check_config",
    "find_config_path",
    "load_config",
    "user_config_path",
]

CONFIG_NAME = "shipdeck.toml"
ENV_VAR = "SHIPDECK_CONFIG"
_TOML_POS = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_TOML_END = re.compile(r"\s*\(at end of document\)$")
# tomllib's wording for the two commonest slips is terse; say what to do about them
_TOML_ADVICE = {
    "Cannot overwrite a value": "a key may be set only once per table",
    "Illegal character '\\n'": 'close the string on its line, or use """ for several lines',
}


class ConfigError(Exception):
    """The config can't be used; `problems` says why, str() gives one line each."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def user_config_path() -> Path:
    return Path(user_config_dir("shipdeck")) / CONFIG_NAME


def find_config_path(
    explicit: str | Path | None = None, *, environ: Mapping[str, str] | None = None
) -> Path:
    """--config FILE, else $SHIPDECK_CONFIG, else ./shipdeck.toml, else the user config dir.

    A file named by --config or $SHIPDECK_CONFIG must exist: silently falling back to
    another config would deploy with settings the operator did not choose.
    """
    env = os.environ if environ is None else environ
    if explicit:
        return _must_exist(explicit, "given with --config", "check the path given with --config")
    if env.get(ENV_VAR):
        return _must_exist(env[ENV_VAR], f"named by ${ENV_VAR}", f"fix or unset ${ENV_VAR}")
    local = Path.cwd() / CONFIG_NAME
    if local.exists():
        return local
    user = user_config_path()
    if user.exists():
        return user
    raise ConfigError(
        [
            Problem(
                CONFIG_NAME,
                1,
                "file",
                f"no config file found: no --config, ${ENV_VAR} not set, no {local}, no {user}",
                f"pass --config FILE, set ${ENV_VAR},"
                f" or copy config.example.toml to ./{CONFIG_NAME};"
                " or try `shipdeck demo` first",
            )
        ]
    )


def _must_exist(name: str | Path, how: str, hint: str) -> Path:
    path = _expand(name)
    if path.exists():
        return path
    raise ConfigError([Problem(str(name), 1, "file", f"no such file, {how}", hint)])


def _expand(name: str | Path) -> Path:
    try:
        return Path(name).expanduser()
    except RuntimeError:  # "~" but no home directory known
        return Path(name)


def load_config(path: str | Path) -> Config:
    """The validated config, or ConfigError carrying every problem found."""
    config, problems = check_config(path)
    if config is None:
        raise ConfigError(problems)
    return config


def check_config(path: str | Path) -> tuple[Config | None, list[Problem]]:
    """(config, []) when valid, else (None, all problems sorted by line). Never raises."""
    label = str(path)
    try:
        return _check(_expand(path), label)
    except Exception as e:  # a bug of ours must still read as one line, never a traceback
        return None, [
            Problem(
                label,
                1,
                "internal",
                f"unexpected {type(e).__name__} while checking the config: {e}",
                "this is a shipdeck bug; please report it with this config file",
            )
        ]


def _check(path: Path, label: str) -> tuple[Config | None, list[Problem]]:
    def fail(line: int, key: str, message: str, hint: str) -> tuple[None, list[Problem]]:
        return None, [Problem(label, line, key, message, hint)]

    try:
        if path.is_dir():
            return fail(1, "file", "is a directory, not a file", "give the path of a .toml file")
        data = path.read_bytes()
    except FileNotFoundError:
        return fail(
            1, "file", "file not found", "check the path, or copy config.example.toml there"
        )
    except PermissionError:
        return fail(
            1, "file", "cannot read the file: permission denied", "make it readable by this user"
        )
    except OSError as e:
        return fail(1, "file", f"cannot read the file: {e.strerror or e}", "check the path")
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        column = e.start - data.rfind(b"\n", 0, e.start)
        byte = data[e.start]
        return fail(
            line,
            "file",
            f"not UTF-8 text: byte 0x{byte:02x} at column {column}",
            "save the file as UTF-8",
        )
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        return fail(*_syntax_problem(e, text))
    checker = Checker(label, Path(os.path.abspath(path)).parent, key_lines(text))
    config = checker.build(doc)
    if checker.problems:
        return None, sorted(checker.problems, key=lambda p: p.line)
    return dataclasses.replace(config, source=Path(os.path.abspath(path))), []


def _syntax_problem(e: tomllib.TOMLDecodeError, text: str) -> tuple[int, str, str, str]:
    message = str(e)
    m = _TOML_POS.search(message)
    if getattr(e, "lineno", None) and getattr(e, "colno", None):  # Python >= 3.14
        line, column = e.lineno, e.colno  # type: ignore[attr-defined]
        where = f"at line {line}, column {column}"
    elif m:
        line, column = int(m.group(1)), int(m.group(2))
        where = f"at line {line}, column {column}"
    else:
        line = text.count("\n") + 1
        where = "at the end of the file"
    message = _TOML_END.sub("", _TOML_POS.sub("", message))
    advice = _TOML_ADVICE.get(message)
    hint = f"fix the syntax {where}" + (f": {advice}" if advice else "")
    return line, "toml", f"invalid TOML: {message}", hint
