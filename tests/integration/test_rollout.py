"""A rollout over two hosts on the rig, end to end: one deployment in the journal, every host
running its own part of each step (its own step events), the lock on both, both serving the
new release at the end; then one rollback puts both back, the lead host last.

The two hosts are two [[hosts]] entries for the rig's sshd, each deploying an app of its own
(own root, pm2 name and port: `make_own_app`), given to the workflow as each host's config."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_workflow_support import (
    FIRST_RELEASE,
    OwnApp,
    live_release,
    lock_exists,
    make_own_app,
    releases,
    remove_own_app,
    served_version,
    ssh,
)
from tests.rigenv import RigEnv
from tui.core.config import Config, load_config
from tui.core.hosts import HostPool
from tui.core.journal import Journal
from tui.core.workflow import STEPS, Workflow

HOSTS = ("rig-a", "rig-b")
_HOST_BLOCK = re.compile(r'\[\[hosts\]\]\nname = "rig"\n(?:\w+ = .*\n)+')


@pytest.fixture
def apps(rig: RigEnv, tmp_path: Path) -> Iterator[dict[str, OwnApp]]:
    made: dict[str, OwnApp] = {}
    try:
        for host in HOSTS:
            (tmp_path / host).mkdir()
            made[host] = make_own_app(rig, tmp_path / host)
        yield made
    finally:
        for app in made.values():
            remove_own_app(app)


def fleet_config(app: OwnApp) -> Config:
    """The app's config with the rig's sshd as two hosts, rig-a and rig-b."""
    text = app.config.read_text()
    block = _HOST_BLOCK.search(text)
    assert block is not None, text
    hosts = "".join(block[0].replace('name = "rig"', f'name = "{h}"') + "\n" for h in HOSTS)
    path = app.config.with_name("fleet.toml")
    path.write_text(text.replace(block[0], hosts))
    return load_config(path)


def workflow(apps: dict[str, OwnApp], journal: Journal, pool: HostPool, **kw: object) -> Workflow:
    configs = {h: fleet_config(app) for h, app in apps.items()}
    return Workflow(configs[HOSTS[0]], journal, pool, hosts=list(HOSTS), host_configs=configs,
                    **kw)  # type: ignore[arg-type]  # fmt: skip


async def test_two_hosts_one_deployment_then_one_rollback(
    apps: dict[str, OwnApp], tmp_path: Path
) -> None:
    rig, lead = apps["rig-a"].rig, apps["rig-a"]
    journal = Journal(tmp_path / "j.sqlite3")
    pool = HostPool(fleet_config(lead), journal)
    output_from: set[str] = set()
    try:
        wf = workflow(apps, journal, pool, on_output=lambda host, _line: output_from.add(host))
        outcome = await wf.run_to_end()
        assert outcome.ok, outcome.message
        assert outcome.message == "deployed 1.0.0 -> 1.1.0"
        for app in apps.values():
            assert served_version(app.status_url) == "1.1.0"
        assert output_from == set(HOSTS)

        (dep,) = journal.deployments(lead.name)
        assert dep.state == "succeeded" and set(dep.data["hosts"]) == set(HOSTS)
        per_host = wf.rollout.host_states(journal, dep.id)
        for host in HOSTS:
            assert per_host[host] == {s: "ok" for s in STEPS if s != "confirm"} | (
                {"confirm": "ok"} if host == "rig-a" else {}
            )
        confirms = journal.events(deployment_id=dep.id, kinds=["step.ok"])
        assert [e.host for e in confirms if e.step == "confirm"] == ["rig-a"]  # once
        locks = [(e.host, e.message.split(":")[0]) for e in journal.events(kinds=["lock"])]
        assert sorted(locks) == sorted([(h, m) for h in HOSTS
                                        for m in ("lock taken", "lock released")])  # fmt: skip
        release = str(dep.data["release"])
        (line,) = [c.line for c in journal.changelog(lead.name)]
        assert "@rig-a, " in line and "@rig-b: " in line and line.endswith(f"deployment={dep.id}")
        for host, app in apps.items():
            assert dep.data["hosts"][host]["release"] == release
            assert live_release(rig, app.root) == release
            assert releases(rig, app.root) == {FIRST_RELEASE: "good", release: "good"}
            assert ssh(rig, "cat", f"{app.root}/shipdeck-changelog.log").strip() == line
            assert not lock_exists(rig, app.root)

        back = await workflow(apps, journal, pool).rollback("two hosts, one rollback")
        assert back.ok, back.message
        for app in apps.values():
            assert served_version(app.status_url) == "1.0.0"
            assert live_release(rig, app.root) == FIRST_RELEASE
            assert releases(rig, app.root) == {FIRST_RELEASE: "good", release: "failed"}
            assert not lock_exists(rig, app.root)
        rolled = journal.deployments(lead.name)[0]
        assert rolled.state == "rolled_back" and rolled.data.get("kind") == "rollback"
        starts = journal.events(deployment_id=rolled.id, kinds=["step.start"])
        assert [e.host for e in starts] == ["rig-b", "rig-a"]  # the lead (data) last
        oks = journal.events(deployment_id=rolled.id, kinds=["step.ok"])
        assert sorted(e.host for e in oks) == sorted(HOSTS)
    finally:
        await pool.close()
        journal.close()
