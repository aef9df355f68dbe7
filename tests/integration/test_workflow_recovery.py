"""Recovery paths on the rig: a console killed during DEPLOY, and pm2 keeping a stale path
(pm2 #1663/#5939) so the engine has to fall back to delete + start."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from tests.integration.test_workflow_support import (
    FIRST_RELEASE,
    OwnApp,
    journal_events,
    live_release,
    lock_exists,
    served_version,
    shipdeck,
    spawn_shipdeck,
    ssh,
    wait_for_event,
)
from tui.core.journal import Journal


def with_reload(app: OwnApp, reload: list[str]) -> Path:
    text = app.config.read_text().split("[steps.deploy]")[0]
    path = app.config.with_name("reload-variant.toml")
    path.write_text(text + f"[steps.deploy]\nreload = {json.dumps(reload)}\n")
    return path


def test_sigkill_during_deploy_then_resume(app: OwnApp, tmp_path: Path) -> None:
    rig, journal = app.rig, tmp_path / "j.sqlite3"
    # A reload that waits first, so the console can be killed after the switch, mid-DEPLOY. It
    # outlives the killed console on the host (no pty): its output goes to /dev/null so it is
    # not itself killed by a broken pipe halfway, which would leave pm2's reload lock held for
    # 30 s (the engine waits that out, retrying, but the test need not).
    slow = with_reload(
        app,
        ["sh", "-c", 'sleep 3; exec "$@" >/dev/null 2>&1', "sh", *app.env_argv(),
         "pm2", "reload", "{ecosystem}", "--update-env"],
    )  # fmt: skip
    proc = spawn_shipdeck("deploy", "--headless", "--yes", config=slow, journal=journal)
    try:
        wait_for_event(journal, "step.start", "deploy")
        wait_for_event(journal, "note", "deploy")  # "current -> releases/<id>": switched
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
    assert live_release(rig, app.root) != FIRST_RELEASE  # switched, reload never confirmed

    status = shipdeck("status", config=slow, journal=journal)
    assert "INTERRUPTED" in status.stdout and "at deploy" in status.stdout, status.stdout
    done = shipdeck("deploy", "--headless", "--yes", "--resume", config=app.config, journal=journal)
    assert done.returncode == 0, done.stdout + done.stderr
    assert served_version(app.status_url) == "1.1.0"
    assert not lock_exists(rig, app.root)
    j = Journal(journal)
    dep = j.deployments(app.name)[0]
    assert dep.state == "succeeded" and dep.to_version == "1.1.0"
    j.close()


def test_app_pinned_to_a_release_restarts_once_announced_then_reloads(
    app: OwnApp, tmp_path: Path
) -> None:
    rig, journal = app.rig, tmp_path / "j.sqlite3"
    first = f"{app.root}/releases/{FIRST_RELEASE}"
    # Pin the processes to the real path of the first release, as `cwd: __dirname` or an
    # ecosystem without cwd would, and reload by name: a reload keeps the stored path.
    ssh(rig, "pm2", "delete", app.name)
    ssh(rig, *app.env_argv(), "pm2", "start", f"{first}/server.js", "--name", app.name,
        "-i", "2", "--cwd", first)  # fmt: skip
    by_name = with_reload(app, [*app.env_argv(), "pm2", "reload", app.name, "--update-env"])
    done = shipdeck("deploy", "--headless", "--yes", config=by_name, journal=journal)
    assert done.returncode == 0, done.stdout + done.stderr
    assert served_version(app.status_url) == "1.1.0"
    notes = [e.message for e in journal_events(journal, kinds=["note"])]
    assert any("restarted once through shipdeck's ecosystem" in n for n in notes), notes
    assert any(
        "delete + start" in e.message and e.data["seconds"] > 0
        for e in journal_events(journal, kinds=["downtime"])
    )
    # From now on pm2 stores the link: the rollback is a plain reload, no stop.
    ids = pm2_ids(app)
    back = shipdeck("rollback", "--headless", "--yes", config=by_name, journal=journal)
    assert back.returncode == 0, back.stdout + back.stderr
    assert served_version(app.status_url) == "1.0.0"
    assert pm2_ids(app) == ids
    assert len(journal_events(journal, kinds=["downtime"])) == 1


def pm2_ids(app: OwnApp) -> list[int]:
    procs = json.loads(ssh(app.rig, "sh", "-c", 'pm2 jlist | grep "^\\["'))
    return sorted(p["pm_id"] for p in procs if p["name"] == app.name)


def test_ctrl_c_during_build_frees_the_lock_and_rollback_undoes(
    app: OwnApp, tmp_path: Path
) -> None:
    rig, journal = app.rig, tmp_path / "j.sqlite3"
    text = (
        app.config.read_text()
        + '\n[steps.build]\nbuild = ["sh", "-c", "sleep 5 && npm run build"]\n'
    )
    slow = app.config.with_name("slow.toml")
    slow.write_text(text)
    proc = spawn_shipdeck("deploy", "--headless", "--yes", config=slow, journal=journal)
    try:
        wait_for_event(journal, "step.start", "build")
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err
    assert not lock_exists(rig, app.root)
    j = Journal(journal)
    dep = j.deployments(app.name)[0]
    assert (dep.state, dep.step) == ("interrupted", "build")
    j.close()

    back = shipdeck("rollback", "--headless", "--yes", config=slow, journal=journal)
    assert back.returncode == 0, back.stdout + back.stderr
    assert "was never live" in back.stdout
    assert live_release(rig, app.root) == FIRST_RELEASE
    assert served_version(app.status_url) == "1.0.0"
