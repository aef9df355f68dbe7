"""SshTransport against asyncssh's in-process server.

The fake server cannot be a shell: it understands the line quote_command builds
(``[cd -- DIR &&] [K=V ...] exec ARGV``), runs a few canned programs, and records what it got
(commands, signals, connections). The real-sshd behaviour is covered by the integration tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.helpers import until as wait_until
from tui.core.ssh_lib import asyncssh
from tui.core.transport import (
    AuthError,
    CommandTimeout,
    ConnectionLostError,
    ConnState,
    HostKeyError,
    SshTransport,
    TransportError,
    UnreachableError,
    make_transport,
    parse_jumps,
    quote_command,
)
from tui.core.transport_ssh import Endpoint

HOST_KEY = asyncssh.generate_private_key("ssh-ed25519")
CLIENT_KEY = asyncssh.generate_private_key("ssh-ed25519")
OTHER_KEY = asyncssh.generate_private_key("ssh-ed25519")
FINGERPRINT = HOST_KEY.get_fingerprint("sha256")


@dataclass
class Seen:
    commands: list[str] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    connections: int = 0
    active: int = 0
    max_active: int = 0


def parse_line(line: str) -> tuple[list[str], dict[str, str], str | None]:
    words = shlex.split(line)
    cwd = None
    if words[:2] == ["cd", "--"]:
        cwd, words = words[2], words[4:]
    env = {}
    while words[0] != "exec":
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    return words[1:], env, cwd


async def wait_for_signal(proc: asyncssh.SSHServerProcess[bytes], seen: Seen) -> str:
    while True:
        try:
            if not await proc.stdin.read(1024):
                await asyncio.sleep(0.01)  # stdin is at EOF; signals still arrive through it
        except asyncssh.SignalReceived as sig:
            seen.signals.append(sig.signal)
            return sig.signal


async def serve(proc: asyncssh.SSHServerProcess[bytes], seen: Seen) -> None:
    seen.commands.append(proc.command or "")
    seen.active += 1
    seen.max_active = max(seen.max_active, seen.active)
    try:
        argv, env, _ = parse_line(proc.command or "")
        name, args = argv[0], argv[1:]
        if name == "echo":
            proc.stdout.write((" ".join(args) + "\n").encode())
            proc.exit(0)
        elif name == "env":
            proc.stdout.write(repr(env).encode())
            proc.exit(0)
        elif name == "fail":
            proc.stderr.write((args[1] + "\n").encode())
            proc.exit(int(args[0]))
        elif name == "cat":
            while data := await proc.stdin.read(65536):
                proc.stdout.write(data)
            proc.exit(0)
        elif name == "nap":
            await asyncio.sleep(float(args[0]))
            proc.stdout.write(b"rested\n")
            proc.exit(0)
        elif name == "pieces":  # hex chunks written one by one, so lines straddle them
            for chunk in args:
                proc.stdout.write(bytes.fromhex(chunk))
                await asyncio.sleep(0.02)
            proc.exit(0)
        elif name in ("hang", "stubborn"):
            proc.stdout.write(b"started\n")
            proc.stderr.write(b"working\n")
            while True:
                sig = await wait_for_signal(proc, seen)
                if sig == "KILL" or (sig == "TERM" and name == "hang"):
                    proc.exit_with_signal(sig)
                    return
        elif name == "drop":
            proc.stdout.write(b"partial\n")
            await asyncio.sleep(0.05)
            proc.channel.get_connection().abort()
        else:
            proc.stderr.write(f"sh: 1: exec: {name}: not found\n".encode())
            proc.exit(127)
    finally:
        seen.active -= 1


class FakeSshd:
    def __init__(self) -> None:
        self.seen = Seen()
        self.port = 0
        self.conns: list[asyncssh.SSHServerConnection] = []
        self._server: asyncssh.SSHAcceptor | None = None

    async def start(self) -> FakeSshd:
        outer = self

        class Server(asyncssh.SSHServer):
            def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
                outer.seen.connections += 1
                outer.conns.append(conn)

            def begin_auth(self, username: str) -> bool:
                outer.seen.users.append(username)
                return True

            def public_key_auth_supported(self) -> bool:
                return True

            def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
                return key == CLIENT_KEY.convert_to_public()

            def connection_requested(self, *args: Any) -> bool:
                return True  # plain TCP forwarding (port forwards, ProxyJump)

        self._server = await asyncssh.create_server(
            Server,
            "127.0.0.1",
            self.port,
            server_host_keys=[HOST_KEY],
            process_factory=lambda p: serve(p, self.seen),
            encoding=None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        for conn in self.conns:
            conn.abort()
        for conn in self.conns:
            await asyncio.wait_for(conn.wait_closed(), 5)
        self.conns.clear()


@pytest.fixture(autouse=True)
def _clean_ssh_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # No agent and no ~/.ssh of the person running the tests.
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
async def sshd() -> AsyncIterator[FakeSshd]:
    server = await FakeSshd().start()
    yield server
    with contextlib.suppress(Exception):
        await server.stop()


def write_key(path: Path, key: asyncssh.SSHKey) -> str:
    path.write_bytes(key.export_private_key())
    path.chmod(0o600)
    return str(path)


def known_hosts_line(port: int, key: asyncssh.SSHKey) -> str:
    return f"[127.0.0.1]:{port} {key.export_public_key().decode()}"


def make_host(tmp_path: Path, port: int, **over: Any) -> SimpleNamespace:
    kh = tmp_path / "known_hosts"
    if not kh.exists():
        kh.write_text(known_hosts_line(port, HOST_KEY))
    fields = {
        "name": "web1",
        "address": "127.0.0.1",
        "port": port,
        "user": "deploy",
        "identity_file": write_key(tmp_path / "id_ed25519", CLIENT_KEY),
        "known_hosts": str(kh),
        "proxy_jump": "",
        "group": "default",
        "transport": "ssh",
        "keepalive_s": 15,
    }
    fields.update(over)
    return SimpleNamespace(**fields)


@pytest.fixture
async def transport(sshd: FakeSshd, tmp_path: Path) -> AsyncIterator[SshTransport]:
    t = SshTransport(make_host(tmp_path, sshd.port), reconnect_delays=(0, 0.05, 0.1))
    yield t
    await t.close()


def states_of(t: SshTransport) -> list[str]:
    seen: list[str] = []
    t.add_state_listener(lambda tr: seen.append(str(tr.state)))
    return seen


# ---------------------------------------------------------------------------------- commands


async def test_run_exit_codes_and_output(transport: SshTransport, sshd: FakeSshd) -> None:
    r = await transport.run(["echo", "hello", "world"])
    assert (r.exit_status, r.stdout, r.stderr, r.ok) == (0, "hello world\n", "", True)
    assert r.duration > 0
    r = await transport.run(["fail", "3", "boom"])
    assert (r.exit_status, r.stdout, r.stderr) == (3, "", "boom\n")
    assert sshd.seen.users == ["deploy"]


async def test_the_command_line_is_quote_command(transport: SshTransport, sshd: FakeSshd) -> None:
    argv, env, cwd = ["echo", "a b", "$(x)"], {"K": "v w"}, "/srv/my app"
    r = await transport.run(argv, env=env, cwd=cwd)
    assert sshd.seen.commands[-1] == quote_command(argv, env, cwd)
    assert r.stdout == "a b $(x)\n"
    assert parse_line(sshd.seen.commands[-1]) == (argv, env, cwd)


async def test_stdin_is_sent_then_eof(transport: SshTransport) -> None:
    r = await transport.run(["cat"], stdin="one\ntwo ✓\n")
    assert r.stdout == "one\ntwo ✓\n"
    assert (await transport.run(["cat"], timeout=5)).stdout == ""


async def test_one_connection_is_reused(transport: SshTransport, sshd: FakeSshd) -> None:
    for _ in range(5):
        await transport.run(["echo", "x"])
    assert sshd.seen.connections == 1


async def test_concurrent_commands_share_one_connection_within_max_sessions(
    sshd: FakeSshd, tmp_path: Path
) -> None:
    t = SshTransport(make_host(tmp_path, sshd.port), max_sessions=4)
    results = await asyncio.gather(*(t.run(["nap", "0.05"]) for _ in range(12)))
    await t.close()
    assert all(r.stdout == "rested\n" for r in results)
    assert sshd.seen.connections == 1 and sshd.seen.max_active == 4


# ---------------------------------------------------------------------------------- streams


async def test_stream_yields_before_the_command_ends(
    transport: SshTransport, sshd: FakeSshd
) -> None:
    lines = transport.stream(["hang"])
    got = {await asyncio.wait_for(anext(lines), 5), await asyncio.wait_for(anext(lines), 5)}
    assert got == {("stdout", "started"), ("stderr", "working")}
    assert sshd.seen.active == 1 and sshd.seen.signals == []  # still running
    await lines.aclose()
    assert sshd.seen.signals == ["TERM"]


async def test_stream_splits_lines_across_chunks(transport: SshTransport) -> None:
    text = "par|tial\nli|ne2\r\n|\n|caf\xc3|\xa9\n|end"  # | = chunk border, é split in two
    chunks = [c.encode("latin-1").hex() for c in text.split("|")]
    lines = transport.stream(["pieces", *chunks])
    got = [line async for _, line in lines]
    assert got == ["partial", "line2", "", "café", "end"]  # no trailing "" at EOF
    assert lines.exit_status == 0


async def test_stream_replaces_bad_utf8(transport: SshTransport) -> None:
    got = [line async for _, line in transport.stream(["pieces", b"ok\xff\n".hex()])]
    assert got == ["ok\ufffd"]


async def test_stream_chunks_are_raw_bytes(transport: SshTransport) -> None:
    chunks = [c async for c in transport.stream_chunks(["pieces", "6162", "0a63"])]
    assert b"".join(d for _, d in chunks) == b"ab\nc"
    assert all(isinstance(d, bytes) for _, d in chunks)


async def test_cancelling_the_consumer_terminates(transport: SshTransport, sshd: FakeSshd) -> None:
    started = asyncio.Event()

    async def consume() -> None:
        async for _ in transport.stream(["hang"]):
            started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_until(lambda: sshd.seen.signals == ["TERM"])


# ---------------------------------------------------------------------------------- timeouts


async def test_timeout_terminates_and_keeps_partial_output(
    transport: SshTransport, sshd: FakeSshd
) -> None:
    with pytest.raises(CommandTimeout) as info:
        await transport.run(["hang"], timeout=0.3)
    err = info.value
    assert str(err) == "web1: hang timed out after 0.3s; the process was terminated"
    assert (err.partial.stdout, err.partial.stderr) == ("started\n", "working\n")
    assert err.partial.exit_status == -15
    assert sshd.seen.signals == ["TERM"]
    assert (await transport.run(["echo", "after"])).stdout == "after\n"  # connection still fine


async def test_timeout_escalates_to_kill(
    transport: SshTransport, sshd: FakeSshd, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tui.core.transport_ssh.TERM_GRACE_S", 0.2)
    with pytest.raises(CommandTimeout) as info:
        await transport.run(["stubborn"], timeout=0.2)
    assert sshd.seen.signals == ["TERM", "KILL"]
    assert info.value.partial.exit_status == -9


async def test_cancelling_run_terminates(transport: SshTransport, sshd: FakeSshd) -> None:
    task = asyncio.create_task(transport.run(["hang"]))
    await wait_until(lambda: sshd.seen.active == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sshd.seen.signals == ["TERM"]


async def test_cancel_while_the_channel_opens_still_terminates(
    transport: SshTransport, sshd: FakeSshd, monkeypatch: pytest.MonkeyPatch
) -> None:
    await transport.connect()
    conn = transport._conn
    assert conn is not None
    real_create = conn.create_process

    async def slow_reply(*args: Any, **kw: Any) -> Any:
        proc = await real_create(*args, **kw)
        await asyncio.sleep(0.3)  # the server runs the command; its reply is "in flight"
        return proc

    monkeypatch.setattr(conn, "create_process", slow_reply)
    task = asyncio.create_task(transport.run(["hang"]))
    await wait_until(lambda: sshd.seen.active == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_until(lambda: sshd.seen.signals == ["TERM"])
    assert sshd.seen.active == 0


# ---------------------------------------------------------------------------------- link loss


async def test_drop_mid_command_is_unknown_outcome_then_reconnects(
    transport: SshTransport, sshd: FakeSshd
) -> None:
    states = states_of(transport)
    await transport.run(["echo", "warm"])
    with pytest.raises(ConnectionLostError) as info:
        await transport.run(["drop"])
    err = info.value
    assert err.unknown_outcome is True and err.argv == ("drop",)
    assert str(err).startswith(f"web1: connection to 127.0.0.1:{sshd.port} lost while running drop")
    assert "outcome unknown" in str(err) and "\n" not in str(err)
    assert transport.state == ConnState.DISCONNECTED
    assert transport.last_error.startswith("web1: connection lost")
    r = await transport.run(["echo", "again"])
    assert r.stdout == "again\n" and sshd.seen.connections == 2
    assert states == ["connecting", "connected", "disconnected", "connecting", "connected"]


async def test_drop_mid_stream_raises_from_the_iteration(transport: SshTransport) -> None:
    got = []
    with pytest.raises(ConnectionLostError):
        async for item in transport.stream(["drop"]):
            got.append(item)
    assert got == [("stdout", "partial")]


async def test_reconnect_backs_off_then_gives_up_then_recovers(
    transport: SshTransport, sshd: FakeSshd
) -> None:
    states = states_of(transport)
    await transport.run(["echo", "warm"])
    await sshd.stop()
    await wait_until(lambda: transport.state == ConnState.DISCONNECTED)
    with pytest.raises(UnreachableError) as info:
        await transport.run(["echo", "x"])
    assert "connection refused" in str(info.value)
    assert states.count("connecting") == 1 + 3  # first connect, then each backoff step
    # A full failed round is not repeated on every call: one quick try.
    with pytest.raises(UnreachableError):
        await transport.run(["echo", "x"])
    assert states.count("connecting") == 5
    await sshd.start()  # same port
    assert (await transport.run(["echo", "back"])).stdout == "back\n"
    assert transport.state == ConnState.CONNECTED and transport.last_error == ""


# ---------------------------------------------------------------------------------- refusals


async def test_changed_host_key_is_refused_with_fingerprint(sshd: FakeSshd, tmp_path: Path) -> None:
    (tmp_path / "known_hosts").write_text(known_hosts_line(sshd.port, OTHER_KEY))
    t = SshTransport(make_host(tmp_path, sshd.port))
    states = states_of(t)
    with pytest.raises(HostKeyError) as info:
        await t.run(["echo", "x"])
    msg = str(info.value)
    assert msg.startswith(f"web1: host key of 127.0.0.1:{sshd.port} does NOT match")
    assert f"ssh-ed25519 {FINGERPRINT}" in msg and "refusing to connect" in msg
    assert info.value.fingerprint == f"ssh-ed25519 {FINGERPRINT}"
    assert "\n" not in msg and sshd.seen.commands == []
    assert t.state == ConnState.FAILED and t.last_error == msg
    assert states == ["connecting", "failed"]


async def test_unknown_host_is_refused(sshd: FakeSshd, tmp_path: Path) -> None:
    (tmp_path / "known_hosts").write_text("")
    t = SshTransport(make_host(tmp_path, sshd.port))
    with pytest.raises(HostKeyError) as info:
        await t.connect()
    msg = str(info.value)
    assert f"host key of 127.0.0.1:{sshd.port} is unknown: not in {tmp_path}/known_hosts" in msg
    assert FINGERPRINT in msg and msg.endswith(f"add it to {tmp_path}/known_hosts")
    assert sshd.seen.commands == []


async def test_missing_known_hosts_file_is_refused(sshd: FakeSshd, tmp_path: Path) -> None:
    t = SshTransport(make_host(tmp_path, sshd.port, known_hosts=""))  # -> ~/.ssh/known_hosts
    with pytest.raises(HostKeyError) as info:
        await t.connect()
    msg = str(info.value)
    assert f"no known_hosts file at {tmp_path}/home/.ssh/known_hosts" in msg
    assert FINGERPRINT in msg and "refusing to connect" in msg


async def test_wrong_key_is_an_auth_error(sshd: FakeSshd, tmp_path: Path) -> None:
    bad = write_key(tmp_path / "other_key", OTHER_KEY)
    t = SshTransport(make_host(tmp_path, sshd.port, identity_file=bad))
    with pytest.raises(AuthError) as info:
        await t.run(["echo", "x"])
    msg = str(info.value)
    assert msg.startswith(f"web1: authentication failed for deploy@127.0.0.1:{sshd.port}")
    assert f"tried key {bad}" in msg and "\n" not in msg
    assert t.state == ConnState.FAILED


async def test_unreadable_identity_file_is_an_auth_error(sshd: FakeSshd, tmp_path: Path) -> None:
    t = SshTransport(make_host(tmp_path, sshd.port, identity_file=str(tmp_path / "nope")))
    with pytest.raises(AuthError, match="cannot read identity_file"):
        await t.connect()


async def test_refused_port_is_unreachable(tmp_path: Path) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    t = SshTransport(make_host(tmp_path, port))
    with pytest.raises(UnreachableError) as info:
        await t.connect()
    assert str(info.value) == f"web1: cannot reach deploy@127.0.0.1:{port}: connection refused"


async def test_silent_server_times_out(tmp_path: Path) -> None:
    accepted: list[asyncio.StreamWriter] = []
    server = await asyncio.start_server(lambda r, w: accepted.append(w), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    t = SshTransport(make_host(tmp_path, port), connect_timeout=0.3)
    with pytest.raises(UnreachableError, match=r"timed out after 0\.3s"):
        await t.connect()
    for writer in accepted:
        writer.close()
    server.close()
    await server.wait_closed()


# ---------------------------------------------------------------------------------- extras


async def test_forward_local_port(transport: SshTransport) -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()

    target = await asyncio.start_server(echo, "127.0.0.1", 0)
    target_port = target.sockets[0].getsockname()[1]
    port = await transport.forward_local_port("127.0.0.1", target_port)
    assert port != target_port
    assert await transport.forward_local_port("127.0.0.1", target_port) == port  # cached
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"ping\n")
    assert await reader.readline() == b"ping\n"
    writer.close()
    await transport.close()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
    target.close()


async def test_forward_keeps_its_local_port_across_a_reconnect(transport: SshTransport) -> None:
    target = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    target_port = target.sockets[0].getsockname()[1]
    port = await transport.forward_local_port("127.0.0.1", target_port)
    with pytest.raises(ConnectionLostError):
        await transport.run(["drop"])
    assert await transport.forward_local_port("127.0.0.1", target_port) == port
    target.close()


async def test_proxy_jump(sshd: FakeSshd, tmp_path: Path) -> None:
    host = make_host(tmp_path, sshd.port, proxy_jump=f"jumper@127.0.0.1:{sshd.port}")
    t = SshTransport(host)
    assert (await t.run(["echo", "via", "jump"])).stdout == "via jump\n"
    assert sshd.seen.connections == 2 and sshd.seen.users == ["jumper", "deploy"]
    await t.close()


async def test_proxy_jump_errors_name_the_hop(sshd: FakeSshd, tmp_path: Path) -> None:
    host = make_host(tmp_path, sshd.port, proxy_jump="127.0.0.1:1")
    with pytest.raises(UnreachableError) as info:
        await SshTransport(host).connect()
    assert str(info.value).startswith("web1: jump host 127.0.0.1:1: cannot reach 127.0.0.1:1")


async def test_server_refusing_a_channel_is_a_transport_error(
    transport: SshTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    await transport.connect()
    conn = transport._conn
    assert conn is not None

    async def refuse(*args: Any, **kw: Any) -> Any:
        raise asyncssh.ChannelOpenError(asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, "no more")

    monkeypatch.setattr(conn, "create_process", refuse)
    with pytest.raises(TransportError, match="refused to start echo x: no more"):
        await transport.run(["echo", "x"])


def test_parse_jumps() -> None:
    assert parse_jumps("") == []
    # an unset port is 0: that hop's ~/.ssh/config entry, else 22, decides (see ssh_target)
    assert parse_jumps("bastion") == [Endpoint("", "bastion", 0)]
    assert parse_jumps("ops@bastion:2222, [::1]:22,me@[fe80::1]") == [
        Endpoint("ops", "bastion", 2222),
        Endpoint("", "::1", 22),
        Endpoint("me", "fe80::1", 0),
    ]
    assert str(Endpoint("me", "::1", 22)) == "me@[::1]:22"
    for bad in ("host:abc", "host:0", "@:22", "host:70000"):
        with pytest.raises(ValueError, match="bad proxy_jump hop"):
            parse_jumps(bad)


async def test_bad_proxy_jump_is_a_one_line_error(tmp_path: Path) -> None:
    t = SshTransport(make_host(tmp_path, 22, proxy_jump="bastion:nope"))
    with pytest.raises(UnreachableError, match=r"^web1: bad proxy_jump hop 'bastion:nope'"):
        await t.connect()


def test_make_transport_picks_ssh(tmp_path: Path) -> None:
    assert isinstance(make_transport(make_host(tmp_path, 22)), SshTransport)
