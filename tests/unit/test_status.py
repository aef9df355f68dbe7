"""What `shipdeck status` gathers (tui/core/status.py) on this machine: a releases site and an
in-place site under tmp_path, pm2 a stand-in. The report keeps the keys it always had (an
in-place app has no releases to list); a pm2 that cannot answer is said, status goes on. (A
host that cannot be reached: tests/integration/test_cli_promises.py.)"""

from __future__ import annotations

import json
from pathlib import Path

from tests.local_app import in_place_config, local_config
from tui.core.config import Config, load_config
from tui.core.hosts import HostPool
from tui.core.journal import Journal
from tui.core.status import gather_status

JLIST = [
    {"name": "shop", "pm_id": 0, "pm2_env": {"status": "online", "version": "1.0.0"}},
    {"name": "shop", "pm_id": 1, "pm2_env": {"status": "online", "version": "1.1.0"}},
    {"name": "other", "pm_id": 2, "pm2_env": {"status": "online", "version": "9.9.9"}},
]


def fake_pm2(tmp_path: Path, jlist: str | None) -> str:
    pm2 = tmp_path / "pm2"
    out = f"cat <<'EOF'\n{jlist}\nEOF" if jlist is not None else "echo 'pm2: broken' >&2; exit 1"
    pm2.write_text(f"#!/bin/sh\n{out}\n")
    pm2.chmod(0o755)
    return str(pm2)


def with_app_keys(tmp_path: Path, pm2: str, root: str = "") -> Config:
    """The config written to tmp_path with the stand-in pm2 (and another root line)."""
    path = tmp_path / "shipdeck.toml"
    text = path.read_text().replace("[app]\n", f'[app]\npm2_bin = "{pm2}"\n')
    if root:
        text = text.replace('root = "/srv/shop"', root)
    path.write_text(text)
    return load_config(path)


def health(port: int = 9) -> str:
    # A closed port: the status URL does not answer, which status reports, not fails on.
    return f'\n[health]\nstatus_url = "http://127.0.0.1:{port}/api/status"\ntimeout_s = 1\n'


async def test_releases_site(tmp_path: Path) -> None:
    root = tmp_path / "app"
    (root / "releases" / "r1").mkdir(parents=True)
    (root / "releases" / "r1" / ".shipdeck-good").touch()
    (root / "releases" / "r1" / "package.json").write_text('{"version": "1.0.0"}')
    (root / "current").symlink_to("releases/r1")
    local_config(tmp_path, health())
    config = with_app_keys(tmp_path, fake_pm2(tmp_path, json.dumps(JLIST)), f'root = "{root}"')
    journal = Journal(":memory:")
    pool = HostPool(config, journal)
    try:
        status = await gather_status(config, journal, pool)
    finally:
        await pool.close()
    assert status.error == "" and status.layout == "releases"
    report = status.to_json()
    assert list(report) == ["app", "host", "layout", "unfinished", "recent", "lock",
                            "live_release", "releases", "live_version", "served", "processes"]
    assert report["live_release"] == "r1" and report["live_version"] == "1.0.0"
    assert report["releases"] == [{"id": "r1", "state": "good", "live": True}]
    assert report["lock"] is None and report["served"]["status"] == "FAIL"
    assert [p["version"] for p in report["processes"]] == ["1.0.0", "1.1.0"]
    assert status.mixed_versions
    # Every command status ran is journaled under the "status" step.
    assert {e.step for e in journal.events(kinds=["command"])} == {"lock", "status"}


async def test_in_place_site_and_a_broken_pm2(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"version": "2.0.0"}')
    in_place_config(tmp_path, health())
    config = with_app_keys(tmp_path, fake_pm2(tmp_path, None))
    journal = Journal(":memory:")
    pool = HostPool(config, journal)
    try:
        status = await gather_status(config, journal, pool)
    finally:
        await pool.close()
    report = status.to_json()
    assert "live_release" not in report and "releases" not in report
    assert report["layout"] == "in-place" and report["live_version"] == "2.0.0"
    assert report["processes"] == {"error": status.processes_error}
    assert "pm2: broken" in status.processes_error
