"""Rollback time vs release size: shipdeck (switch `current` back + reload) next to the seed's
copy-based rollback (`rm -rf current/*; cp -r backup/* current/; pm2 restart`) on the same data.

For each size: an app of its own on the rig, main (1.1.0) deployed over v1.0.0, both releases
padded with SIZE MB of random files. Timed from the start of the rollback until /api/status
reports 1.0.0 (shipdeck's rollback returns only once it proved that). The seed's procedure then
runs on copies of the same two padded releases, as its own pm2 app. Needs the rig (rig/up).
Prints `{"sizes_mb": [..], "shipdeck_s": [..], "seed_copy_s": [..]}`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.test_workflow_support import (  # noqa: E402
    FIRST_RELEASE,
    OwnApp,
    free_port,
    live_release,
    make_own_app,
    remove_own_app,
    served_version,
    shipdeck,
    ssh,
    ssh_sh,
)
from tests.rigenv import ensure_rig_up  # noqa: E402
from tui.core.config import load_config  # noqa: E402
from tui.core.hosts import HostPool  # noqa: E402
from tui.core.journal import Journal  # noqa: E402
from tui.core.workflow import Workflow  # noqa: E402

SIZES_MB = (10, 500)
CHUNK_MB = 10

_PAD = r"""
dir=$1; n=$2; mkdir -p "$dir/pad"; i=0
while [ "$i" -lt "$n" ]; do head -c 10485760 /dev/urandom > "$dir/pad/f$i"; i=$((i + 1)); done
"""

_SEED_SETUP = r"""
base=$1; new=$2; old=$3; name=$4; port=$5
rm -rf "$base"; mkdir -p "$base/backup"
cp -a "$new" "$base/current"; cp -a "$old" "$base/backup/app-20260101-000000"
env SHIPDECK_APP_NAME="$name" PORT="$port" pm2 start "$base/current/ecosystem.config.js" >/dev/null
"""

# The seed's rollback.sh, its restore part, as written there.
_SEED_ROLLBACK = r'rm -rf "$1"/* && cp -r "$2"/* "$1"/ && pm2 restart "$3" >/dev/null'


def wait_version(url: str, version: str, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < end:
            try:
                got = client.get(url, headers={"Connection": "close"}).json().get("version")
                if got == version:
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.02)
    raise TimeoutError(f"{url} did not report {version} within {timeout}s")


async def first_version(url: str, version: str, t0: float) -> float:
    """Seconds from t0 until the app first answers with ``version`` (what the seed's timing
    measures); shipdeck's own time also covers its proof that every worker does."""
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            try:
                resp = await client.get(url, headers={"Connection": "close"})
                if resp.json().get("version") == version:
                    return time.monotonic() - t0
            except (httpx.HTTPError, ValueError):
                pass
            await asyncio.sleep(0.02)


async def shipdeck_rollback(app: OwnApp, journal: Path) -> tuple[float, float]:
    config = load_config(app.config)
    j = Journal(journal)
    pool = HostPool(config, j)
    try:
        await pool.primary.connect()  # connection setup is not part of a rollback
        wf = Workflow(config, j, pool)
        t0 = time.monotonic()
        first = asyncio.create_task(first_version(app.status_url, "1.0.0", t0))
        await wf.rollback("bench")
        proven = time.monotonic() - t0
        return proven, await asyncio.wait_for(first, 30)
    finally:
        await pool.close()
        j.close()


def one(size_mb: int) -> tuple[float, float, float]:
    rig = ensure_rig_up()
    with tempfile.TemporaryDirectory(prefix="shipdeck-bench-") as tmp:
        app = make_own_app(rig, Path(tmp))
        seed_name, seed_port = f"{app.name}-seed", free_port()
        seed_base = f"{app.root}-seed"
        try:
            journal = Path(tmp) / "j.sqlite3"
            done = shipdeck("deploy", "--headless", "--yes", config=app.config, journal=journal)
            assert done.returncode == 0, done.stderr
            old = f"{app.root}/releases/{FIRST_RELEASE}"
            new = f"{app.root}/releases/{live_release(rig, app.root)}"
            for d in (old, new):
                ssh_sh(rig, _PAD, d, str(size_mb // CHUNK_MB), timeout=600)
            ours, ours_first = asyncio.run(shipdeck_rollback(app, journal))
            assert served_version(app.status_url) == "1.0.0"

            ssh_sh(rig, _SEED_SETUP, seed_base, new, old, seed_name, str(seed_port), timeout=600)
            seed_url = f"http://127.0.0.1:{seed_port}/api/status"
            wait_version(seed_url, "1.1.0")
            t0 = time.monotonic()
            ssh(rig, "sh", "-c", _SEED_ROLLBACK, "sh", f"{seed_base}/current",
                f"{seed_base}/backup/app-20260101-000000", seed_name, timeout=600)  # fmt: skip
            wait_version(seed_url, "1.0.0")
            seed = time.monotonic() - t0
            return ours, seed, ours_first
        finally:
            ssh(rig, "pm2", "delete", seed_name, check=False)
            ssh(rig, "rm", "-rf", seed_base, check=False)
            remove_own_app(app)


def main() -> None:
    results = [one(size) for size in SIZES_MB]
    print(json.dumps({
        "sizes_mb": list(SIZES_MB),
        # until shipdeck's rollback returned: every worker proven on the old version
        "shipdeck_s": [round(r[0], 3) for r in results],
        "seed_copy_s": [round(r[1], 3) for r in results],
        # until the first response of the old version (the seed's measure, for comparison)
        "shipdeck_first_ok_s": [round(r[2], 3) for r in results],
    }))  # fmt: skip


if __name__ == "__main__":
    main()
