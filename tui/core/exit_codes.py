"""The exit codes of every `shipdeck` command: a contract for scripts (README "Exit codes")."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # success (`check`: the gate is open)
    FAILED = 1  # the operation failed (`check`: the gate is closed)
    USAGE = 2  # usage or config error
    LOCKED = 3  # locked by someone else
