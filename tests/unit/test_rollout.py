"""The rollout on this machine: one deployment over two hosts (both `transport = "local"`, each
with its own app root; pm2 is a stand-in that lists no processes, so these stop before DEPLOY:
the rig's tests/integration/test_rollout.py goes end to end). The lock is taken on every host
before anything changes, every host journals its own step events, and a step that fails on
one host fails the deployment on all."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.gate import OPEN_GATE_TOML
from tui.core.config import Config, load_config
from tui.core.hosts import HostPool
from tui.core.journal import Journal
from tui.core.lock import LockedError
from tui.core.rollout import Rollout
from tui.core.workflow import StepFailed, Workflow

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", "-c", "init.defaultBranch=main"]
HOSTS = ("a", "b")


def _git(cwd: Path, *args: str) -> None:
    subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    origin = tmp_path / "origin"
    origin.mkdir()
    (origin / "package.json").write_text(json.dumps({"name": "x", "version": "2.0.0"}))
    _git(origin, "init", "-q")
    _git(origin, "add", "-A")
    _git(origin, "commit", "-qm", "two")
    for host in HOSTS:
        first = tmp_path / host / "releases" / "20260101000000"
        first.mkdir(parents=True)
        (first / "package.json").write_text(json.dumps({"name": "x", "version": "1.0.0"}))
        (first / ".shipdeck-good").touch()
        (tmp_path / host / "current").symlink_to("releases/20260101000000")
    pm2 = tmp_path / "pm2"
    pm2.write_text("#!/bin/sh\necho '[]'\n")
    pm2.chmod(0o755)
    return tmp_path


def config_for(tmp: Path, host: str, build: str = '["true"]') -> Config:
    """The app as host ``host`` has it (its own root); both hosts are in every config."""
    path = tmp / f"{host}.toml"
    hosts = "".join(f'\n[[hosts]]\nname = "{h}"\ntransport = "local"\n' for h in HOSTS)
    path.write_text(f"""
[app]
name = "x"
root = "{tmp / host}"
repo = "{tmp / "origin"}"
pm2_bin = "{tmp / "pm2"}"
{hosts}
[steps.build]
install = ["true"]
build = {build}
""" + OPEN_GATE_TOML)
    return load_config(path)


def fleet(tmp: Path, journal: Journal, hosts: tuple[str, ...] = HOSTS, **builds: str) -> Workflow:
    configs = {h: config_for(tmp, h, builds.get(h, '["true"]')) for h in hosts}
    config = configs[hosts[0]]
    return Workflow(config, journal, HostPool(config, journal), hosts=list(hosts),
                    host_configs=configs)  # fmt: skip


def lock(tmp: Path, host: str) -> Path:
    return tmp / host / ".shipdeck-lock"


async def test_one_deployment_every_host_its_own_steps_and_the_same_release(tmp: Path) -> None:
    journal = Journal(":memory:")
    wf = fleet(tmp, journal)
    try:
        await wf.backup()
        assert lock(tmp, "a").is_dir() and lock(tmp, "b").is_dir()
        await wf.build()
        dep_id = wf.deployment_id
        assert dep_id is not None
        assert wf.host_states() == {h: {"backup": "ok", "build": "ok"} for h in HOSTS}
        assert wf.step_states() == {"backup": "ok", "build": "ok"}
        assert wf.next_step() == "deploy"
        release = str(wf.data["release"])
        for host in HOSTS:
            assert (tmp / host / "releases" / release / "package.json").exists()
            assert os.readlink(tmp / host / "current") == "releases/20260101000000"
            assert wf.data["hosts"][host]["built"] is True
    finally:
        await wf.close()
    assert not lock(tmp, "a").exists() and not lock(tmp, "b").exists()
    assert [d.id for d in journal.deployments("x")] == [dep_id]
    steps = [(e.host, e.step, e.kind) for e in journal.events(deployment_id=dep_id)
             if e.kind.startswith("step.")]  # fmt: skip
    for host in HOSTS:
        assert [s for s in steps if s[0] == host] == [
            (host, "backup", "step.start"), (host, "backup", "step.ok"),
            (host, "build", "step.start"), (host, "build", "step.ok"),
        ]  # fmt: skip
    locks = [(e.host, e.message.split(":")[0]) for e in journal.events(kinds=["lock"])]
    assert sorted(locks) == sorted(
        [(h, "lock taken") for h in HOSTS] + [(h, "lock released") for h in HOSTS]
    )


async def test_a_lock_held_on_one_host_refuses_before_anything_changes(tmp: Path) -> None:
    journal = Journal(":memory:")
    other = fleet(tmp, journal, hosts=("b",))
    await other.begin()  # someone deploys to b alone
    wf = fleet(tmp, journal)
    try:
        with pytest.raises(LockedError):
            await wf.backup()
        assert wf.deployment is None
        assert not lock(tmp, "a").exists()  # taken first, given back
        assert lock(tmp, "b").is_dir()  # still the other's
        assert [d.id for d in journal.deployments("x")] == [other.deployment_id]
    finally:
        await other.close()
        await wf.close()


async def test_a_build_failing_on_one_host_fails_the_deployment_on_all(tmp: Path) -> None:
    journal = Journal(":memory:")
    wf = fleet(tmp, journal, b='["sh", "-c", "echo disk full >&2; exit 5"]')
    await wf.backup()
    dep_id = wf.deployment_id
    assert dep_id is not None
    with pytest.raises(StepFailed, match=r"BUILD failed: .*exited 5: disk full"):
        await wf.build()
    assert wf.deployment is None
    dep = journal.deployment(dep_id)
    assert dep is not None and dep.state == "failed"
    per_host = Rollout(wf.runs).host_states(journal, dep_id)
    assert per_host["a"]["build"] == "ok" and per_host["b"]["build"] == "failed"
    assert wf.rollout.step_states(journal, dep_id)["build"] == "failed"
    release = str(dep.data["hosts"]["a"]["release"])
    for host in HOSTS:  # neither host's build of it may ever go live
        assert (tmp / host / "releases" / release / ".shipdeck-failed").exists()
        assert os.readlink(tmp / host / "current") == "releases/20260101000000"
        assert not lock(tmp, host).exists()


async def test_a_deployment_journaled_before_hosts_had_parts_keeps_its_data(tmp: Path) -> None:
    """Its top level is the (one) host's part: taken up again, nothing of it is lost."""
    journal = Journal(":memory:")
    wf = fleet(tmp, journal, hosts=("a",))
    old = {"layout": "releases", "host": "a", "release": "r9", "built": True,
           "from_release": "20260101000000"}  # fmt: skip
    wf.deployment = journal.start_deployment("x", "main", data=old)
    run = wf.lead
    assert run.state["release"] == "r9" and run.state["built"] is True
    run.set(switched=True)
    assert {k: run.state[k] for k in ("release", "built", "from_release", "switched")} == {
        "release": "r9", "built": True, "from_release": "20260101000000", "switched": True
    }
    assert wf.needs_decision and wf.data["switched"] is True


def test_no_isinstance_on_a_layout_or_backend_outside_tests() -> None:
    """The workflow and status ask a layout / backend through their protocols only."""
    root = Path(__file__).resolve().parents[2]
    pattern = re.compile(r"isinstance\([^)]*(Layout|Backend)\b")
    found = [
        f"{path.relative_to(root)}:{n}"
        for folder in ("tui", "screens", "widgets")
        for path in sorted((root / folder).rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []
