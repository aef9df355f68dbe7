"""SshTransport: asyncssh, one connection per host kept open and reused, a channel per command.

Host keys are checked strictly against ``host.known_hosts`` (else ~/.ssh/config's
UserKnownHostsFile, else ~/.ssh/known_hosts); nothing is ever accepted silently. ``port``,
``user``, ``identity_file`` and ``proxy_jump`` win when given; when not, ~/.ssh/config decides
(Port, User, IdentityFile, ProxyJump, HostName), else OpenSSH's defaults, as an operator's
``ssh`` would (see ssh_target). The agent (SSH_AUTH_SOCK) is used too. A command running when
the link drops raises ConnectionLostError (unknown outcome); the next call reconnects with
backoff.

Timeouts and cancels send TERM (then KILL) over the channel. OpenSSH ignores signal requests on
root sessions, so this only ends the remote command for a non-root user (see RIG-NOTES).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from tui.core.shellquote import check_argv, quote_command
from tui.core.ssh_lib import asyncssh
from tui.core.ssh_target import (
    SSH_CONFIG_NAME,
    Endpoint,
    Resolved,
    connect_options,
    known_hosts_files,
    parse_jumps,
    resolve,
    user_ssh_config,
)
from tui.core.transport_driver import (
    CHUNK,
    TERM_GRACE_S,
    CommandStream,
    ProcHandle,
    StreamMethods,
    collect_result,
)
from tui.core.transport_errors import (
    AuthError,
    ConnectionLostError,
    ConnState,
    HostKeyError,
    Result,
    StateMixin,
    TransportError,
    UnreachableError,
    describe_argv,
    one_line,
)

# First reconnect attempt is immediate, then back off; the cap keeps one call bounded.
RECONNECT_DELAYS = (0.0, 0.5, 1.0, 2.0, 4.0)
# OpenSSH's MaxSessions defaults to 10 per connection; stay under it and queue the rest.
MAX_SESSIONS = 8


# A jump host may itself be reached through a ProxyJump of ~/.ssh/config; a loop stops here.
MAX_JUMP_CHAIN = 8

__all__ = ["Endpoint", "SshTransport", "parse_jumps"]


@dataclass(frozen=True)
class _Hop:
    """One connection to open: as given, as ~/.ssh/config resolves it, and how it is named."""

    given: Endpoint
    resolved: Resolved
    identity_file: str  # shipdeck's identity_file; "" for a hop named by ~/.ssh/config
    label: str  # "" for the target, else "jump host ..."

    @property
    def ep(self) -> Endpoint:
        return self.resolved.endpoint


class _Client(asyncssh.SSHClient):
    def __init__(self, on_lost: Any) -> None:
        self._on_lost = on_lost
        self._conn: asyncssh.SSHClientConnection | None = None

    def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
        self._conn = conn

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._on_lost(self._conn, exc)


class SshTransport(StreamMethods, StateMixin):
    def __init__(
        self,
        host: Any,
        *,
        connect_timeout: float = 10.0,
        reconnect_delays: Sequence[float] = RECONNECT_DELAYS,
        max_sessions: int = MAX_SESSIONS,
    ) -> None:
        self.host = host
        self._init_state()
        self._connect_timeout = connect_timeout
        self._reconnect_delays = tuple(reconnect_delays) or (0.0,)
        self._sessions = asyncio.Semaphore(max_sessions)
        self._lock = asyncio.Lock()
        self._conn: asyncssh.SSHClientConnection | None = None
        self._jumps: list[asyncssh.SSHClientConnection] = []
        # After a loss the next call retries with backoff; after a full failed round, one try
        # per call, so a dead host does not make every call wait the whole backoff again.
        self._retry_round = False
        self._forwards: dict[tuple[str, int], asyncssh.SSHListener] = {}
        self._forward_ports: dict[tuple[str, int], int] = {}
        # What messages name: the port and user really used. Resolved again at each connect,
        # so an edited ~/.ssh/config counts from the next connection on.
        self.target = self._quiet_target()

    @property
    def name(self) -> str:
        return str(self.host.name)

    # ------------------------------------------------------------------ connection

    def _given(self) -> Endpoint:
        """The target as shipdeck's config gives it: "" / 0 = not given."""
        host = self.host
        return Endpoint(
            str(getattr(host, "user", "") or ""),
            str(host.address),
            int(getattr(host, "port", 0) or 0),
        )

    def _quiet_target(self) -> Endpoint:
        given = self._given()
        try:
            return resolve(given, user_ssh_config()).endpoint
        except (OSError, ValueError):  # told when connecting
            return Endpoint(given.user, given.address, given.port or 22)

    def _resolve(self, given: Endpoint, config: list[str] | None) -> Resolved:
        try:
            return resolve(given, config)
        except (OSError, ValueError) as exc:
            raise UnreachableError(
                f"{self.name}: cannot use {SSH_CONFIG_NAME}: {one_line(exc)}", host=self.name
            ) from None

    def _plan(self, config: list[str] | None) -> tuple[list[_Hop], _Hop]:
        """The jump hosts, in order, and the target. proxy_jump wins over ~/.ssh/config's."""
        identity = str(getattr(self.host, "identity_file", "") or "")
        given = self._given()
        target = _Hop(given, self._resolve(given, config), identity, "")
        spec = str(getattr(self.host, "proxy_jump", "") or "")
        if spec:
            return self._jumps_of(spec, config, identity, 0), target
        return self._jumps_of(target.resolved.proxy_jump, config, "", 0), target

    def _jumps_of(
        self, spec: str, config: list[str] | None, identity: str, depth: int
    ) -> list[_Hop]:
        """Hops of a ProxyJump spec. As ``ssh -J`` does, the first hop is reached through its
        own ProxyJump of ~/.ssh/config. shipdeck's identity_file serves the hops of proxy_jump;
        hops named by ~/.ssh/config use its IdentityFile (``identity`` is then "")."""
        try:
            givens = parse_jumps(spec)
        except ValueError as exc:
            where = "" if depth == 0 and identity else f" (ProxyJump in {SSH_CONFIG_NAME})"
            raise UnreachableError(f"{self.name}: {exc}{where}", host=self.name) from None
        hops: list[_Hop] = []
        for i, given in enumerate(givens):
            resolved = self._resolve(given, config)
            if i == 0 and resolved.proxy_jump:
                if depth >= MAX_JUMP_CHAIN:
                    raise UnreachableError(
                        f"{self.name}: jump host {resolved.endpoint}: more than {MAX_JUMP_CHAIN}"
                        f" jump hosts chained by ProxyJump in {SSH_CONFIG_NAME} (a loop?)",
                        host=self.name,
                    )
                hops += self._jumps_of(resolved.proxy_jump, config, "", depth + 1)
            hops.append(_Hop(given, resolved, identity, f"jump host {resolved.endpoint}"))
        return hops

    def _known_hosts(self, hop: _Hop) -> list[Path]:
        return known_hosts_files(str(getattr(self.host, "known_hosts", "") or ""), hop.resolved)

    def _options(
        self,
        hop: _Hop,
        known_hosts: list[Path],
        config: list[str] | None,
        tunnel: asyncssh.SSHClientConnection | None,
    ) -> dict[str, Any]:
        opts = connect_options(
            hop.given, identity_file=hop.identity_file, known_hosts=known_hosts, config=config
        )
        opts.update(
            connect_timeout=self._connect_timeout,
            keepalive_interval=max(0.0, float(getattr(self.host, "keepalive_s", 15) or 0)),
            keepalive_count_max=3,
            # Always explicit: None = direct (or ProxyCommand), never asyncssh's own reading of
            # ProxyJump, which _plan has already turned into hops of ours.
            tunnel=tunnel,
        )
        return opts

    async def connect(self) -> None:
        await self._ensure_connected()

    async def _ensure_connected(self) -> asyncssh.SSHClientConnection:
        conn = self._conn
        if conn is not None and not conn.is_closed():
            return conn
        async with self._lock:
            conn = self._conn
            if conn is not None and not conn.is_closed():
                return conn
            delays = self._reconnect_delays if self._retry_round else (0.0,)
            last: TransportError | None = None
            for delay in delays:
                if delay:
                    await asyncio.sleep(delay)
                self._set_state(ConnState.CONNECTING)
                try:
                    conn = await self._open()
                    if conn.is_closed():  # dropped right after the handshake
                        raise UnreachableError(
                            f"{self.name}: {self.target} closed the connection right after login",
                            host=self.name,
                        )
                except UnreachableError as exc:
                    self._set_state(ConnState.FAILED, str(exc))
                    last = exc
                    continue
                except TransportError as exc:
                    self._set_state(ConnState.FAILED, str(exc))
                    raise
                self._conn = conn
                self._retry_round = False
                self._set_state(ConnState.CONNECTED)
                return conn
            self._retry_round = False
            assert last is not None
            raise last

    async def _open(self) -> asyncssh.SSHClientConnection:
        config = user_ssh_config()
        hops, target = self._plan(config)
        self.target = target.ep
        opened: list[asyncssh.SSHClientConnection] = []
        tunnel: asyncssh.SSHClientConnection | None = None
        try:
            for hop in hops:
                tunnel = await self._connect_one(hop, tunnel, config)
                opened.append(tunnel)
            conn = await self._connect_one(target, tunnel, config)
        except BaseException:
            for jump in reversed(opened):
                jump.close()
            raise
        self._close_jumps()
        self._jumps = opened
        return conn

    async def _connect_one(
        self, hop: _Hop, tunnel: asyncssh.SSHClientConnection | None, config: list[str] | None
    ) -> asyncssh.SSHClientConnection:
        label = f"{self.name}: {hop.label}" if hop.label else self.name
        ep = hop.ep
        known_hosts = self._known_hosts(hop)
        self._check_local_files(label, hop, known_hosts)
        if not any(path.is_file() for path in known_hosts):
            key = await self._server_key(label, hop, tunnel, config, raise_unreachable=True)
            raise HostKeyError(
                f"{label}: no known_hosts file at {known_hosts[0]}, so the host key of"
                f" {ep.hostport} cannot be checked (server offers {key or 'an unknown key'});"
                f" refusing to connect; check the key and add it to {known_hosts[0]}",
                host=self.name,
                fingerprint=key,
            )
        opts = self._options(hop, known_hosts, config, tunnel)
        factory = partial(_Client, self._on_conn_lost) if not hop.label else None
        try:
            if factory is not None:
                conn, _ = await asyncssh.create_connection(factory, hop.given.address, **opts)
                return conn
            return await asyncssh.connect(hop.given.address, **opts)
        except asyncssh.HostKeyNotVerifiable:
            raise await self._host_key_error(label, hop, tunnel, config, known_hosts) from None
        except asyncssh.PermissionDenied as exc:
            raise AuthError(
                f"{label}: authentication failed for {ep.user or getpass.getuser()}@"
                f"{ep.hostport} ({self._keys_tried(hop)}; server says: {one_line(exc.reason)});"
                " check user, identity_file and ssh-agent",
                host=self.name,
            ) from None
        except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as exc:
            source = (
                f"identity_file {hop.identity_file}"
                if hop.identity_file
                else f"IdentityFile of {SSH_CONFIG_NAME}"
            )
            raise AuthError(
                f"{label}: cannot load {source}: {one_line(exc)}", host=self.name
            ) from None
        except Exception as exc:
            raise self._unreachable(label, ep, exc) from None

    def _check_local_files(self, label: str, hop: _Hop, known_hosts: list[Path]) -> None:
        ident = hop.identity_file
        if ident and not os.access(os.path.expanduser(ident), os.R_OK):
            raise AuthError(f"{label}: cannot read identity_file {ident}", host=self.name)
        for path in known_hosts:
            if path.exists() and not os.access(path, os.R_OK):
                raise HostKeyError(
                    f"{label}: cannot read known_hosts file {path}; refusing to connect to"
                    f" {hop.ep.hostport} without checking its host key",
                    host=self.name,
                )

    def _keys_tried(self, hop: _Hop) -> str:
        if hop.identity_file:
            return f"tried key {hop.identity_file}"
        if hop.resolved.identity_files:
            keys = ", ".join(hop.resolved.identity_files)
            return f"tried ssh-agent and IdentityFile {keys} of {SSH_CONFIG_NAME}"
        return "tried ssh-agent and default keys"

    def _unreachable(self, label: str, ep: Endpoint, exc: BaseException) -> UnreachableError:
        if isinstance(exc, TimeoutError):
            why = f"timed out after {self._connect_timeout:g}s"
        elif isinstance(exc, ConnectionRefusedError):
            why = "connection refused"
        elif isinstance(exc, socket.gaierror):
            why = f"cannot resolve {ep.dialled}: {exc.strerror}"
        elif isinstance(exc, asyncssh.ChannelOpenError):
            why = f"the jump host could not open a connection to it: {exc.reason}"
        elif isinstance(exc, asyncssh.DisconnectError):
            why = f"closed during SSH setup: {exc.reason}"
        elif isinstance(exc, OSError):
            why = exc.strerror or str(exc)
        else:
            why = f"{type(exc).__name__}: {exc}"
        return UnreachableError(f"{label}: cannot reach {ep}: {one_line(why)}", host=self.name)

    async def _server_key(
        self,
        label: str,
        hop: _Hop,
        tunnel: asyncssh.SSHClientConnection | None,
        config: list[str] | None,
        *,
        raise_unreachable: bool = False,
    ) -> str:
        """``"ssh-ed25519 SHA256:..."`` of the key the server presents, or "" if unknown."""
        try:
            key = await asyncio.wait_for(
                asyncssh.get_server_host_key(
                    hop.given.address, hop.ep.port, tunnel=tunnel, config=config
                ),
                self._connect_timeout,
            )
        except Exception as exc:
            if raise_unreachable:
                raise self._unreachable(label, hop.ep, exc) from None
            return ""
        return f"{key.get_algorithm()} {key.get_fingerprint('sha256')}" if key else ""

    @staticmethod
    def _has_known_key(ep: Endpoint, known_hosts: list[Path]) -> bool:
        try:
            entries = asyncssh.read_known_hosts([str(p) for p in known_hosts if p.is_file()])
            port = ep.port if ep.port != 22 else None
            return bool(entries.match(ep.dialled, ep.dialled, port)[0])
        except (OSError, ValueError):
            return False

    async def _host_key_error(
        self,
        label: str,
        hop: _Hop,
        tunnel: asyncssh.SSHClientConnection | None,
        config: list[str] | None,
        known_hosts: list[Path],
    ) -> HostKeyError:
        ep = hop.ep
        key = await self._server_key(label, hop, tunnel, config)
        offers = f"server offers {key}" if key else "server key could not be read"
        files = ", ".join(str(p) for p in known_hosts if p.is_file())
        kh = known_hosts[0]
        if self._has_known_key(ep, known_hosts):
            what = (
                f"host key of {ep.hostport} does NOT match {files} ({offers}): it changed, or"
                " someone is in between; refusing to connect; check the key and update"
            )
        else:
            what = (
                f"host key of {ep.hostport} is unknown: not in {files} ({offers}); refusing to"
                " connect; check the key and add it to"
            )
        return HostKeyError(f"{label}: {what} {kh}", host=self.name, fingerprint=key)

    def _on_conn_lost(self, conn: asyncssh.SSHClientConnection, exc: BaseException | None) -> None:
        if conn is not self._conn:
            return  # an old or intentionally closed connection
        self._conn = None
        self._retry_round = True
        self._drop_forwards()
        self._close_jumps()
        why = one_line(exc) if exc else f"closed by {self.target.hostport}"
        self._set_state(ConnState.DISCONNECTED, f"{self.name}: connection lost: {why}")

    def _close_jumps(self) -> None:
        for jump in reversed(self._jumps):
            jump.close()
        self._jumps = []

    def _drop_forwards(self) -> None:
        for listener in self._forwards.values():
            listener.close()
        self._forwards.clear()

    def lost_error(
        self, argv: Sequence[str], exc: BaseException | None, conn: asyncssh.SSHClientConnection
    ) -> ConnectionLostError:
        if conn.is_closed():
            self._on_conn_lost(conn, exc)
        reason = f" ({one_line(exc)})" if exc else ""
        return ConnectionLostError(
            f"{self.name}: connection to {self.target.hostport} lost while running"
            f" {describe_argv(argv)}{reason}; outcome unknown (it may or may not have completed)",
            host=self.name,
            argv=argv,
        )

    async def close(self) -> None:
        async with self._lock:
            conn, self._conn = self._conn, None
            self._drop_forwards()
            self._forward_ports.clear()
            if conn is not None:
                conn.close()
                await conn.wait_closed()
            for jump in self._jumps:
                jump.close()
                await jump.wait_closed()
            self._jumps = []
            self._retry_round = False
            self._set_state(ConnState.IDLE)

    # ------------------------------------------------------------------ commands

    async def _start(self, argv: tuple[str, ...], command: str) -> _SshProc:
        await self._sessions.acquire()
        try:
            for attempt in range(2):
                conn = await self._ensure_connected()
                try:
                    proc = await self._create_process(conn, command, argv)
                except asyncssh.ChannelOpenError as exc:
                    if not conn.is_closed():
                        raise TransportError(
                            f"{self.name}: {self.target.hostport} refused to start"
                            f" {describe_argv(argv)}: {one_line(exc.reason)}",
                            host=self.name,
                        ) from None
                    if attempt == 0 and exc.code == asyncssh.OPEN_CONNECT_FAILED:
                        # The channel never opened, so the command never ran: safe to retry.
                        self._on_conn_lost(conn, exc)
                        continue
                    raise self.lost_error(argv, exc, conn) from None
                except (asyncssh.Error, OSError) as exc:
                    raise self.lost_error(argv, exc, conn) from None
                return _SshProc(self, conn, proc, argv)
            raise AssertionError("unreachable")
        except BaseException:
            self._sessions.release()
            raise

    async def _create_process(
        self, conn: asyncssh.SSHClientConnection, command: str, argv: tuple[str, ...]
    ) -> asyncssh.SSHClientProcess[bytes]:
        creating = asyncio.ensure_future(conn.create_process(command, encoding=None))
        try:
            return await asyncio.shield(creating)
        except asyncio.CancelledError:
            # The server may already run the command while we wait for its reply: let the
            # channel finish opening, then end the command, so a cancel never orphans it.
            with contextlib.suppress(Exception):
                proc = await asyncio.wait_for(creating, self._connect_timeout)
                await _SshProc(self, conn, proc, argv).terminate()
            raise

    async def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: str | None = None,
        check: bool = False,
    ) -> Result:
        args = check_argv(argv)
        command = quote_command(args, env, cwd)
        proc = await self._start(args, command)
        t0 = time.monotonic()
        return await collect_result(
            self.name, args, proc, t0, timeout=timeout, stdin=stdin, check=check
        )

    def _stream(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None,
        cwd: str | None,
        timeout: float | None,
        *,
        lines: bool,
    ) -> CommandStream:
        args = check_argv(argv)
        command = quote_command(args, env, cwd)

        async def start() -> ProcHandle:
            return await self._start(args, command)

        return CommandStream(args, start, host=self.name, lines=lines, timeout=timeout)

    async def forward_local_port(self, remote_host: str, remote_port: int) -> int:
        """A port on 127.0.0.1 that reaches ``remote_host:remote_port`` as seen from the host.

        Cached per destination; after a reconnect the same local port is reused if it is free.
        """
        key = (remote_host, remote_port)
        conn = await self._ensure_connected()
        listener = self._forwards.get(key)
        if listener is not None:
            return listener.get_port()
        wanted = self._forward_ports.get(key, 0)
        listener, error = None, None
        for port in dict.fromkeys((wanted, 0)):  # the old port if still free, else any
            try:
                listener = await conn.forward_local_port(
                    "127.0.0.1", port, remote_host, remote_port
                )
                break
            except (OSError, asyncssh.Error) as exc:
                error = exc
        if listener is None:
            raise TransportError(
                f"{self.name}: cannot forward a local port to {remote_host}:{remote_port}"
                f" through {self.target.hostport}: {one_line(error)}",
                host=self.name,
            )
        self._forwards[key] = listener
        self._forward_ports[key] = listener.get_port()
        return listener.get_port()


class _SshProc:
    def __init__(
        self,
        owner: SshTransport,
        conn: asyncssh.SSHClientConnection,
        proc: asyncssh.SSHClientProcess[bytes],
        argv: tuple[str, ...],
    ) -> None:
        self._owner, self._conn, self._proc, self._argv = owner, conn, proc, argv
        self._released = False

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    async def read(self, kind: str) -> bytes:
        reader = self._proc.stdout if kind == "stdout" else self._proc.stderr
        try:
            return await reader.read(CHUNK)
        except (asyncssh.Error, OSError) as exc:
            raise self._owner.lost_error(self._argv, exc, self._conn) from None

    async def feed(self, data: bytes | None) -> None:
        writer = self._proc.stdin
        try:
            if data:
                writer.write(data)
                await writer.drain()
            writer.write_eof()
        except (asyncssh.Error, OSError):
            pass  # it exited without reading, or the link is gone: the readers report which

    async def wait(self) -> int:
        try:
            await self._proc.wait_closed()
        except (asyncssh.Error, OSError) as exc:
            raise self._owner.lost_error(self._argv, exc, self._conn) from None
        code = self._proc.returncode
        if code is None:  # the channel closed without an exit status
            raise self._owner.lost_error(self._argv, None, self._conn)
        return code

    async def _drain_until_closed(self) -> None:
        # asyncssh only completes a channel close once its receive buffer is read.
        async def drain(reader: asyncssh.SSHReader[bytes]) -> None:
            while await reader.read(CHUNK):
                pass

        await asyncio.gather(
            drain(self._proc.stdout), drain(self._proc.stderr), self._proc.wait_closed()
        )

    async def terminate(self) -> None:
        if self._proc.returncode is None and not self._conn.is_closed():
            for sig in ("TERM", "KILL"):
                try:
                    self._proc.send_signal(sig)
                    await asyncio.wait_for(self._drain_until_closed(), TERM_GRACE_S)
                    break
                except TimeoutError:
                    continue
                except (asyncssh.Error, OSError):
                    break
        self._proc.close()

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._proc.close()
            self._owner._sessions.release()
