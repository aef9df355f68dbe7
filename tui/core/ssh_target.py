"""Where an SSH hop really goes: a [[hosts]] key given in shipdeck's config wins, else what
~/.ssh/config says for that host, else OpenSSH's default (port 22, the local user, the agent and
the default keys).

shipdeck hands asyncssh only what the operator gave (connect_options) and lets asyncssh read
~/.ssh/config for the rest, as ``ssh`` would: passing ``port=22`` for an unset port would
override the file's ``Port``. resolve() asks the same parser (asyncssh's SSHClientConfig) what
that rest is, so messages name the port and user really used, host keys are looked up under
the name really dialled (``HostName``), and a ``ProxyJump`` of ~/.ssh/config is opened hop by
hop like one from shipdeck's config, each hop named in its errors.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.core.ssh_lib import asyncssh

DEFAULT_PORT = 22
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
SSH_CONFIG_NAME = "~/.ssh/config"


def user_ssh_config() -> list[str] | None:
    """``[~/.ssh/config]`` if that file exists, else None (asyncssh then loads no file)."""
    path = Path.home() / ".ssh" / "config"
    return [str(path)] if path.is_file() else None


@dataclass(frozen=True)
class Endpoint:
    """One SSH hop.

    As given (shipdeck's config, a proxy_jump hop): "" / 0 = not given. As resolved: ``user`` is
    the login user ("" = the local user's name), ``port`` the port really used, and
    ``hostname`` what ``address`` really dials when ~/.ssh/config's HostName says so.
    """

    user: str
    address: str
    port: int = 0
    hostname: str = ""

    @property
    def hostport(self) -> str:
        addr = f"[{self.address}]" if ":" in self.address else self.address
        text = f"{addr}:{self.port}" if self.port else addr
        if self.hostname and self.hostname != self.address:
            text += f" ({self.hostname})"
        return text

    @property
    def dialled(self) -> str:
        """The host name or address the TCP connection goes to (and known_hosts is searched for)."""
        return self.hostname or self.address

    def __str__(self) -> str:
        return f"{self.user}@{self.hostport}" if self.user else self.hostport


def parse_jumps(spec: str) -> list[Endpoint]:
    """``[ssh://][user@]host[:port]`` hops, comma-separated, like OpenSSH's ProxyJump.

    An unset user or port is 0 / "": that hop's ~/.ssh/config entry (or the default) decides.
    """
    hops = []
    for raw in filter(None, (part.strip() for part in spec.split(","))):
        user, _, rest = raw.removeprefix("ssh://").rpartition("@")
        addr, port_s = rest, None  # None: no port given
        if rest.startswith("["):  # [v6addr]:port
            addr, _, tail = rest[1:].partition("]")
            port_s = tail[1:] if tail.startswith(":") else None
        elif rest.count(":") == 1:
            addr, _, port_s = rest.partition(":")
        port = 0 if port_s is None else int(port_s) if port_s.isdigit() else -1
        if not addr or (port_s is not None and not 0 < port < 65536):
            raise ValueError(f"bad proxy_jump hop {raw!r} (want [user@]host[:port])")
        hops.append(Endpoint(user, addr, port))
    return hops


@dataclass(frozen=True)
class Resolved:
    """A hop as ssh will reach it: its Endpoint for messages, and what ~/.ssh/config adds."""

    endpoint: Endpoint
    identity_files: tuple[str, ...] = ()  # IdentityFile (asyncssh uses them unless one is given)
    known_hosts: tuple[str, ...] | None = None  # UserKnownHostsFile; None = not said
    proxy_jump: str = ""  # ProxyJump; "" = none


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for our uid
        return ""


def resolve(given: Endpoint, config: Sequence[str] | None) -> Resolved:
    """What ``ssh`` would use for ``given`` with these config files (None = none).

    Raises ValueError (asyncssh's ConfigParseError) or OSError for a file it cannot use.
    """
    cfg: Any = asyncssh.config.SSHClientConfig.load(
        None, list(config or ()), False, False, False,
        _local_user(), given.user or (), given.address, given.port or (),
    )  # fmt: skip
    hostname = str(cfg.get("Hostname") or given.address)
    endpoint = Endpoint(
        str(cfg.get("User") or ""),
        given.address,
        int(cfg.get("Port") or DEFAULT_PORT),
        hostname if hostname != given.address else "",
    )
    known = cfg.get("UserKnownHostsFile")
    return Resolved(
        endpoint,
        identity_files=tuple(str(p) for p in cfg.get("IdentityFile") or ()),
        known_hosts=None if known is None else tuple(str(p) for p in known),
        proxy_jump=str(cfg.get("ProxyJump") or ""),
    )


def known_hosts_files(given: str, resolved: Resolved) -> list[Path]:
    """The known_hosts files a hop's key is checked against, never none: the [[hosts]] key if
    given, else ~/.ssh/config's UserKnownHostsFile (those that exist, else the first it names),
    else ~/.ssh/known_hosts. ``UserKnownHostsFile none`` does not turn checking off."""
    if given:
        return [Path(os.path.expanduser(given))]
    listed = [Path(os.path.expanduser(p)) for p in resolved.known_hosts or ()]
    present = [p for p in listed if p.is_file()]
    return present or listed[:1] or [Path(os.path.expanduser(DEFAULT_KNOWN_HOSTS))]


def connect_options(
    given: Endpoint,
    *,
    identity_file: str,
    known_hosts: Sequence[Path],
    config: Sequence[str] | None,
) -> dict[str, Any]:
    """asyncssh.connect() keywords for one hop: only what shipdeck's config gives.

    An unset port, user or identity_file is left out, so asyncssh takes it from ``config``
    (~/.ssh/config) or its OpenSSH defaults. known_hosts is always passed: host keys are
    checked against a file, never skipped.
    """
    files = [str(p) for p in known_hosts]
    opts: dict[str, Any] = {
        "known_hosts": files[0] if len(files) == 1 else files,
        # None = load no config file; asyncssh would otherwise look for one itself.
        "config": list(config) if config else None,
    }
    if given.port:
        opts["port"] = given.port
    if given.user:
        opts["username"] = given.user
    if identity_file:
        opts["client_keys"] = [os.path.expanduser(identity_file)]
    return opts
