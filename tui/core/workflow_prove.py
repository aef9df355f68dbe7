"""Proof that the app serves the version deployed: its status URL, asked over fresh connections
until every worker had a chance to answer, reports it. (What the processes run from is the
backend's half of the proof: ``Backend.prove_serving``.)"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from tui.core.config import Config
from tui.core.transport import Transport


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
