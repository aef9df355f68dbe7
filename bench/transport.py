"""Reused SSH connection vs a fresh connection per command, against the rig's sshd.

    rig/up && python bench/transport.py [--n 100] [--env rig/.run/env.sh]

Prints {"reused_ms_per_cmd": .., "fresh_ms_per_cmd": .., "ratio": ..} (ratio = fresh/reused).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
import time
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tui.core.transport import SshTransport  # noqa: E402


def rig_host(env_file: Path) -> SimpleNamespace:
    env: dict[str, str] = {}
    for line in env_file.read_text().splitlines():
        words = shlex.split(line, comments=True)
        if len(words) == 2 and words[0] == "export":
            key, _, value = words[1].partition("=")
            env[key] = value
    return SimpleNamespace(
        name="rig",
        address=env.get("SHIPDECK_RIG_HOST", "127.0.0.1"),
        port=int(env["SHIPDECK_RIG_SSH_PORT"]),
        user=env["SHIPDECK_RIG_USER"],
        identity_file=env["SHIPDECK_RIG_SSH_KEY"],
        known_hosts=env["SHIPDECK_RIG_KNOWN_HOSTS"],
        proxy_jump="",
        group="default",
        transport="ssh",
        keepalive_s=15,
    )


async def reused(host: SimpleNamespace, n: int) -> float:
    t = SshTransport(host)
    try:
        await t.run(["true"], check=True)  # connect outside the timing
        t0 = time.perf_counter()
        for _ in range(n):
            await t.run(["true"], check=True)
        return (time.perf_counter() - t0) * 1000 / n
    finally:
        await t.close()


async def fresh(host: SimpleNamespace, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        t = SshTransport(host)
        await t.run(["true"], check=True)
        await t.close()
    return (time.perf_counter() - t0) * 1000 / n


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--env", type=Path, default=REPO / "rig" / ".run" / "env.sh")
    args = parser.parse_args()
    try:
        host = rig_host(args.env)
    except (OSError, KeyError) as err:
        sys.exit(f"bench/transport.py: cannot read the rig's env ({err}); run rig/up first")
    reused_ms = await reused(host, args.n)
    fresh_ms = await fresh(host, args.n)
    print(
        json.dumps(
            {
                "reused_ms_per_cmd": round(reused_ms, 2),
                "fresh_ms_per_cmd": round(fresh_ms, 2),
                "ratio": round(fresh_ms / reused_ms, 2),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
