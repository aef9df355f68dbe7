"""Whole headless deploys on the rig under a steady load, each release judged by the watch:
a healthy one passes, a silent failure is found by log drift and rolled back, a memory leak
alarms once the memory window allows.

Each test runs an app of its own under a pm2 daemon of its own (test_watch's fixture) and a
bounded load from this process (20 requests/s on fresh connections, capped in count and time).
The bad releases are main (1.1.0) built with a demo-app switch (examples/demo-app/server.js)
written into the release's ecosystem env by the test's BUILD command (``build_with_env``): the
release carries its own misbehaviour, as a real one would. Not the environment of the reload
command: pm2 7's `reload <ecosystem> --update-env` gives the app the ecosystem's env, not the
caller's (measured: a DEMO_* prefix never reached the app). Not a branch of the rig's origin
either: other suites' rig/reset-app recreates the origin, and a branch made before the warm-up
was gone when BUILD cloned it. The old release is under load for a little over 2 minutes first:
the log-drift baseline needs 2 minutes of its lines (log_drift.DriftRules.min_baseline_s).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_watch import own_app_under_own_pm2
from tests.integration.test_workflow_support import (
    LoadLoop,
    OwnApp,
    journal_deployments,
    journal_events,
    served_version,
    shipdeck,
    write_own_config,
)
from tests.rigenv import RigEnv

RATE = 20  # requests/s: a steady load, far below what the demo app serves
WARM_S = 130  # the old release's logs must cover 2 minutes for the drift baseline


@pytest.fixture
def app(rig: RigEnv, tmp_path: Path) -> Iterator[OwnApp]:
    with own_app_under_own_pm2(rig, tmp_path) as own:
        yield own


def pm2_home(app: OwnApp) -> str:
    return next(
        line.split('"')[1] for line in app.config.read_text().splitlines()
        if line.startswith("pm2_home")
    )  # fmt: skip


def build_with_env(env: Mapping[str, str]) -> str:
    """``[steps.build]`` whose build also writes ``env`` into the new release's ecosystem (and
    fails if the ecosystem did not take it)."""
    pairs = " ".join(f"{k}: '{v}'," for k, v in env.items())
    script = (
        "npm run build && sed -i \"s/NODE_ENV: 'production',/NODE_ENV: 'production',"
        f" {pairs}/\" ecosystem.config.js && grep -q '{next(iter(env))}' ecosystem.config.js"
    )
    return f"[steps.build]\nbuild = {json.dumps(['sh', '-c', script])}\n"


def configure(
    app: OwnApp, minutes: float, alarms: str = "", extra: str = "", **env: str
) -> None:
    """A short watch (a sample every 2 s); ``env``: the new release's demo-app switches."""
    policy = f"watch_minutes = {minutes}\nwatch_interval_s = 2.0\n"
    tables = f"\n[policy.alarms]\n{alarms}\n{extra}\n" + (build_with_env(env) if env else "")
    write_own_config(app, pm2_home(app), tables, policy=policy)


def deploy_under_load(app: OwnApp, journal: Path, ref: str, warm_s: float, watch_s: float):
    """The old release under load for ``warm_s``, then the headless deploy (its watch too),
    the load still on. Returns the CLI's result and the load's."""
    budget = warm_s + watch_s + 240  # BACKUP, BUILD, DEPLOY, VERIFY and a rollback
    with LoadLoop(app.url + "/", rate=RATE, max_requests=int(RATE * budget), max_s=budget) as load:
        load._stop.wait(warm_s)
        done = shipdeck("deploy", "--headless", "--yes", "--ref", ref, config=app.config,
                        journal=journal, timeout=watch_s + 240)  # fmt: skip
    return done, load.result


def watch_events(journal: Path, kind: str) -> list[Any]:
    return [e for e in journal_events(journal, kinds=[kind]) if e.step == "watch"]


def live_at(journal: Path) -> float:
    """When the new release went live: the end of DEPLOY."""
    return next(e.ts for e in journal_events(journal, kinds=["step.ok"]) if e.step == "deploy")


def test_a_healthy_release_under_load_raises_nothing(app: OwnApp, tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite3"
    configure(app, minutes=2.5)
    done, load = deploy_under_load(app, journal, "main", WARM_S, 150)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert load.failed == 0 and load.requests > RATE * WARM_S * 0.8, load.errors[:3]
    assert served_version(app.status_url) == "1.1.0"
    assert watch_events(journal, "alarm") == [] and watch_events(journal, "finding") == []
    assert "finding: " not in done.stdout
    checks = watch_events(journal, "check")
    assert all(c.message.startswith("watch sample") for c in checks)
    last = {j["rule"]: j for j in checks[-1].data["judgements"]}
    # Judged, not merely silent: the error and latency rules had their data and said ok; the
    # memory leak rule needs 5 minutes after the warm-up, so it says no verdict.
    assert last["error_rate"]["verdict"] == "ok", last["error_rate"]["line"]
    assert last["latency"]["verdict"] == "ok", last["latency"]["line"]
    assert last["memory"]["verdict"] == "no verdict", last["memory"]["line"]
    assert checks[-1].data["drift"]["verdict"] == "clean", checks[-1].data["drift"]["note"]
    baseline = next(e for e in journal_events(journal, kinds=["check"]) if e.step == "backup"
                    and "watch_baseline" in e.data).data["watch_baseline"]  # fmt: skip
    assert len(baseline["latencies_ms"]) >= 20 and baseline["error_window_s"] > 0
    assert baseline["templates"]["lines"] >= 30
    assert journal_deployments(journal, app.name)[0].state == "succeeded"


def test_a_silent_failure_is_found_and_rolled_back(app: OwnApp, tmp_path: Path) -> None:
    """DEMO_SILENT_FAILURE: every answer is 200, health passes, no error line: the series rules
    see nothing. Log drift finds the new WARN template; with new_templates_alarm_level = "warn"
    it alarms and the headless watch rolls the code back."""
    journal = tmp_path / "j.sqlite3"
    configure(app, minutes=3, alarms='new_templates_alarm_level = "warn"\n',
              DEMO_SILENT_FAILURE="1")  # fmt: skip
    done, load = deploy_under_load(app, journal, "main", WARM_S, 180)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr
    assert load.failed == 0, load.errors[:3]  # silent: every request succeeded
    findings = watch_events(journal, "finding")
    assert findings, done.stdout[-3000:]
    first = findings[0]
    assert first.message.startswith("finding: new WARN template")
    assert "price lookup failed for sku=<NUM>, using <NUM>" in first.message
    assert first.ts - live_at(journal) < 60.0  # found within a minute of going live
    # The headless deploy prints it as a line of its own.
    assert any(line.startswith("finding: new WARN template") for line in done.stdout.splitlines())
    (alarm,) = watch_events(journal, "alarm")
    assert alarm.data["rule"] == "log_drift" and alarm.data["threshold"] == 5.0
    assert "watch alarm: log drift: new WARN template" in done.stderr
    # The code went back. (Not the switch: pm2's reload --update-env of the old release keeps
    # DEMO_SILENT_FAILURE from the bad release's ecosystem env, so 1.0.0 goes on warning.)
    assert served_version(app.status_url) == "1.0.0"
    assert journal_deployments(journal, app.name)[0].state == "rolled_back"
    # Nothing else alarmed first: the series rules had nothing to say about this release.
    checks = watch_events(journal, "check")
    fired = [j["rule"] for c in checks for j in c.data["judgements"] if j["verdict"] == "alarm"]
    assert fired == [], fired


def test_a_memory_leak_alarms_once_the_window_allows(app: OwnApp, tmp_path: Path) -> None:
    """DEMO_LEAK_KB_PER_REQ: ~1 MB/s kept per process under the load. The memory rule says no
    verdict through the warm-up and until its window is full, then alarms (a Theil-Sen slope
    over the window, steady, above the old level); the windows are short by config here
    (warm-up 20 s, window 60 s) so the test takes minutes, not the default six."""
    journal = tmp_path / "j.sqlite3"
    # Only memory is judged here: a leaking heap may also slow requests down.
    configure(app, minutes=3, alarms="warmup_s = 20.0\nmemory_window_s = 60.0\n",
              extra="[canary]\nlatency_tolerance_ms = 10000.0\n",
              DEMO_LEAK_KB_PER_REQ="100")  # fmt: skip
    done, _load = deploy_under_load(app, journal, "main", 20, 180)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr
    (alarm,) = watch_events(journal, "alarm")
    assert alarm.data["rule"] == "memory", alarm.message
    assert "Theil-Sen" in alarm.message and "MB/min" in alarm.message
    checks = watch_events(journal, "check")
    at = checks[alarm.data["sample"] - 1].data["elapsed_s"]
    assert 80.0 <= at <= 80.0 + 40.0, at  # not before warm-up + window; soon after
    before = [c for c in checks if c.data["elapsed_s"] < 80.0]
    verdicts = {j["verdict"] for c in before for j in c.data["judgements"] if j["rule"] == "memory"}
    assert verdicts == {"no verdict"}
    assert served_version(app.status_url) == "1.0.0"
