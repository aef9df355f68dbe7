"""SshTransport against the rig's real OpenSSH sshd (user ``deploy``, 127.0.0.1).

The shared contract runs here unchanged; then what only a real sshd can show: host key and
auth refusals, quoting through a real login shell, port forwards, and an sshd restart in the
middle of a command. The restart uses an sshd of this test's own (same host key and users, its
own port) so the rig's sshd, which other tests share, is never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.rigenv import RigEnv
from tests.transport_contract import NASTY, TransportContract, nul_joined, wait_file_text
from tui.core.ssh_lib import asyncssh
from tui.core.transport import (
    AuthError,
    ConnectionLostError,
    ConnState,
    HostKeyError,
    SshTransport,
    UnreachableError,
    make_transport,
    quote_command,
)


def rig_host(rig: RigEnv, **over: Any) -> SimpleNamespace:
    fields = {
        "name": "rig",
        "address": "127.0.0.1",
        "port": rig.ssh_port,
        "user": rig.user,
        "identity_file": str(rig.ssh_key),
        "known_hosts": str(rig.known_hosts),
        "proxy_jump": "",
        "group": "default",
        "transport": "ssh",
        "keepalive_s": 15,
    }
    fields.update(over)
    return SimpleNamespace(**fields)


def rig_host_key(rig: RigEnv) -> asyncssh.SSHKey:
    _, alg, data = rig.known_hosts.read_text().split()[:3]
    return asyncssh.import_public_key(f"{alg} {data}")


@pytest.fixture(autouse=True)
def _no_personal_ssh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Only what the host config says: no agent, no ~/.ssh of whoever runs the tests.
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
async def transport(rig: RigEnv) -> AsyncIterator[SshTransport]:
    t = SshTransport(rig_host(rig))
    yield t
    await t.close()


class TestSshContract(TransportContract):
    async def test_commands_run_as_the_target_user(self, transport: Any, rig: RigEnv) -> None:
        assert (await transport.run(["id", "-un"])).stdout == f"{rig.user}\n"


# ---------------------------------------------------------------------------------- refusals


async def test_wrong_host_key_is_refused_with_the_fingerprint(rig: RigEnv, tmp_path: Path) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{rig.ssh_port} {other}")
    t = SshTransport(rig_host(rig, known_hosts=str(known)))
    with pytest.raises(HostKeyError) as info:
        await t.run(["true"])
    fp = rig_host_key(rig).get_fingerprint("sha256")
    msg = str(info.value)
    assert msg.startswith(f"rig: host key of 127.0.0.1:{rig.ssh_port} does NOT match {known}")
    assert fp in msg and "refusing to connect" in msg and "\n" not in msg
    assert t.state == ConnState.FAILED and t.last_error == msg


async def test_unknown_host_is_refused(rig: RigEnv, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    with pytest.raises(HostKeyError) as info:
        await SshTransport(rig_host(rig, known_hosts=str(known))).connect()
    msg = str(info.value)
    assert f"host key of 127.0.0.1:{rig.ssh_port} is unknown: not in {known}" in msg
    assert rig_host_key(rig).get_fingerprint("sha256") in msg
    assert msg.endswith(f"check the key and add it to {known}")


async def test_no_known_hosts_file_is_refused(rig: RigEnv, tmp_path: Path) -> None:
    t = SshTransport(rig_host(rig, known_hosts=""))  # -> ~/.ssh/known_hosts, absent here
    with pytest.raises(HostKeyError) as info:
        await t.connect()
    assert f"no known_hosts file at {tmp_path}/home/.ssh/known_hosts" in str(info.value)
    assert rig_host_key(rig).get_fingerprint("sha256") in str(info.value)


async def test_key_not_authorized_is_an_auth_error(rig: RigEnv, tmp_path: Path) -> None:
    key = tmp_path / "id_fresh"
    key.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())
    key.chmod(0o600)
    t = SshTransport(rig_host(rig, identity_file=str(key)))
    with pytest.raises(AuthError) as info:
        await t.run(["true"])
    assert str(info.value) == (
        f"rig: authentication failed for deploy@127.0.0.1:{rig.ssh_port} (tried key {key};"
        " server says: Permission denied for user deploy on host 127.0.0.1);"
        " check user, identity_file and ssh-agent"
    )


async def test_user_not_allowed_is_an_auth_error(rig: RigEnv) -> None:
    with pytest.raises(AuthError, match=r"^rig: authentication failed for root@127\.0\.0\.1"):
        await SshTransport(rig_host(rig, user="root")).connect()


async def test_closed_port_is_unreachable(rig: RigEnv) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UnreachableError) as info:
        await SshTransport(rig_host(rig, port=port)).connect()
    assert str(info.value) == f"rig: cannot reach deploy@127.0.0.1:{port}: connection refused"


# ---------------------------------------------------------------------------------- quoting


def test_injection_property_over_real_sshd(rig: RigEnv) -> None:
    canary = Path(f"/tmp/shipdeck-canary-ssh-{uuid.uuid4().hex}")
    injections = [
        f"$(touch {canary})",
        f"`touch {canary}`",
        f"; touch {canary}",
        f"\ntouch {canary}",
    ]
    text = st.text(st.characters(exclude_characters="\0", exclude_categories=("Cs",)), max_size=30)
    arg = st.one_of(st.sampled_from(list(NASTY) + injections), text)

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(args=st.lists(arg, min_size=1, max_size=6), value=arg)
    def check(args: list[str], value: str) -> None:
        async def go() -> None:
            t = SshTransport(rig_host(rig))
            try:
                # Straight through the login shell, and once more through `sh -c` on top.
                r = await t.run(["printf", "%s\\0", *args], env={"SHIPDECK_V": value})
                assert r.ok and r.stdout == nul_joined(args), r.stderr
                line = quote_command(["printf", "%s\\0", *args])
                r = await t.run(["sh", "-c", line])
                assert r.ok and r.stdout == nul_joined(args), r.stderr
                r = await t.run(["printenv", "SHIPDECK_V"], env={"SHIPDECK_V": value})
                assert r.stdout == value + "\n"
            finally:
                await t.close()

        asyncio.run(go())
        assert not canary.exists()

    check()
    assert not canary.exists()


# ---------------------------------------------------------------------------------- extras


async def test_forward_local_port_reaches_the_app(transport: SshTransport, rig: RigEnv) -> None:
    port = await transport.forward_local_port("127.0.0.1", rig.app_port)
    assert port != rig.app_port
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(f"http://127.0.0.1:{port}/health")
    assert r.status_code == 200
    assert await transport.forward_local_port("127.0.0.1", rig.app_port) == port


async def test_proxy_jump_through_the_rig(rig: RigEnv) -> None:
    t = SshTransport(rig_host(rig, proxy_jump=f"{rig.user}@127.0.0.1:{rig.ssh_port}"))
    try:
        r = await t.run(["sh", "-c", "echo $SSH_CONNECTION"])
        # Through the jump the target sees a connection from sshd itself, not from us.
        assert r.ok and r.stdout.split()[2:] == ["127.0.0.1", str(rig.ssh_port)]
    finally:
        await t.close()


async def test_the_rig_config_host_works(rig: RigEnv) -> None:
    from tui.core.config import load_config

    host = load_config(rig.config).primary_host
    t = make_transport(host)
    try:
        assert (await t.run(["true"])).ok and t.state == ConnState.CONNECTED
    finally:
        await t.close()


# ---------------------------------------------------------------------------------- restart


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class OwnSshd:
    """An sshd of our own, configured like the rig's but on another port."""

    def __init__(self, rig: RigEnv, workdir: Path) -> None:
        self.port = free_port()
        self.dir = workdir
        template = (rig.dir / "ssh" / "sshd_config").read_text().splitlines()
        lines = [ln for ln in template if not ln.startswith(("Port ", "PidFile "))]
        self.config = workdir / "sshd_config"
        self.config.write_text(
            "\n".join([f"Port {self.port}", f"PidFile {workdir}/sshd.pid", *lines]) + "\n"
        )
        self.known_hosts = workdir / "known_hosts"
        key = rig.known_hosts.read_text().split()[1:3]
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {' '.join(key)}\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.dir / "sshd.log", "ab")  # noqa: SIM115 - sshd keeps it open
        self.proc = subprocess.Popen(
            ["/usr/sbin/sshd", "-D", "-e", "-f", str(self.config)], stdout=log, stderr=log
        )
        log.close()

    def wait_listening(self, deadline_s: float = 10.0) -> None:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.02)
        raise AssertionError(f"our sshd never listened on {self.port}")

    def stop(self) -> None:
        """Like a host's sshd restart: the listener and every session it forked go away."""
        if self.proc is None:
            return
        # Become the reaper of what our sshd forked, so its killed sessions do not linger as
        # zombies of PID 1 (which reaps late here). Only for this moment.
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        try:
            victims = descendants(self.proc.pid)  # all started by our sshd
            for pid in [self.proc.pid, *victims]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None
            reap(victims)
        finally:
            libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


PR_SET_CHILD_SUBREAPER = 36


def reap(pids: list[int], deadline_s: float = 10.0) -> None:
    """Wait until each killed pid is gone; reap those that were re-parented to us."""
    deadline = time.monotonic() + deadline_s
    left = set(pids)
    while left and time.monotonic() < deadline:
        for pid in list(left):
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    left.discard(pid)
            except ChildProcessError:  # not (or not yet) our child
                if not os.path.exists(f"/proc/{pid}"):
                    left.discard(pid)
        if left:
            time.sleep(0.01)


@pytest.fixture
def own_sshd(rig: RigEnv, tmp_path: Path) -> Iterator[OwnSshd]:
    sshd = OwnSshd(rig, tmp_path)
    sshd.start()
    sshd.wait_listening()
    yield sshd
    sshd.stop()


async def test_sshd_restart_mid_command_is_unknown_outcome_then_reconnects(
    rig: RigEnv, own_sshd: OwnSshd
) -> None:
    t = SshTransport(
        rig_host(rig, port=own_sshd.port, known_hosts=str(own_sshd.known_hosts), keepalive_s=2)
    )
    states: list[str] = []
    t.add_state_listener(lambda tr: states.append(str(tr.state)))
    try:
        scratch = (await t.run(["mktemp", "-d"], check=True)).stdout.strip()
        pidfile = f"{scratch}/pid"
        task = asyncio.create_task(
            t.run(["sh", "-c", 'echo $$ > "$1"; exec sleep 300', "sh", pidfile])
        )
        await wait_file_text(t, pidfile)

        own_sshd.stop()
        with pytest.raises(ConnectionLostError) as info:
            await asyncio.wait_for(task, 30)
        err = info.value
        assert err.unknown_outcome and "outcome unknown" in str(err) and "\n" not in str(err)
        assert t.state == ConnState.DISCONNECTED

        own_sshd.start()  # no waiting: the reconnect backoff covers sshd's start-up
        r = await t.run(["sh", "-c", 'cat "$1" && rm -rf "$2"', "sh", pidfile, scratch])
        assert r.ok and r.stdout.strip().isdigit()
        assert t.state == ConnState.CONNECTED
        assert states[:2] == ["connecting", "connected"]
        assert "disconnected" in states and states[-1] == "connected"
    finally:
        await t.close()


async def test_stream_interrupted_by_sshd_restart(rig: RigEnv, own_sshd: OwnSshd) -> None:
    t = SshTransport(rig_host(rig, port=own_sshd.port, known_hosts=str(own_sshd.known_hosts)))
    try:
        lines = t.stream(["sh", "-c", "echo started; exec sleep 300"])
        assert await asyncio.wait_for(anext(lines), 10) == ("stdout", "started")
        own_sshd.stop()
        with pytest.raises(ConnectionLostError):
            await asyncio.wait_for(anext(lines), 30)
        own_sshd.start()
        assert (await t.run(["echo", "back"])).stdout == "back\n"
    finally:
        await t.close()
