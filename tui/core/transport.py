"""How shipdeck runs commands on hosts: one protocol, two implementations.

``LocalTransport`` runs asyncio subprocesses on this machine; ``SshTransport`` runs them over
one reused asyncssh connection per host. Commands are argument lists; ``quote_command`` is the
one place they are quoted for a remote shell. Errors are typed and read as one line.

Usage::

    t = make_transport(host)
    r = await t.run(["pm2", "jlist"], timeout=30)
    async with t.stream(["tail", "-F", path]) as lines:
        async for kind, line in lines: ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from tui.core.shellquote import LineSplitter, check_argv, quote_command
from tui.core.transport_errors import (
    AuthError,
    CommandFailed,
    CommandTimeout,
    ConnectionLostError,
    ConnState,
    HostKeyError,
    Result,
    TransportError,
    UnreachableError,
)
from tui.core.transport_local import CommandStream, LocalTransport

if TYPE_CHECKING:
    from tui.core.transport_ssh import SshTransport, parse_jumps


def __getattr__(name: str) -> Any:
    # asyncssh (with cryptography) costs ~0.6 s to import: load it only when an SSH host is
    # actually used, so the console's first frame and local-only runs don't pay for it.
    if name in ("SshTransport", "parse_jumps"):
        from tui.core import transport_ssh

        return getattr(transport_ssh, name)
    raise AttributeError(name)


__all__ = [
    "AuthError",
    "CommandFailed",
    "CommandStream",
    "CommandTimeout",
    "ConnState",
    "ConnectionLostError",
    "HostKeyError",
    "LineSplitter",
    "LocalTransport",
    "Result",
    "SshTransport",
    "Transport",
    "TransportError",
    "UnreachableError",
    "check_argv",
    "make_transport",
    "parse_jumps",
    "quote_command",
]


@runtime_checkable
class Transport(Protocol):
    host: Any  # HostConfig
    state: ConnState
    last_error: str  # one-line reason for FAILED/DISCONNECTED, "" otherwise

    def add_state_listener(self, cb: Callable[[Any], None]) -> None: ...
    def remove_state_listener(self, cb: Callable[[Any], None]) -> None: ...

    async def connect(self) -> None: ...

    async def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: str | None = None,
        check: bool = False,
    ) -> Result: ...

    def stream(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
    ) -> CommandStream: ...

    def stream_chunks(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
    ) -> CommandStream: ...

    async def forward_local_port(self, remote_host: str, remote_port: int) -> int: ...

    async def close(self) -> None: ...


def make_transport(host: Any) -> LocalTransport | SshTransport:
    """LocalTransport for ``transport = "local"`` hosts, SshTransport otherwise."""
    if getattr(host, "transport", "ssh") == "local":
        return LocalTransport(host)
    from tui.core.transport_ssh import SshTransport

    return SshTransport(host)
