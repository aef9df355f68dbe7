"""Proof that pm2 serves what we deployed: process paths and the served version.

pm2 stores a process's cwd and script path when it starts it; with a symlinked `current` older
pm2 versions kept serving the old release after a reload (pm2 #1663, #5939). So a deploy is only
done when (a) every process's cwd and exec path resolve (readlink -f, on the host) into the new
release and (b) /api/status, asked over fresh connections, reports the new version.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from tui.core.config import Config
from tui.core.pm2 import Pm2Process, parse_jlist
from tui.core.transport import Transport
from tui.core.verify_checks import app_processes
from tui.core.workflow_steps import Commander


def pm2_env(config: Config) -> dict[str, str] | None:
    return {"PM2_HOME": config.app.pm2_home} if config.app.pm2_home else None


def pm2_argv(config: Config, argv: Iterable[str]) -> tuple[str, ...]:
    """A configured command naming plain `pm2` runs the configured pm2 binary."""
    args = list(argv)
    # Also after an `env K=V` prefix: the pm2 word is the first one that is not an assignment.
    start = 1 if args and args[0] == "env" else 0
    while start < len(args) and "=" in args[start] and start > 0:
        start += 1
    if start < len(args) and args[start] == "pm2":
        args[start] = config.app.pm2_bin
    return tuple(args)


async def jlist(cmd: Commander, config: Config, step: str) -> list[Pm2Process]:
    # keep_output=False: the process list carries every env value of the app (secrets).
    result = await cmd.run(
        [config.app.pm2_bin, "jlist"], step=step, env=pm2_env(config), timeout=60,
        quiet=True, keep_output=False,
    )  # fmt: skip
    return parse_jlist(result.stdout)


async def resolved_paths(cmd: Commander, step: str, paths: Iterable[str]) -> dict[str, str]:
    """path -> `readlink -f path` on the host (one command for all)."""
    wanted = sorted({p for p in paths if p})
    if not wanted:
        return {}
    result = await cmd.run(["readlink", "-f", "--", *wanted], step=step, check=False, quiet=True)
    lines = result.stdout.splitlines()
    return {p: (lines[i] if i < len(lines) else "") for i, p in enumerate(wanted)}


@dataclass(frozen=True)
class PathProof:
    ok: bool
    detail: str


async def prove_paths(
    cmd: Commander, config: Config, step: str, release_dir: str
) -> tuple[PathProof, list[Pm2Process]]:
    procs = app_processes(await jlist(cmd, config, step), config.app.name)
    if not procs:
        return PathProof(False, f"pm2 runs no process named {config.app.name}"), procs
    down = [p for p in procs if p.status != "online"]
    resolved = await resolved_paths(
        cmd, step, [release_dir, *(p.cwd for p in procs), *(p.exec_path for p in procs)]
    )
    real = resolved.get(release_dir, "") or release_dir
    stale = sorted(
        {
            f"{p.name}#{p.pm_id} {path} -> {resolved.get(path) or '?'}"
            for p in procs
            for path in (p.cwd, p.exec_path)
            if not _inside(resolved.get(path, ""), real)
        }
    )
    if stale:
        return PathProof(False, "serving another release: " + "; ".join(stale)), procs
    if down:
        names = ", ".join(f"{p.name}#{p.pm_id} {p.status}" for p in down)
        return PathProof(False, f"not online: {names}"), procs
    return PathProof(True, f"{len(procs)} process(es) online from {real}"), procs


def _inside(path: str, root: str) -> bool:
    root = root.rstrip("/")
    return bool(path) and (path == root or path.startswith(root + "/"))


def dig(data: Any, dotted: str) -> Any:
    for key in filter(None, dotted.split(".")):
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


async def local_url(transport: Transport, url: str) -> str:
    """The URL as reachable from here: through an SSH port forward when the host is remote."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    local_port = await transport.forward_local_port(host, port)
    if local_port == port and getattr(transport.host, "transport", "ssh") == "local":
        return url
    return urlunsplit((parts.scheme, f"127.0.0.1:{local_port}", parts.path, parts.query, ""))


async def fetch_status(client: httpx.AsyncClient, url: str, version_path: str) -> tuple[str, str]:
    """(version or "", one-line problem or "")."""
    try:
        resp = await client.get(url, headers={"Connection": "close"})
    except httpx.HTTPError as err:
        return "", f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    if resp.status_code != 200:
        return "", f"HTTP {resp.status_code}"
    try:
        version = dig(resp.json(), version_path)
    except (ValueError, json.JSONDecodeError):
        return "", "not JSON"
    return (str(version) if version is not None else ""), ""


async def wait_for_version(
    transport: Transport,
    config: Config,
    expected: str,
    *,
    deadline_s: float = 20.0,
    consecutive: int = 6,
) -> tuple[bool, str]:
    """Poll the status URL until ``consecutive`` fresh connections in a row report ``expected``
    (every cluster worker gets a chance to answer). Returns (ok, what was last seen)."""
    url = await local_url(transport, config.health.status_url)
    seen = ""
    streak = 0
    end = time.monotonic() + deadline_s
    async with httpx.AsyncClient(timeout=config.health.timeout_s) as client:
        while time.monotonic() < end:
            version, problem = await fetch_status(client, url, config.health.version_path)
            seen = version or problem
            streak = streak + 1 if version == expected else 0
            if streak >= consecutive:
                return True, f"{config.health.status_url} reports version {expected}"
            await asyncio.sleep(0.1 if version == expected else 0.3)
    return False, f"{config.health.status_url} reported {seen or 'nothing'}, not {expected}"
