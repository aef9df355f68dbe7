"""The workflow engine on this machine (LocalTransport): order, journaling, the lock, failed
builds, cancellation, confirm with an override. pm2 here is a stand-in script that lists no
processes; everything that needs a real pm2 is in tests/integration."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.gate import OPEN_GATE_TOML
from tui.core.config import load_config
from tui.core.hosts import HostPool
from tui.core.journal import Journal
from tui.core.lock import LockedError
from tui.core.workflow import OrderError, StepFailed, Workflow, mark_interrupted

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", "-c", "init.defaultBranch=main"]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def site(tmp_path: Path) -> dict[str, Path]:
    origin = tmp_path / "origin"
    origin.mkdir()
    (origin / "package.json").write_text(json.dumps({"name": "x", "version": "2.0.0"}))
    _git(origin, "init", "-q")
    _git(origin, "add", "-A")
    _git(origin, "commit", "-qm", "two")
    root = tmp_path / "app"
    first = root / "releases" / "20260101000000"
    first.mkdir(parents=True)
    (first / "package.json").write_text(json.dumps({"name": "x", "version": "1.0.0"}))
    (first / ".shipdeck-good").touch()
    (root / "current").symlink_to("releases/20260101000000")
    pm2 = tmp_path / "pm2"
    pm2.write_text("#!/bin/sh\necho '[]'\n")
    pm2.chmod(0o755)
    return {"tmp": tmp_path, "origin": origin, "root": root, "pm2": pm2}


def make_config(site: dict[str, Path], build: str = '["true"]') -> Path:
    path = site["tmp"] / "shipdeck.toml"
    path.write_text(f"""
[app]
name = "x"
root = "{site["root"]}"
repo = "{site["origin"]}"
pm2_bin = "{site["pm2"]}"

[[hosts]]
name = "here"
transport = "local"

[steps.build]
install = ["true"]
build = {build}
""" + OPEN_GATE_TOML)
    return path


def workflow(site: dict[str, Path], build: str = '["true"]') -> tuple[Workflow, Journal]:
    config = load_config(make_config(site, build))
    journal = Journal(":memory:")
    return Workflow(config, journal, HostPool(config, journal)), journal


def lock_dir(site: dict[str, Path]) -> Path:
    return site["root"] / ".shipdeck-lock"


async def test_order_is_enforced() -> None:
    wf = Workflow.__new__(Workflow)  # only the order check: no host needed
    wf.deployment = None
    with pytest.raises(OrderError, match="no deployment in progress"):
        wf._require("deploy", "backup", "build")


async def test_backup_build_journal_every_command_and_leave_current_alone(site) -> None:
    wf, journal = workflow(site, build='["echo", "bundle built"]')
    lines: list[tuple[str, str]] = []
    wf.cmd.on_output = lambda host, line: lines.append((host, line))
    await wf.backup()
    assert lock_dir(site).is_dir()
    owner = json.loads((lock_dir(site) / "owner.json").read_text())
    assert owner["pid"] == os.getpid() and owner["deployment_id"] == wf.deployment_id
    with pytest.raises(OrderError, match="BUILD must succeed first"):
        await wf.deploy()
    await wf.build()
    dep = wf.deployment
    assert dep is not None and (dep.from_version, dep.to_version) == ("1.0.0", "2.0.0")
    release = site["root"] / "releases" / str(dep.data["release"])
    assert (release / "package.json").exists()
    assert os.readlink(site["root"] / "current") == "releases/20260101000000"
    states = journal.step_states(dep.id)
    assert states == {"backup": "ok", "build": "ok"}
    commands = journal.events(deployment_id=dep.id, kinds=["command"])
    assert any(e.argv[0] == "git" and "clone" in e.argv and e.exit_status == 0 for e in commands)
    assert all(e.exit_status is not None and e.duration is not None for e in commands)
    jlists = [e for e in commands if e.argv[-1:] == ("jlist",)]
    assert jlists and all(e.output_tail == "" for e in jlists)  # env values never journaled
    assert ("here", "bundle built") in lines and all(host == "here" for host, _ in lines)
    notes = [e.message for e in journal.events(deployment_id=dep.id, kinds=["note"])]
    assert any("nothing to copy" in n for n in notes)
    await wf.close()
    assert not lock_dir(site).exists()
    assert journal.deployment(dep.id).state == "interrupted"


async def test_failed_build_marks_release_failed_frees_lock(site) -> None:
    wf, journal = workflow(site, build='["sh", "-c", "echo broken >&2; exit 3"]')
    await wf.backup()
    dep_id = wf.deployment_id
    with pytest.raises(StepFailed, match=r"BUILD failed: .*exited 3: broken"):
        await wf.build()
    dep = journal.deployment(dep_id)
    assert dep is not None and dep.state == "failed"
    release = site["root"] / "releases" / str(dep.data["release"])
    assert (release / ".shipdeck-failed").exists()
    assert os.readlink(site["root"] / "current") == "releases/20260101000000"
    assert not lock_dir(site).exists()
    assert wf.deployment is None
    fail = journal.events(deployment_id=dep_id, kinds=["step.fail"])
    assert [e.step for e in fail] == ["build"]


async def test_a_second_operator_is_refused_with_the_owner(site) -> None:
    first, _ = workflow(site)
    second, _ = workflow(site)
    await first.backup()
    with pytest.raises(LockedError) as err:
        await second.backup()
    assert str(err.value).startswith("locked by ")
    assert "min ago)" in str(err.value) and not err.value.stale
    await first.close()
    await second.backup()  # free again
    await second.close()


async def test_cancel_during_build_frees_lock_and_marks_interrupted(site) -> None:
    wf, journal = workflow(site, build='["sleep", "30"]')
    await wf.backup()
    dep_id = wf.deployment_id
    task = asyncio.create_task(wf.build())

    async def building() -> None:
        while not any(e.argv[:1] == ("sleep",) for e in journal.events(kinds=["command"])):
            if journal.step_states(dep_id).get("build") == "running":
                await asyncio.sleep(0.3)
                return
            await asyncio.sleep(0.05)

    await asyncio.wait_for(building(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not lock_dir(site).exists()
    assert journal.deployment(dep_id).state == "interrupted"
    # Resume picks up at BUILD (the stale lock, if any, would be taken over).
    wf2, _ = workflow(site)
    wf2.journal = journal
    wf2.cmd.journal = journal
    assert await wf2.resume(dep_id) == "build"
    await wf2.close()


async def test_confirm_needs_verify_or_an_override_reason(site) -> None:
    wf, journal = workflow(site)
    await wf.backup()
    await wf.build()
    dep_id = wf.deployment_id
    # Stand in for a DEPLOY that succeeded (it needs a real pm2: see the rig tests).
    journal.record(kind="step.ok", step="deploy", deployment_id=dep_id, message="DEPLOY ok")
    with pytest.raises(OrderError, match="VERIFY has not passed"):
        await wf.confirm()
    await wf.confirm(override_reason="checks flaky, verified by hand")
    dep = journal.deployment(dep_id)
    assert dep is not None and dep.state == "succeeded"
    assert [o.reason for o in journal.overrides(dep_id)] == ["checks flaky, verified by hand"]
    release = site["root"] / "releases" / str(dep.data["release"])
    assert (release / ".shipdeck-good").exists()
    log = (site["root"] / "shipdeck-changelog.log").read_text()
    assert "1.0.0 -> 2.0.0 ref=main" in log and "overrides=" in log
    assert journal.changelog("x")[0].line == log.strip()
    assert not lock_dir(site).exists()


async def test_a_dead_console_leaves_an_interrupted_deployment(site) -> None:
    journal = Journal(":memory:")
    dep = journal.start_deployment("x", "main")
    dead = subprocess.Popen(["true"])
    dead.wait()
    journal.update_deployment(dep.id, pid=dead.pid, step="build")
    found = mark_interrupted(journal, "x")
    assert [(d.id, d.state) for d in found] == [(dep.id, "interrupted")]
    wf, _ = workflow(site)
    wf.journal = journal
    with pytest.raises(OrderError, match="interrupted during build"):
        await wf.begin()


async def test_reload_waits_out_another_reloads_lock(site) -> None:
    # A pm2 stand-in that refuses the first reload the way pm2 does while its lock is held.
    flag = site["tmp"] / "refused-once"
    site["pm2"].write_text(
        "#!/bin/sh\n"
        'if [ "$1" = reload ] && [ ! -e "' + str(flag) + '" ]; then\n'
        '  touch "' + str(flag) + '"\n'
        '  echo "[PM2][ERROR] Reload already in progress, please try again in 28 seconds" >&2\n'
        "  exit 1\n"
        "fi\n"
        "echo '[]'\n"
    )
    wf, journal = workflow(site)
    await wf.backup()
    await wf._reload("deploy", (str(site["pm2"]), "reload", "eco.js"), str(site["root"]))
    reloads = [e for e in journal.events(kinds=["command"]) if "reload" in e.argv]
    assert [e.exit_status for e in reloads] == [1, 0]
    assert any("another reload" in e.message for e in journal.events(kinds=["note"]))
    await wf.close()


async def test_deploy_is_refused_by_the_gate_until_overridden(site) -> None:
    from datetime import datetime

    from tui.core.checklist_gate import override_gate
    from tui.core.workflow import GateClosed

    path = make_config(site)
    # The same config without the test relaxations: every checklist item required.
    path.write_text(path.read_text().replace(OPEN_GATE_TOML, ""))
    config = load_config(path)
    journal = Journal(":memory:")
    tuesday_10am = datetime(2026, 11, 24, 10, 0).timestamp()
    wf = Workflow(config, journal, HostPool(config, journal), gate_clock=lambda: tuesday_10am)
    try:
        await wf.backup()
        await wf.build()
        with pytest.raises(GateClosed) as refused:
            await wf.deploy()
        assert not refused.value.decision.open
        assert any("Code reviewed" in line for line in refused.value.decision.blocking)
        assert journal.step_states(wf.deployment_id).get("deploy") is None  # nothing switched
        assert (site["root"] / "current").resolve().name == "20260101000000"
        override_gate(journal, wf.deployment_id, "checklist", "hotfix, reviewed on the call",
                      blocking=refused.value.decision.blocking)  # fmt: skip
        dep_id = wf.deployment_id
        # Past the gate, DEPLOY itself runs (and fails here: the stub pm2 serves nothing).
        with pytest.raises(StepFailed, match="pm2 does not serve"):
            await wf.deploy()
        assert journal.step_states(dep_id)["deploy"] == "failed"
        assert [(o.gate, o.reason) for o in journal.overrides(dep_id)] == [
            ("checklist", "hotfix, reviewed on the call")
        ]
    finally:
        await wf.close()


def _with_migrate_down(site: dict[str, Path], argv: list[str]) -> Workflow:
    path = make_config(site)
    path.write_text(path.read_text() + f"\n[steps.rollback]\nmigrate_down = {json.dumps(argv)}\n")
    config = load_config(path)
    journal = Journal(":memory:")
    return Workflow(config, journal, HostPool(config, journal))


async def test_rollback_migrates_down_in_the_built_release_only_when_asked(site) -> None:
    """A release that never went live still ran its migrations at BUILD: the down-migration
    runs in its directory ({release} is that directory too), and only with migrate_down=True."""
    marker = site["tmp"] / "down-ran"
    argv = ["sh", "-c", f'echo "$PWD {{release}}" >> {marker}']
    for asked in (False, True):
        wf = _with_migrate_down(site, argv)
        try:
            await wf.backup()
            await wf.build()
            built = site["root"] / "releases" / str(wf.data["release"])
            outcome = await wf.rollback("test", migrate_down=asked)
        finally:
            await wf.close()
        assert outcome.ok and outcome.state == "rolled_back", outcome.message
        assert "NOT migrated down" not in outcome.message
        if not asked:
            assert not marker.exists()
    assert marker.read_text().split() == [str(built), str(built)]
    assert os.readlink(site["root"] / "current") == "releases/20260101000000"


async def test_a_failed_down_migration_still_rolls_back_the_code_and_says_so(site) -> None:
    wf = _with_migrate_down(site, ["sh", "-c", "echo relation is locked >&2; exit 4"])
    try:
        await wf.backup()
        await wf.build()
        dep_id = wf.deployment_id
        outcome = await wf.rollback("test", migrate_down=True)
    finally:
        await wf.close()
    assert not outcome.ok and outcome.state == "rolled_back"
    assert "was never live" in outcome.message
    assert outcome.message.endswith("relation is locked"), outcome.message
    assert "; database NOT migrated down: " in outcome.message
    assert wf.journal.deployment(dep_id).state == "rolled_back"
    end = wf.journal.events(deployment_id=dep_id, kinds=["deploy.end"])
    assert [e.message for e in end] == [outcome.message]  # the journal says it too
    failed = [e for e in wf.journal.events(deployment_id=dep_id, kinds=["command"])
              if e.argv[:1] == ("sh",)]  # fmt: skip
    assert [e.exit_status for e in failed] == [4]
