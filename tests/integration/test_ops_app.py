"""An app shaped like operators' (examples/ops-app) on the real rig: an ecosystem file without
cwd, a web app in cluster mode beside a worker in fork mode, no build script. Each test has its
own origin (a bare repo made from examples/ops-app: v1.0.0, v1.1.0, and v1.2.0 whose worker
crash-loops and which adds an app), own pm2 names and port, and an empty app root: its first
deploy is onto a host where nothing of it runs yet."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.gate import OPEN_GATE_TOML
from tests.integration.test_workflow_support import (
    NO_WATCH,
    LoadLoop,
    free_port,
    journal_deployments,
    journal_events,
    served_version,
    shipdeck,
    ssh,
    ssh_sh,
    with_policy,
)
from tests.rigenv import REPO, RigEnv

_ORIGIN = r"""
src=$1; origin=$2; web=$3; tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cp -r "$src" "$tmp/w"; cd "$tmp/w"
sed -i "s/name: 'orders-worker'/name: '$web-worker'/; s/name: 'orders'/name: '$web'/" \
  ecosystem.config.js
git init -q -b main; git add -A
c() { git -c user.name=t -c user.email=t@t.invalid commit -qam "$1"; git tag "$1"; }
c v1.0.0
sed -i 's/"version": "1.0.0"/"version": "1.1.0"/' package.json; c v1.1.0
sed -i 's/"version": "1.1.0"/"version": "1.2.0"/' package.json
# v1.2.0: the worker crash-loops (through its ecosystem env) and a mailer app is new.
sed -i "s/env: { NODE_ENV: 'production' },/env: { NODE_ENV: 'production', WORKER_CRASH: '1' },/" \
  ecosystem.config.js
sed -i "s#^  \],#    { name: '$web-mailer', script: 'worker.js' },\n  ],#" ecosystem.config.js
grep -q WORKER_CRASH ecosystem.config.js && grep -q mailer ecosystem.config.js
c v1.2.0
git clone -q --bare . "$origin"
"""


@dataclass(frozen=True)
class OpsApp:
    rig: RigEnv
    name: str  # the web app; "<name>-worker" beside it
    root: str
    port: int
    config: Path

    @property
    def status_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/status"


@pytest.fixture
def ops(rig: RigEnv, tmp_path: Path) -> Iterator[OpsApp]:
    name = f"ops-{secrets.token_hex(3)}"
    base = f"{rig.dir}/tmp/wf/{name}"
    origin, root = f"{base}/origin.git", f"{base}/app"
    ssh_sh(rig, 'rm -rf "$1"; mkdir -p "$1"', base)
    ssh_sh(rig, _ORIGIN, str(REPO / "examples" / "ops-app"), origin, name)
    port = free_port()
    config = tmp_path / "shipdeck.toml"
    reload = json.dumps(["env", f"PORT={port}", "pm2", "reload", "{ecosystem}", "--update-env"])
    config.write_text(f"""
[app]
name = "{name}"
root = "{root}"
repo = "{origin}"
ref = "v1.1.0"
backup_dir = "{base}/backups"
pm2_bin = "{rig.pm2}"
pm2_home = "{rig.pm2_home}"

[[hosts]]
name = "rig"
address = "127.0.0.1"
port = {rig.ssh_port}
user = "{rig.user}"
identity_file = "{rig.ssh_key}"
known_hosts = "{rig.known_hosts}"

[health]
url = "http://127.0.0.1:{port}/health"
status_url = "http://127.0.0.1:{port}/api/status"
{with_policy(OPEN_GATE_TOML, NO_WATCH)}
[steps.deploy]
reload = {reload}
""")
    app = OpsApp(rig, name, root, port, config)
    try:
        yield app
    finally:
        for proc in ("", "-worker", "-mailer"):
            ssh(rig, "pm2", "delete", name + proc, check=False)
        ssh(rig, "rm", "-rf", base, check=False)


def jlist(app: OpsApp) -> list[dict]:
    procs = json.loads(ssh(app.rig, "sh", "-c", 'pm2 jlist | grep "^\\["'))
    return [p for p in procs if p["name"].startswith(app.name)]


def ids(app: OpsApp) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for p in jlist(app):
        out.setdefault(p["name"], []).append(p["pm_id"])
    return {k: sorted(v) for k, v in out.items()}


def real_paths(app: OpsApp) -> set[str]:
    """The release directories the app's processes really run from: each worker's cwd (from the
    kernel) and pm2's stored cwd and script path, resolved."""
    paths = []
    for p in jlist(app):
        paths += [p["pm2_env"]["pm_cwd"], p["pm2_env"]["pm_exec_path"]]
        if p.get("pid"):
            paths.append(f"/proc/{p['pid']}/cwd")
    out = ssh(app.rig, "readlink", "-f", "--", *paths, check=False)
    releases = f"{app.root}/releases/"
    return {line[len(releases):].split("/")[0] for line in out.split() if line}


def live(app: OpsApp) -> str:
    return ssh(app.rig, "readlink", "-f", f"{app.root}/current").strip().rsplit("/", 1)[-1]


def deploy(app: OpsApp, journal: Path, ref: str) -> subprocess.CompletedProcess[str]:
    return shipdeck("deploy", "--headless", "--yes", "--ref", ref, config=app.config,
                    journal=journal, timeout=300)  # fmt: skip


def test_first_deploy_then_cluster_deploy_and_rollback_under_load_lose_nothing(
    ops: OpsApp, tmp_path: Path
) -> None:
    journal = tmp_path / "j.sqlite3"
    first = deploy(ops, journal, "v1.0.0")  # an empty root, nothing of the app in pm2 yet
    assert first.returncode == 0, first.stdout + first.stderr
    assert served_version(ops.status_url) == "1.0.0"
    before = ids(ops)
    assert sorted(before) == [ops.name, f"{ops.name}-worker"] and len(before[ops.name]) == 2
    assert all(p["pm2_env"]["status"] == "online" for p in jlist(ops))
    builds = [e.message for e in journal_events(journal, kinds=["note"])]
    assert any("no build script: skipped" in m for m in builds), builds

    with LoadLoop(ops.status_url, rate=40, max_requests=4000, max_s=120) as load:
        done = deploy(ops, journal, "v1.1.0")
    assert done.returncode == 0, done.stdout + done.stderr
    print(f"deploy: {load.result.requests} requests, {load.result.failed} failed")
    assert load.result.requests >= 40 and load.result.failed == 0, load.result.errors[:5]
    assert served_version(ops.status_url) == "1.1.0" and "1.1.0" in load.result.versions
    assert ids(ops) == before  # reloaded, not deleted and started again
    assert real_paths(ops) == {live(ops)}
    assert not journal_events(journal, kinds=["downtime"])

    with LoadLoop(ops.status_url, rate=40, max_requests=4000, max_s=120) as load:
        back = shipdeck("rollback", "--headless", "--yes", config=ops.config, journal=journal,
                        timeout=300)  # fmt: skip
    assert back.returncode == 0, back.stdout + back.stderr
    print(f"rollback: {load.result.requests} requests, {load.result.failed} failed")
    assert load.result.requests >= 10 and load.result.failed == 0, load.result.errors[:5]
    assert served_version(ops.status_url) == "1.0.0"
    assert ids(ops) == before
    assert real_paths(ops) == {live(ops)}


def test_a_crash_looping_worker_fails_verify_and_the_rollback_runs_the_old_app_set(
    ops: OpsApp, tmp_path: Path
) -> None:
    journal = tmp_path / "j.sqlite3"
    first = deploy(ops, journal, "v1.1.0")
    assert first.returncode == 0, first.stdout + first.stderr
    good = live(ops)
    bad = deploy(ops, journal, "v1.2.0")  # its worker crash-loops; it adds a mailer
    assert bad.returncode != 0, bad.stdout + bad.stderr
    checks = [e.message for e in journal_events(journal, kinds=["check"]) if e.step == "verify"]
    assert any(m.startswith("Processes: FAIL") and "-worker" in m for m in checks), checks
    dep = journal_deployments(journal, ops.name)[0]
    assert dep.state == "rolled_back", dep
    assert live(ops) == good
    procs = jlist(ops)
    assert sorted({p["name"] for p in procs}) == [ops.name, f"{ops.name}-worker"]
    assert all(p["pm2_env"]["status"] == "online" for p in procs), procs
    time.sleep(2)  # the good worker stays up (the bad release's WORKER_CRASH is gone)
    assert [p["pm2_env"]["restart_time"] for p in jlist(ops)] == [
        p["pm2_env"]["restart_time"] for p in procs
    ]
    assert real_paths(ops) == {good}
    assert served_version(ops.status_url) == "1.1.0"
