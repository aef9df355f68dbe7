"""The deploy workflow on the real rig, over the real sshd, through the headless CLI.

Each test gets an app of its own on the rig host (own root, pm2 name and port; v1.0.0 live as
the only release, marked good) so nothing else that restarts the rig's `demo` app meanwhile can
show up in its numbers, and owns whatever else it makes (branches in origin, config variants,
journals under tmp_path).
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from tests.integration.test_workflow_support import (
    FIRST_RELEASE,
    NO_WATCH,
    LoadLoop,
    OwnApp,
    config_variant,
    delete_branch,
    journal_events,
    live_release,
    lock_exists,
    make_branch,
    releases,
    served_version,
    shipdeck,
    slow_build,
    spawn_shipdeck,
    ssh,
    wait_for_event,
)
from tests.rigenv import RigEnv
from tui.core.journal import Journal
from tui.core.workflow import STEPS


def variant(app: OwnApp, extra: str = "", replace: dict[str, str] | None = None) -> Path:
    text = app.config.read_text()
    for old, new in (replace or {}).items():
        assert old in text, f"{old!r} not in {app.config}"
        text = text.replace(old, new)
    path = app.config.with_name(f"variant-{abs(hash((extra, str(replace))))}.toml")
    path.write_text(text + "\n" + extra)
    return path


def test_deploy_under_load_then_rollback(app: OwnApp, tmp_path: Path) -> None:
    rig, journal = app.rig, tmp_path / "j.sqlite3"
    with LoadLoop(app.status_url, rate=50) as load:
        done = shipdeck("deploy", "--headless", "--yes", config=app.config, journal=journal)
    assert done.returncode == 0, done.stdout + done.stderr
    assert load.result.requests >= 50, load.result
    assert load.result.failed == 0, load.result.errors[:5]
    assert served_version(app.status_url) == "1.1.0"
    assert "1.1.0" in load.result.versions

    j = Journal(journal)
    dep = j.deployments(app.name)[0]
    assert (dep.state, dep.from_version, dep.to_version) == ("succeeded", "1.0.0", "1.1.0")
    assert j.step_states(dep.id) == dict.fromkeys(STEPS, "ok")
    commands = j.events(deployment_id=dep.id, kinds=["command"])
    assert any(e.argv[:2] == ("git", "log") for e in commands)
    assert all(e.exit_status is not None and e.duration is not None for e in commands)
    assert next(c.line for c in j.changelog(app.name)).endswith(f"deployment={dep.id}")
    j.close()
    log = ssh(rig, "cat", f"{app.root}/shipdeck-changelog.log")
    assert "1.0.0 -> 1.1.0 ref=main" in log
    new = live_release(rig, app.root)
    assert new != FIRST_RELEASE
    assert releases(rig, app.root) == {FIRST_RELEASE: "good", new: "good"}
    assert not lock_exists(rig, app.root)

    back = shipdeck("rollback", "--headless", "--yes", config=app.config, journal=journal)
    assert back.returncode == 0, back.stdout + back.stderr
    assert served_version(app.status_url) == "1.0.0"
    assert live_release(rig, app.root) == FIRST_RELEASE
    assert releases(rig, app.root) == {FIRST_RELEASE: "good", new: "failed"}

    status = shipdeck("status", "--json", config=app.config, journal=journal)
    report = json.loads(status.stdout)
    assert report["live_release"] == FIRST_RELEASE and report["lock"] is None
    history = shipdeck("history", "--json", config=app.config, journal=journal)
    states = [json.loads(line)["state"] for line in history.stdout.splitlines()]
    assert states == ["rolled_back", "succeeded"]


def test_failing_build_leaves_live_untouched_and_failed_releases_go_first(
    app: OwnApp, tmp_path: Path
) -> None:
    rig, journal = app.rig, tmp_path / "j.sqlite3"
    branch = f"broken-{app.name}"
    make_branch(rig, branch, "printf '{ not json' > package.json")
    try:
        done = shipdeck(
            "deploy", "--headless", "--yes", "--ref", branch, config=app.config, journal=journal
        )
    finally:
        delete_branch(rig, branch)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "BUILD failed" in done.stderr and "live release untouched" in done.stderr
    assert "Traceback" not in done.stderr
    assert live_release(rig, app.root) == FIRST_RELEASE
    assert served_version(app.status_url) == "1.0.0"
    assert not lock_exists(rig, app.root)
    rel = releases(rig, app.root)
    failed = [r for r, s in rel.items() if s == "failed"]
    assert len(failed) == 1 and rel[FIRST_RELEASE] == "good"

    # Retention with keep_releases = 2: the failed release goes, both good ones stay.
    keep2 = variant(app, replace={'ref = "main"': 'ref = "main"\nkeep_releases = 2'})
    done = shipdeck("deploy", "--headless", "--yes", config=keep2, journal=journal)
    assert done.returncode == 0, done.stdout + done.stderr
    rel = releases(rig, app.root)
    assert failed[0] not in rel and rel[FIRST_RELEASE] == "good" and len(rel) == 2


def test_failing_verify_rolls_back_and_marks_the_release_failed(
    app: OwnApp, tmp_path: Path
) -> None:
    rig, journal = app.rig, tmp_path / "j.sqlite3"
    cfg = variant(app, replace={f'url = "{app.url}/health"': f'url = "{app.url}/nope"'})
    done = shipdeck("deploy", "--headless", "--yes", config=cfg, journal=journal)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "VERIFY failed" in done.stderr and "rolled back" in done.stderr
    assert served_version(app.status_url) == "1.0.0"
    assert live_release(rig, app.root) == FIRST_RELEASE
    rel = releases(rig, app.root)
    assert rel[FIRST_RELEASE] == "good" and sorted(rel.values()) == ["failed", "good"]
    assert not lock_exists(rig, app.root)


def test_second_deploy_is_refused_with_the_owner(app: OwnApp, tmp_path: Path) -> None:
    rig, journal = app.rig, tmp_path / "j.sqlite3"
    slow = variant(app, slow_build(4))
    first = spawn_shipdeck("deploy", "--headless", "--yes", config=slow, journal=journal)
    try:
        wait_for_event(journal, "step.start", "build")
        second = shipdeck(
            "deploy", "--headless", "--yes", config=app.config, journal=tmp_path / "j2.sqlite3"
        )
        assert second.returncode == 3, second.stdout + second.stderr
        assert "locked by " in second.stderr and " min ago)" in second.stderr
        assert "@" in second.stderr.split("locked by ", 1)[1].split()[0]
    finally:
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, out + err
    assert served_version(app.status_url) == "1.1.0"
    assert not lock_exists(rig, app.root)


def test_sigkill_during_build_then_resume(app: OwnApp, tmp_path: Path) -> None:
    rig, journal = app.rig, tmp_path / "j.sqlite3"
    slow = variant(app, slow_build(3))
    proc = spawn_shipdeck("deploy", "--headless", "--yes", config=slow, journal=journal)
    try:
        wait_for_event(journal, "step.start", "build")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    assert lock_exists(rig, app.root)  # left behind by the killed console: stale now

    status = shipdeck("status", config=slow, journal=journal)
    assert status.returncode == 0, status.stderr
    assert "INTERRUPTED" in status.stdout and "at build" in status.stdout
    assert "(stale)" in status.stdout
    again = shipdeck("deploy", "--headless", "--yes", config=slow, journal=journal)
    assert again.returncode == 1 and "interrupted" in again.stderr, again.stderr

    done = shipdeck("deploy", "--headless", "--yes", "--resume", config=slow, journal=journal)
    assert done.returncode == 0, done.stdout + done.stderr
    assert served_version(app.status_url) == "1.1.0"
    assert not lock_exists(rig, app.root)
    actions = [(e.kind, e.step) for e in journal_events(journal, kinds=["action"])]
    assert ("action", "build") in actions  # resumed at BUILD
    j = Journal(journal)
    assert j.deployments(app.name)[0].state == "succeeded"
    j.close()


def test_the_rigs_own_config_deploys_and_rolls_back(fresh_app: RigEnv, tmp_path: Path) -> None:
    """The generated rig config as is: default reload command, the rig's `demo` app, and the
    database (enabled there) dumped at BACKUP and left alone by a rollback without
    --restore-db."""
    rig, journal = fresh_app, tmp_path / "j.sqlite3"
    # As is, but without the 15-minute post-deploy watch (the watch's own tests have one).
    config = config_variant(rig, tmp_path, replace={"[policy]\n": "[policy]\n" + NO_WATCH})
    done = shipdeck("deploy", "--headless", "--yes", config=config, journal=journal)
    assert done.returncode == 0, done.stdout + done.stderr
    assert served_version(rig.app_url + "/api/status") == "1.1.0"
    reloads = [e for e in journal_events(journal, kinds=["command"]) if "reload" in e.argv]
    assert reloads[0].argv == (
        str(rig.pm2),
        "reload",
        f"{rig.app_root}/.shipdeck-ecosystem.config.js",  # shipdeck's wrapper of it
        "--update-env",
    )
    dumps = [e for e in journal_events(journal, kinds=["command"])
             if e.step == "backup" and "pg_dump" in " ".join(e.argv)]  # fmt: skip
    assert dumps and dumps[0].exit_status == 0
    back = shipdeck("rollback", "--headless", "--yes", config=rig.config, journal=journal)
    assert back.returncode == 0, back.stdout + back.stderr
    assert served_version(rig.app_url + "/api/status") == "1.0.0"
    notes = [e.message for e in journal_events(journal, kinds=["note"])]
    assert any("left as it is (restore not requested)" in m for m in notes)


def test_status_shows_what_each_worker_runs_and_flags_a_mixed_cluster(
    app: OwnApp, tmp_path: Path
) -> None:
    rig, journal = app.rig, tmp_path / "j.sqlite3"
    done = shipdeck("deploy", "--headless", "--yes", config=app.config, journal=journal)
    assert done.returncode == 0, done.stdout + done.stderr

    report = json.loads(shipdeck("status", "--json", config=app.config, journal=journal).stdout)
    assert report["served"]["version"] == "1.1.0" and report["served"]["status"] == "PASS"
    versions = [p["version"] for p in report["processes"]]
    assert versions == ["1.1.0", "1.1.0"], report["processes"]

    # Half a cluster on the old release: `current` points back at 1.0.0 and only one worker
    # is restarted (what an interrupted reload or a one-process restart leaves behind).
    ssh(rig, "ln", "-sfn", f"releases/{FIRST_RELEASE}", f"{app.root}/current")
    first = min(p["pm_id"] for p in report["processes"])
    ssh(rig, *app.env_argv(), "pm2", "restart", str(first))
    text = shipdeck("status", config=app.config, journal=journal).stdout
    procs = next(line for line in text.splitlines() if line.strip().startswith("processes:"))
    assert "1.0.0" in procs and "1.1.0" in procs and procs.endswith("MIXED VERSIONS"), text
    assert "  live: version 1.0.0" in text, text
