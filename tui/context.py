"""What the console and the headless commands share: config, journal, hosts, redactor."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tui.core.config import Config, ConfigError, find_config_path, load_config
from tui.core.hosts import HostPool
from tui.core.journal import Journal, JournalError
from tui.core.redact import Redactor

EXIT_USAGE = 2


class CliError(Exception):
    """A one-line error for the operator, with the exit code to leave with."""

    def __init__(self, message: str, code: int = EXIT_USAGE, *, raw: bool = False) -> None:
        super().__init__(message)
        self.code = code
        # raw: the message already names where it comes from (config problems: FILE:LINE: ...)
        self.raw = raw


@dataclass
class AppContext:
    config: Config
    journal: Journal
    pool: HostPool
    redactor: Redactor
    #: What the console reads the time from (uptimes, ages); tests give a fixed one.
    clock: Callable[[], float] = time.time
    extra: dict[str, object] = field(default_factory=dict)

    def close(self) -> None:
        self.journal.close()


def load_config_or_fail(config_arg: str | None) -> Config:
    try:
        return load_config(find_config_path(config_arg))
    except ConfigError as err:
        # All problems, one line each: the operator fixes them in one go.
        raise CliError(str(err), EXIT_USAGE, raw=True) from None


def open_context(config_arg: str | None, journal_arg: str | None) -> AppContext:
    config = load_config_or_fail(config_arg)
    redactor = Redactor.from_config(config)
    path = Path(journal_arg) if journal_arg else Journal.default_path()
    try:
        journal = Journal(path, redactor=redactor)
    except JournalError as err:
        raise CliError(str(err), EXIT_USAGE) from None
    pool = HostPool(config, journal)
    return AppContext(config=config, journal=journal, pool=pool, redactor=redactor)
