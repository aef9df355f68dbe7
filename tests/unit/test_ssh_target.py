"""A [[hosts]] entry -> asyncssh's connect options and the endpoint messages name.

Given keys win; unset ones (port 0, user/identity_file/known_hosts/proxy_jump "") are left to
~/.ssh/config, else OpenSSH's defaults. The mapping is checked as data first, then through
SshTransport against asyncssh's in-process server with a real ~/.ssh/config in a temp HOME.
The real-sshd version (a second sshd as the jump host) is tests/integration/test_ssh_config.py.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.unit.test_transport_asyncssh_server import (
    CLIENT_KEY,
    HOST_KEY,
    FakeSshd,
    known_hosts_line,
    write_key,
)
from tui.core.config import load_config
from tui.core.ssh_target import (
    Endpoint,
    Resolved,
    connect_options,
    known_hosts_files,
    parse_jumps,
    resolve,
    user_ssh_config,
)
from tui.core.transport import SshTransport, UnreachableError

SSH_CONFIG = """\
Host app1
    HostName 127.0.0.1
    Port {port}
    User deploy
    IdentityFile {key}
    ProxyJump bastion

Host bastion
    HostName 127.0.0.1
    Port {jump_port}
    User jumper
    IdentityFile {key}

Host direct
    HostName 127.0.0.1
    Port {port}
    User deploy
    IdentityFile {key}

Host *
    UserKnownHostsFile KNOWN_HOSTS
    ServerAliveInterval 5
"""


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A temp HOME (never the tester's ~/.ssh) and no agent."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home


def write_ssh_config(home: Path, *, port: int, jump_port: int, known: tuple[int, ...] = ()) -> Path:
    """~/.ssh/config as in the bug report; its known_hosts file knows `known` ports too."""
    key = write_key(home / ".ssh" / "id_app", CLIENT_KEY)
    known_file = home / ".ssh" / "known_hosts_work"
    lines = {known_hosts_line(p, HOST_KEY) for p in (port, jump_port, *known)}
    known_file.write_text("\n".join(sorted(lines)) + "\n")
    path = home / ".ssh" / "config"
    text = SSH_CONFIG.format(port=port, jump_port=jump_port, key=key)
    path.write_text(text.replace("KNOWN_HOSTS", "~/.ssh/known_hosts_work"))
    return path


def bare_host(address: str, **over: Any) -> SimpleNamespace:
    """What load_config makes of `name = "web1"` + `address = ...` and nothing else."""
    fields = {
        "name": "web1",
        "address": address,
        "port": 0,
        "user": "",
        "identity_file": "",
        "known_hosts": "",
        "proxy_jump": "",
        "group": "default",
        "transport": "ssh",
        "keepalive_s": 15,
    }
    fields.update(over)
    return SimpleNamespace(**fields)


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------- the mapping


def test_unset_keys_are_not_passed_so_ssh_config_decides() -> None:
    opts = connect_options(
        Endpoint("", "app1", 0), identity_file="", known_hosts=[Path("/kh")], config=["/c"]
    )
    assert opts == {"known_hosts": "/kh", "config": ["/c"]}  # no port=22, no username


def test_given_keys_are_passed_and_win() -> None:
    opts = connect_options(
        Endpoint("ops", "app1", 2222),
        identity_file="~/id_ops",
        known_hosts=[Path("/a"), Path("/b")],
        config=None,
    )
    assert opts["port"] == 2222 and opts["username"] == "ops"
    assert opts["client_keys"] == [str(Path("~/id_ops").expanduser())]
    assert opts["known_hosts"] == ["/a", "/b"] and opts["config"] is None


def test_the_minimal_config_leaves_port_user_and_keys_unset(tmp_path: Path) -> None:
    path = tmp_path / "shipdeck.toml"
    path.write_text(
        '[app]\nname = "a"\nroot = "/srv/a"\n[[hosts]]\nname = "web1"\naddress = "app1"\n'
    )
    host = load_config(path).hosts[0]
    assert (host.port, host.user, host.identity_file, host.proxy_jump) == (0, "", "", "")
    given = Endpoint(host.user, host.address, host.port)
    opts = connect_options(given, identity_file="", known_hosts=[Path("/kh")], config=None)
    assert not {"port", "username", "client_keys"} & set(opts)


def test_resolve_reads_port_user_hostname_keys_and_jump(home: Path) -> None:
    config = write_ssh_config(home, port=22022, jump_port=2200)
    assert user_ssh_config() == [str(config)]  # found through $HOME
    res = resolve(Endpoint("", "app1", 0), [str(config)])
    assert res.endpoint == Endpoint("deploy", "app1", 22022, "127.0.0.1")
    assert str(res.endpoint) == "deploy@app1:22022 (127.0.0.1)"
    assert res.identity_files == (str(home / ".ssh" / "id_app"),)
    assert res.known_hosts == ("~/.ssh/known_hosts_work",)
    assert res.proxy_jump == "bastion"
    assert resolve(Endpoint("", "bastion", 0), [str(config)]).endpoint == Endpoint(
        "jumper", "bastion", 2200, "127.0.0.1"
    )


def test_resolve_given_values_win(home: Path) -> None:
    config = write_ssh_config(home, port=22022, jump_port=2200)
    res = resolve(Endpoint("ops", "app1", 2222), [str(config)])
    assert res.endpoint == Endpoint("ops", "app1", 2222, "127.0.0.1")


def test_resolve_without_a_config_is_openssh_defaults(home: Path) -> None:
    assert user_ssh_config() is None
    res = resolve(Endpoint("", "app1", 0), None)
    assert res == Resolved(Endpoint("", "app1", 22))
    assert str(res.endpoint) == "app1:22"


def test_resolve_a_bad_config_raises_one_line(home: Path) -> None:
    bad = home / ".ssh" / "config"
    bad.write_text("Host app1\n    Port nope\n")
    with pytest.raises(ValueError, match="Port"):
        resolve(Endpoint("", "app1", 0), [str(bad)])


def test_known_hosts_files_given_then_ssh_config_then_default(home: Path) -> None:
    (home / "b").write_text("")
    listed = Resolved(Endpoint("", "x", 22), known_hosts=("~/a", "~/b"))
    assert known_hosts_files("/given", listed) == [Path("/given")]
    assert known_hosts_files("", listed) == [home / "b"]  # the ones that exist
    (home / "b").unlink()
    assert known_hosts_files("", listed) == [home / "a"]  # else the first named
    # `UserKnownHostsFile none` never turns checking off: the default file is still used
    for unset in (None, ()):
        res = Resolved(Endpoint("", "x", 22), known_hosts=unset)
        assert known_hosts_files("", res) == [home / ".ssh" / "known_hosts"]


def test_parse_jumps_leaves_unset_ports_to_ssh_config() -> None:
    assert parse_jumps("ssh://ops@bastion, gw:2222") == [
        Endpoint("ops", "bastion", 0),
        Endpoint("", "gw", 2222),
    ]
    for bad in ("gw:0", "gw:", "gw:x"):
        with pytest.raises(ValueError, match="bad proxy_jump hop"):
            parse_jumps(bad)


# ------------------------------------------------- through SshTransport (in-process sshd)


@pytest.fixture
async def sshd() -> AsyncIterator[FakeSshd]:
    server = await FakeSshd().start()
    yield server
    with contextlib.suppress(Exception):
        await server.stop()


@pytest.fixture
async def jumper() -> AsyncIterator[FakeSshd]:
    server = await FakeSshd().start()
    yield server
    with contextlib.suppress(Exception):
        await server.stop()


async def test_alias_only_host_uses_ssh_config(home: Path, sshd: FakeSshd) -> None:
    write_ssh_config(home, port=sshd.port, jump_port=dead_port())
    t = SshTransport(bare_host("direct"))
    assert t.target == Endpoint("deploy", "direct", sshd.port, "127.0.0.1")
    try:
        assert (await t.run(["echo", "hi"])).stdout == "hi\n"
        assert sshd.seen.users == ["deploy"]
    finally:
        await t.close()


async def test_ssh_config_proxy_jump_is_a_named_hop(
    home: Path, sshd: FakeSshd, jumper: FakeSshd
) -> None:
    write_ssh_config(home, port=sshd.port, jump_port=jumper.port)
    t = SshTransport(bare_host("app1"))
    try:
        assert (await t.run(["echo", "via"])).stdout == "via\n"
        assert jumper.seen.users == ["jumper"] and jumper.seen.commands == []
        assert sshd.seen.users == ["deploy"]
    finally:
        await t.close()
    await jumper.stop()
    t = SshTransport(bare_host("app1"))
    with pytest.raises(UnreachableError) as info:
        await t.connect()
    assert str(info.value) == (
        f"web1: jump host jumper@bastion:{jumper.port} (127.0.0.1): cannot reach"
        f" jumper@bastion:{jumper.port} (127.0.0.1): connection refused"
    )


async def test_the_target_message_names_the_port_really_used(home: Path) -> None:
    port = dead_port()
    write_ssh_config(home, port=port, jump_port=dead_port())
    t = SshTransport(bare_host("direct"))
    with pytest.raises(UnreachableError) as info:
        await t.connect()
    want = f"web1: cannot reach deploy@direct:{port} (127.0.0.1): connection refused"
    assert str(info.value) == want


async def test_a_given_port_and_user_win_over_ssh_config(home: Path, sshd: FakeSshd) -> None:
    write_ssh_config(home, port=dead_port(), jump_port=dead_port(), known=(sshd.port,))
    t = SshTransport(bare_host("direct", port=sshd.port, user="ops"))
    try:
        assert (await t.run(["echo", "x"])).ok
        assert sshd.seen.users == ["ops"]
        assert t.target == Endpoint("ops", "direct", sshd.port, "127.0.0.1")
    finally:
        await t.close()


async def test_a_given_proxy_jump_wins_over_ssh_config(
    home: Path, sshd: FakeSshd, jumper: FakeSshd
) -> None:
    # ~/.ssh/config's bastion is dead; the given jump host is known too
    write_ssh_config(home, port=sshd.port, jump_port=dead_port(), known=(jumper.port,))
    t = SshTransport(bare_host("app1", proxy_jump=f"other@127.0.0.1:{jumper.port}"))
    try:
        # the given hop has no key of its own here: the host's identity_file serves it
        t.host.identity_file = str(home / ".ssh" / "id_app")
        assert (await t.run(["echo", "x"])).ok
        assert jumper.seen.users == ["other"] and sshd.seen.users == ["deploy"]
    finally:
        await t.close()


async def test_a_proxy_jump_loop_in_ssh_config_is_one_line(home: Path) -> None:
    (home / ".ssh" / "config").write_text("Host *\n    ProxyJump loop\n")
    t = SshTransport(bare_host("app1"))
    with pytest.raises(UnreachableError, match=r"^web1: jump host loop:22: more than 8 jump"):
        await t.connect()


async def test_a_bad_ssh_config_is_one_line(home: Path) -> None:
    (home / ".ssh" / "config").write_text("Host app1\n    Port nope\n")
    t = SshTransport(bare_host("app1"))
    assert t.target == Endpoint("", "app1", 22)  # the constructor does not raise
    with pytest.raises(UnreachableError) as info:
        await t.connect()
    msg = str(info.value)
    assert msg.startswith("web1: cannot use ~/.ssh/config: ") and "\n" not in msg
