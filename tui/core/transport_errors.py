"""The vocabulary both transports share: results, typed errors, connection states.

Every error's ``str()`` is one readable line that names the host, because the console shows it
as-is and the journal records it.
"""

from __future__ import annotations

import enum
import logging
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    """What a finished command gave; ``exit_status`` is -N when signal N ended it."""

    argv: tuple[str, ...]
    exit_status: int
    stdout: str
    stderr: str
    duration: float

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


def one_line(text: object) -> str:
    """Collapse whitespace (newlines included) so a message always fits one line."""
    return " ".join(str(text).split())


def describe_argv(argv: Sequence[str], limit: int = 120) -> str:
    """A short, single-line, shell-like rendering of a command for messages."""
    text = " ".join(shlex.quote(a) for a in argv).replace("\n", "\\n").replace("\r", "\\r")
    return text if len(text) <= limit else text[: limit - 1] + "…"


class TransportError(Exception):
    """Base of every transport error; ``str()`` is one line naming the host."""

    def __init__(self, message: str, *, host: str = "") -> None:
        super().__init__(one_line(message))
        self.host = host


class HostKeyError(TransportError):
    """Unknown or changed host key, or no known_hosts file: never silently accepted."""

    def __init__(self, message: str, *, host: str = "", fingerprint: str = "") -> None:
        super().__init__(message, host=host)
        self.fingerprint = fingerprint


class AuthError(TransportError):
    """The server refused every key we offered (or a key file could not be loaded)."""


class UnreachableError(TransportError):
    """No SSH session could be set up: refused, timed out, name not resolved, ..."""


class ConnectionLostError(TransportError):
    """The link dropped while a command ran: it may or may not have completed."""

    unknown_outcome = True

    def __init__(self, message: str, *, host: str = "", argv: Sequence[str] = ()) -> None:
        super().__init__(message, host=host)
        self.argv = tuple(argv)


class CommandTimeout(TransportError):
    """The command ran past its timeout and was terminated; ``partial`` holds its output so far."""

    def __init__(self, message: str, *, host: str = "", partial: Result, timeout: float) -> None:
        super().__init__(message, host=host)
        self.partial = partial
        self.timeout = timeout


class CommandFailed(TransportError):
    """``run(check=True)`` and the command exited non-zero; ``result`` has everything."""

    def __init__(self, message: str, *, host: str = "", result: Result) -> None:
        super().__init__(message, host=host)
        self.result = result


def command_failed(host: str, result: Result) -> CommandFailed:
    last = next((ln for ln in reversed(result.stderr.splitlines()) if ln.strip()), "")
    detail = f": {last}" if last else ""
    return CommandFailed(
        f"{host}: {describe_argv(result.argv)} exited with status {result.exit_status}{detail}",
        host=host,
        result=result,
    )


class ConnState(enum.StrEnum):
    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    FAILED = "failed"
    DISCONNECTED = "disconnected"


StateListener = Callable[[Any], None]


class StateMixin:
    """``state``/``last_error`` plus listeners told about every transition."""

    state: ConnState
    last_error: str

    def _init_state(self) -> None:
        self.state = ConnState.IDLE
        self.last_error = ""
        self._listeners: list[StateListener] = []

    def add_state_listener(self, cb: StateListener) -> None:
        self._listeners.append(cb)

    def remove_state_listener(self, cb: StateListener) -> None:
        if cb in self._listeners:
            self._listeners.remove(cb)

    def _set_state(self, state: ConnState, error: str = "") -> None:
        error = one_line(error)
        if state == self.state and error == self.last_error:
            return
        self.state = state
        self.last_error = error
        for cb in list(self._listeners):
            try:
                cb(self)
            except Exception:
                # A broken listener (e.g. a closed UI) must not break the transport.
                log.exception("transport state listener failed")
