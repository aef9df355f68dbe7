"""~/.ssh/config honoured against real OpenSSH: a host given only as an alias is reached with
the config's HostName, Port, User, IdentityFile and ProxyJump, through a second real sshd of
this test's own acting as the bastion.

The bug this guards: shipdeck passed port=22 for an unset port, which overrode the config's
``Port``, so the bastion was asked for ``app1:22`` and refused. Every run uses a temp HOME (its
own ~/.ssh/config and known_hosts), never the tester's.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.rigenv import REPO, RigEnv, wait_until
from tui.core.ssh_target import Endpoint
from tui.core.transport import SshTransport, UnreachableError

SSHD = "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(word) for word in text.split()]


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


class Bastion:
    """A second real sshd on 127.0.0.1, the jump host: its own host key, port and pid file,
    otherwise the rig's sshd_config (so the rig's deploy user and client key log in), with
    LogLevel DEBUG1 so its log shows every direct-tcpip channel it opens and to where."""

    def __init__(self, rig: RigEnv, workdir: Path) -> None:
        workdir.mkdir()
        self.dir = workdir
        self.host_key = workdir / "ssh_host_ed25519_key"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "shipdeck-test-bastion",
             "-f", str(self.host_key)],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        self.port = free_port()
        template = (rig.dir / "ssh" / "sshd_config").read_text().splitlines()
        own = ("Port ", "PidFile ", "HostKey ", "LogLevel ")
        self.config = workdir / "sshd_config"
        self.config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    f"HostKey {self.host_key}",
                    f"PidFile {workdir}/sshd.pid",
                    "LogLevel DEBUG1",
                    *(line for line in template if not line.startswith(own)),
                ]
            )
            + "\n"
        )
        test = subprocess.run(
            [SSHD, "-t", "-f", str(self.config)], capture_output=True, text=True, timeout=30
        )
        assert test.returncode == 0, f"sshd -t rejected {self.config}: {test.stderr.strip()}"
        self.log = workdir / "sshd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def known_hosts_line(self) -> str:
        alg, key = self.host_key.with_suffix(".pub").read_text().split()[:2]
        return f"[127.0.0.1]:{self.port} {alg} {key}"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(self.config)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_until(lambda: listening(self.port), 10, what=f"the bastion sshd on {self.port}")

    def tunnel_targets(self) -> list[tuple[str, int]]:
        """(host, port) of each direct-tcpip channel the bastion opened, from its log."""
        text = self.log.read_text(errors="replace")
        found = re.findall(r"server_request_direct_tcpip: .*target (\S+) port (\d+)", text)
        return [(host, int(port)) for host, port in found]

    def stop(self) -> None:
        """End the sessions our sshd forked, then the listener: only processes started here,
        each by its PID."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        for pid in descendants(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        # the listener reaps its sessions; wait for that before ending it
        wait_until(lambda: not children(proc.pid), 10, what="the bastion's sessions to end")
        proc.terminate()
        proc.wait(timeout=10)
        wait_until(lambda: not listening(self.port), 10, what="the bastion to stop listening")


@pytest.fixture
def bastion(rig: RigEnv, tmp_path: Path) -> Iterator[Bastion]:
    b = Bastion(rig, tmp_path / "bastion")
    b.start()
    try:
        yield b
    finally:
        b.stop()


def write_home(rig: RigEnv, home: Path, bastion: Bastion, dead_port: int) -> None:
    """~/.ssh/config as in the bug report (plus `app1-wrong-port`, whose Port is dead), and
    the known_hosts file its `Host *` block names, holding both sshds' keys."""
    ssh = home / ".ssh"
    ssh.mkdir(parents=True)
    (ssh / "known_hosts.work").write_text(
        rig.known_hosts.read_text().strip() + "\n" + bastion.known_hosts_line() + "\n"
    )
    (ssh / "config").write_text(
        f"""\
Host app1
    HostName 127.0.0.1
    Port {rig.ssh_port}
    User {rig.user}
    IdentityFile {rig.ssh_key}
    ProxyJump bastion

Host app1-wrong-port
    HostName 127.0.0.1
    Port {dead_port}
    User {rig.user}
    IdentityFile {rig.ssh_key}
    ProxyJump bastion

Host bastion
    HostName 127.0.0.1
    Port {bastion.port}
    User {rig.user}
    IdentityFile {rig.ssh_key}
    IdentitiesOnly yes

Host *
    UserKnownHostsFile ~/.ssh/known_hosts.work
    ServerAliveInterval 5
    ServerAliveCountMax 3
"""
    )


def shipdeck_config(rig: RigEnv, path: Path, host_block: str) -> Path:
    """The rig's config with its [[hosts]] table replaced by `host_block`."""
    text = rig.config.read_text()
    new, count = re.subn(
        r"^\[\[hosts\]\]\n(?:[^\[\n].*\n)*", "[[hosts]]\n" + host_block, text, flags=re.M
    )
    assert count == 1, "the rig config has one [[hosts]] table"
    path.write_text(new)
    return path


@pytest.fixture
def setup(
    rig: RigEnv, bastion: Bastion, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> SimpleNamespace:
    home = tmp_path / "home"
    dead_port = free_port()
    write_home(rig, home, bastion, dead_port)
    # the in-process checks read ~/.ssh/config through HOME, like the subprocesses below
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPDECK_", "XDG_"))}
    env.update(
        HOME=str(home),
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        XDG_DATA_HOME=str(tmp_path / "data"),
    )
    env.pop("SSH_AUTH_SOCK", None)
    return SimpleNamespace(home=home, dead_port=dead_port, env=env, tmp=tmp_path)


def shipdeck_status(setup: SimpleNamespace, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", "status", "--config", str(config),
         "--journal", str(setup.tmp / "journal.db")],
        cwd=REPO, env=setup.env, capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def bare_host(address: str, port: int = 0) -> SimpleNamespace:
    """A [[hosts]] entry with nothing but its name and address (and maybe a port)."""
    return SimpleNamespace(
        name="rig", address=address, port=port, user="", identity_file="", known_hosts="",
        proxy_jump="", group="default", transport="ssh", keepalive_s=15,
    )  # fmt: skip


async def test_an_alias_only_host_goes_through_the_ssh_config_jump(
    rig: RigEnv, bastion: Bastion, setup: SimpleNamespace
) -> None:
    config = shipdeck_config(rig, setup.tmp / "shipdeck.toml", 'name = "rig"\naddress = "app1"\n')
    res = shipdeck_status(setup, config)
    assert res.returncode == 0, f"shipdeck status exited {res.returncode}: {res.stderr.strip()}"
    assert res.stdout.startswith(f"app {rig.app_name} on rig") and "live: version" in res.stdout
    # the bastion really carried it, and asked for the config's Port, not 22
    assert bastion.tunnel_targets() and set(bastion.tunnel_targets()) == {
        ("127.0.0.1", rig.ssh_port)
    }

    before = len(bastion.tunnel_targets())
    t = SshTransport(bare_host("app1"))
    try:
        r = await t.run(["sh", "-c", 'echo "$(id -un) $SSH_CONNECTION"'])
        user, _, _, server, port = r.stdout.split()
        assert (user, server, int(port)) == (rig.user, "127.0.0.1", rig.ssh_port)
        assert t.target == Endpoint(rig.user, "app1", rig.ssh_port, "127.0.0.1")
        assert len(bastion.tunnel_targets()) == before + 1
    finally:
        await t.close()


async def test_a_port_given_in_shipdecks_config_wins(
    rig: RigEnv, bastion: Bastion, setup: SimpleNamespace
) -> None:
    # ~/.ssh/config's Port for app1-wrong-port is dead: unset, that port is used, and named
    t = SshTransport(bare_host("app1-wrong-port"))
    with pytest.raises(UnreachableError) as info:
        await t.connect()
    assert str(info.value) == (
        f"rig: cannot reach {rig.user}@app1-wrong-port:{setup.dead_port} (127.0.0.1): the jump"
        " host could not open a connection to it: Connection refused"
    )
    assert bastion.tunnel_targets()[-1] == ("127.0.0.1", setup.dead_port)
    # given in shipdeck's config, the port wins
    block = f'name = "rig"\naddress = "app1-wrong-port"\nport = {rig.ssh_port}\n'
    config = shipdeck_config(rig, setup.tmp / "shipdeck.toml", block)
    res = shipdeck_status(setup, config)
    assert res.returncode == 0, f"shipdeck status exited {res.returncode}: {res.stderr.strip()}"
    assert bastion.tunnel_targets()[-1] == ("127.0.0.1", rig.ssh_port)


async def test_with_the_bastion_down_the_error_names_the_jump_host(
    rig: RigEnv, bastion: Bastion, setup: SimpleNamespace
) -> None:
    t = SshTransport(bare_host("app1"))
    try:
        assert (await t.run(["true"])).ok  # up: it works
    finally:
        await t.close()
    bastion.stop()
    jump = f"jump host {rig.user}@bastion:{bastion.port} (127.0.0.1)"
    with pytest.raises(UnreachableError) as info:
        await SshTransport(bare_host("app1")).connect()
    assert str(info.value) == (
        f"rig: {jump}: cannot reach {rig.user}@bastion:{bastion.port} (127.0.0.1):"
        " connection refused"
    )
    config = shipdeck_config(rig, setup.tmp / "shipdeck.toml", 'name = "rig"\naddress = "app1"\n')
    res = shipdeck_status(setup, config)
    assert res.returncode != 0 and jump in res.stdout + res.stderr
