"""The headless deploy holds CONFIRM for the post-deploy watch, like the console: on the real rig.

Each test runs an app of its own under a pm2 daemon of its own (test_watch's fixture), so other
tests' `pm2 delete all` never lands mid-watch. Windows are short (a sample every 2 s).
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_watch import own_app_under_own_pm2
from tests.integration.test_workflow_support import (
    OwnApp,
    journal_deployments,
    journal_events,
    served_version,
    shipdeck,
    spawn_shipdeck,
    ssh,
    wait_for_event,
    write_own_config,
)
from tests.rigenv import RigEnv
from tui.core.journal import Journal

# A fresh release's memory per process is not what these tests are about (and it proves the
# [policy.alarms] keys reach the headless watch).
LENIENT_MEMORY = "\n[policy.alarms]\nmemory_growth = 10.0\n"


def short_watch(seconds: float) -> str:
    return f"watch_minutes = {seconds / 60:.4f}\nwatch_interval_s = 2.0\n"


@pytest.fixture
def app(rig: RigEnv, tmp_path: Path) -> Iterator[OwnApp]:
    with own_app_under_own_pm2(rig, tmp_path) as own:
        yield own


def pm2_home(app: OwnApp) -> str:
    return next(
        line.split('"')[1] for line in app.config.read_text().splitlines()
        if line.startswith("pm2_home")
    )  # fmt: skip


def watch_events(journal: Path, kind: str) -> list:
    return [e for e in journal_events(journal, kinds=[kind]) if e.step == "watch"]


def test_a_clean_watch_then_confirm(app: OwnApp, tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite3"
    write_own_config(app, pm2_home(app), LENIENT_MEMORY, policy=short_watch(6))
    done = shipdeck("deploy", "--headless", "--yes", config=app.config, journal=journal)
    assert done.returncode == 0, done.stdout + done.stderr
    assert served_version(app.status_url) == "1.1.0"
    samples = watch_events(journal, "check")
    assert len(samples) >= 3, [e.message for e in samples]  # at 0, 2, 4 and 6 s
    assert all(e.message.startswith("watch sample") and "health ok" in e.message for e in samples)
    assert "watch| sample 1/4" in done.stdout and "s left" in done.stdout
    notes = watch_events(journal, "note")
    assert notes[0].message.startswith("watch started")
    assert "+1000% vs before" in notes[0].data["rules"][3]  # the memory rule, from the config
    ended = notes[-1]
    assert ended.data["result"] == "completed-clean", ended.message
    # The baseline came from BACKUP (the old release), and CONFIRM only after the watch.
    assert any("watch_baseline" in e.data for e in journal_events(journal, kinds=["check"]))
    confirm = [e for e in journal_events(journal, kinds=["step.start"]) if e.step == "confirm"]
    assert confirm and confirm[0].id > ended.id
    assert journal_deployments(journal, app.name)[0].state == "succeeded"


def test_an_app_failing_mid_watch_rolls_back_and_exits_1(app: OwnApp, tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite3"
    home = pm2_home(app)
    write_own_config(app, home, LENIENT_MEMORY, policy=short_watch(90))
    proc = spawn_shipdeck("deploy", "--headless", "--yes", "--json", config=app.config,
                          journal=journal)  # fmt: skip
    try:
        wait_for_event(journal, "check", "watch", timeout=180)  # the first sample
        ssh(app.rig, "env", f"PM2_HOME={home}", "pm2", "stop", app.name)  # the app breaks
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, out + err
    assert "Traceback" not in err
    lines = [json.loads(line) for line in out.splitlines()]  # --json: every line is JSON
    assert any("watch" in line for line in lines)  # the countdown lines
    result = lines[-1]
    assert result["result"] == "rolled_back", result
    assert result["message"].startswith("watch alarm: unhealthy 2 times in a row"), result
    assert "watch alarm: unhealthy" in err and len(err.strip().splitlines()) == 1
    assert served_version(app.status_url) == "1.0.0"  # the code went back (and came up)
    alarms = watch_events(journal, "alarm")
    assert alarms and alarms[0].data["rule"] == "health"
    actions = [e.message for e in watch_events(journal, "action")]
    assert any(m.startswith("auto-rollback (headless deploy") for m in actions), actions
    steps = {(e.step, e.kind) for e in journal_events(journal, kinds=["step.start", "step.ok"])}
    assert ("rollback", "step.ok") in steps and ("confirm", "step.start") not in steps
    assert journal_deployments(journal, app.name)[0].state == "rolled_back"


def test_skip_watch_records_the_override_and_confirms(app: OwnApp, tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite3"
    write_own_config(app, pm2_home(app), policy="")  # the default: a 15-minute watch
    reason = "hotfix checked by hand on the canary"
    done = shipdeck("deploy", "--headless", "--yes", "--skip-watch", reason,
                    config=app.config, journal=journal)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert served_version(app.status_url) == "1.1.0"
    assert watch_events(journal, "check") == []  # not one sample: the watch did not run
    j = Journal(journal)
    try:
        dep = j.deployments(app.name)[0]
        assert dep.state == "succeeded"
        overrides = [(o.gate, o.reason) for o in j.overrides(dep.id)]
        assert ("watch", reason) in overrides
        assert any(f"watch: {reason}" in c.line for c in j.changelog(app=app.name))
    finally:
        j.close()
    actions = [e.message for e in watch_events(journal, "action")]
    assert any("watch gate overridden by" in m and reason in m for m in actions), actions
    empty = shipdeck("deploy", "--headless", "--yes", "--skip-watch", " ",
                     config=app.config, journal=journal)  # fmt: skip
    assert empty.returncode == 2 and "--skip-watch needs a reason" in empty.stderr


def test_resume_after_a_kill_during_the_watch_runs_the_watch_again(
    app: OwnApp, tmp_path: Path
) -> None:
    journal = tmp_path / "j.sqlite3"
    write_own_config(app, pm2_home(app), LENIENT_MEMORY, policy=short_watch(90))
    proc = spawn_shipdeck("deploy", "--headless", "--yes", config=app.config, journal=journal)
    try:
        wait_for_event(journal, "check", "watch", timeout=180)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    status = shipdeck("status", config=app.config, journal=journal)
    assert "INTERRUPTED" in status.stdout and " at watch " in status.stdout, status.stdout
    write_own_config(app, pm2_home(app), LENIENT_MEMORY, policy=short_watch(4))
    done = shipdeck("deploy", "--headless", "--yes", "--resume", config=app.config,
                    journal=journal)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    started = [e for e in watch_events(journal, "note") if e.message.startswith("watch started")]
    assert len(started) == 2  # the killed one and the one the resume ran
    assert watch_events(journal, "note")[-1].data["result"] == "completed-clean"
    assert served_version(app.status_url) == "1.1.0"
