"""The in-place layout (the seed's procedure) end to end on the rig: an app root of the test's
own, a git checkout at v1.0.0 run by pm2 under its own name and port."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_workflow_support import (
    LoadLoop,
    OwnApp,
    lock_exists,
    make_own_app,
    remove_own_app,
    served_version,
    shipdeck,
    ssh,
)
from tests.rigenv import RigEnv
from tui.core.journal import Journal


@pytest.fixture
def app(rig: RigEnv, tmp_path: Path) -> Iterator[OwnApp]:
    own = make_own_app(rig, tmp_path, layout="in-place")
    try:
        yield own
    finally:
        remove_own_app(own)


def test_in_place_deploy_and_rollback(app: OwnApp, tmp_path: Path) -> None:
    rig, journal = app.rig, tmp_path / "j.sqlite3"
    with LoadLoop(app.status_url, rate=50) as load:
        done = shipdeck("deploy", "--headless", "--yes", config=app.config, journal=journal)
    assert done.returncode == 0, done.stdout + done.stderr
    assert load.result.failed == 0, load.result.errors[:5]
    assert served_version(app.status_url) == "1.1.0"
    backups = ssh(rig, "ls", app.backup_dir).split()
    assert len(backups) == 1 and backups[0].startswith(f"{app.name}-")
    # The backup is the whole live directory as it was: v1.0.0.
    pkg = json.loads(ssh(rig, "cat", f"{app.backup_dir}/{backups[0]}/package.json"))
    assert pkg["version"] == "1.0.0"
    assert "1.0.0 -> 1.1.0" in ssh(rig, "cat", f"{app.root}.shipdeck-changelog.log")
    assert not lock_exists(rig, app.root, "in-place")

    back = shipdeck("rollback", "--headless", "--yes", config=app.config, journal=journal)
    assert back.returncode == 0, back.stdout + back.stderr
    assert served_version(app.status_url) == "1.0.0"
    pkg = json.loads(ssh(rig, "cat", f"{app.root}/package.json"))
    assert pkg["version"] == "1.0.0"
    # No staging or old copies are left next to the live directory.
    parent, name = app.root.rsplit("/", 1)
    leftovers = [e for e in ssh(rig, "ls", "-a", parent).split() if e.startswith(f".{name}.")]
    assert leftovers == []
    j = Journal(journal)
    assert [d.state for d in j.deployments(app.name)] == ["rolled_back", "succeeded"]
    j.close()
