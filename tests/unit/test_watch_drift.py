"""The watch engine with log drift and the series rules: real log files read through
LocalTransport by the watch's own offset reader, a scripted Verifier, an injected clock, and a
host clock that moves with it (the drift judgement runs on the host's time, as the lines do)."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tui.core.config import Config, HostConfig, load_config
from tui.core.journal import Journal
from tui.core.log_drift import DriftWatch
from tui.core.log_filter import Classifier
from tui.core.transport import LocalTransport
from tui.core.verify_checks import INFO, PASS, CheckResult
from tui.core.watch import ALARMED, CLEAN, FINDING, RULE_DRIFT, Watch, WatchBaseline

MB = 1024 * 1024
HOST_T0 = 1796648400.0  # the host's clock when the watch starts (2026-12-07T13:00:00Z)
CONFIG = """
[app]
name = "demo"
root = "/srv/demo"

[[hosts]]
name = "local"
transport = "local"

[policy]
watch_minutes = 1.5
watch_interval_s = 10
"""


def config_from(tmp_path: Path, extra: str = "") -> Config:
    path = tmp_path / "shipdeck.toml"
    path.write_text(CONFIG + extra)
    return load_config(path)


class Clock:
    def __init__(self, on_sleep=None) -> None:
        self.now = 1000.0
        self.on_sleep = on_sleep

    def __call__(self) -> float:
        return self.now

    @property
    def host(self) -> float:
        return HOST_T0 + (self.now - 1000.0)

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(self)
        await asyncio.sleep(0)


class HostClockTransport(LocalTransport):
    """The local host, whose `date` says the test clock's time."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(HostConfig(name="local", address="", transport="local"))
        self.clock = clock

    async def run(self, argv, **kw):  # type: ignore[no-untyped-def]
        result = await super().run(argv, **kw)
        stdout = re.sub(r"(?m)^(@@shipdeck-\w+-clock) \d+", lambda m: f"{m.group(1)} "
                        f"{int(self.clock.host)}", result.stdout)  # fmt: skip
        return dataclasses.replace(result, stdout=stdout)


def stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class LogVerifier:
    """run_all(): a healthy round whose Error Check names the two log files."""

    def __init__(self, config: Config, transport: LocalTransport, out: Path, err: Path) -> None:
        self.config = config
        self.transport = transport
        self.files = {str(out): {"lines": 0, "errors": 0, "stream": "out"},
                      str(err): {"lines": 0, "errors": 0, "stream": "err"}}  # fmt: skip
        self.rounds = 0

    async def run_all(self, *, restarts_baseline=None, health_first=False) -> list[CheckResult]:
        self.rounds += 1
        procs = [{"pm_id": i, "status": "online", "restarts": 0} for i in (0, 1)]
        return [
            CheckResult("Health Check", PASS, "", {"latency_ms": 5.0}),
            CheckResult("API Status", PASS),
            CheckResult("Error Check", PASS, "0 errors", {"files": self.files}),
            CheckResult("Processes", PASS, "", {"processes": procs}),
            CheckResult("Memory Usage", INFO, "", {"processes": [
                {"pm_id": i, "memory_bytes": 60 * MB} for i in (0, 1)]}),
        ]  # fmt: skip


def old_release_templates(journal: Journal) -> dict[str, Any]:
    """Three minutes of the old release's lines: a request line a second, a WARN now and then."""
    lines = [f"{stamp(HOST_T0 - 180 + i)} INFO GET /api/orders/{i} 200 {3 + i % 5}.1ms pid=11"
             for i in range(180)]  # fmt: skip
    lines += [f"{stamp(HOST_T0 - 170 + i * 60)} WARN cache refresh slow: {800 + i}ms"
              for i in range(3)]  # fmt: skip
    drift = DriftWatch(Classifier(), redact=journal.redactor)
    drift.learn(sorted(lines), stream="out")
    return drift.freeze(now=HOST_T0, window_s=600).to_json()


def new_release_writes(out: Path, warn_from_round: int | None):
    """Each round (on the watch's sleep) the app logs 10 request lines, and from a round on a
    WARN per request as well (the silent failure: every answer is 200)."""
    rounds = [0]

    def write(clock: Clock) -> None:
        rounds[0] += 1
        with out.open("a") as f:
            for i in range(10):
                t = clock.host - 10 + i
                f.write(f"{stamp(t)} INFO GET /api/orders/{i} 200 4.2ms pid=12\n")
                if warn_from_round is not None and rounds[0] >= warn_from_round:
                    f.write(f"{stamp(t)} WARN price lookup failed for sku={1000 + i}, using 0\n")

    return write


async def watch_with_drift(
    tmp_path: Path, journal: Journal, extra: str = "", warn_from_round: int | None = 2, **kw: Any
) -> Watch:
    config = config_from(tmp_path, extra)
    out, err = tmp_path / "app-out.log", tmp_path / "app-error.log"
    out.write_text("")
    err.write_text("")
    clock = Clock(new_release_writes(out, warn_from_round))
    transport = HostClockTransport(clock)
    baseline = WatchBaseline(
        errors_per_minute=0.0, restarts={0: 0, 1: 0}, memory_bytes={0: 60 * MB, 1: 60 * MB},
        source="timestamps", error_window_s=600.0, templates=old_release_templates(journal),
    )  # fmt: skip
    return Watch(config, LogVerifier(config, transport, out, err), journal, deployment_id=None,
                 baseline=baseline, clock=clock, sleep=clock.sleep, **kw)  # fmt: skip


async def test_a_new_warn_template_is_a_finding_journaled_once(tmp_path, journal) -> None:
    watch = await watch_with_drift(tmp_path, journal)
    result = await watch.run()
    # Default [policy.alarms] new_templates_alarm_level = "error": a WARN template is a finding,
    # not an alarm.
    assert result.state == CLEAN, result.message
    findings = journal.events(kinds=[FINDING])
    assert len(findings) == 1, [e.message for e in findings]  # once, though seen every round
    (event,) = findings
    assert event.step == "watch" and event.message.startswith("finding: new WARN template")
    assert "price lookup failed for sku=<NUM>, using <NUM>" in event.message
    assert event.data["kind"] == "new" and event.data["count"] >= 20
    # Found at the first round the drift judges: 30 s of watch (its minimum) at t = 30 s.
    checks = journal.events(kinds=["check"])
    first = next(e for e in checks if e.data.get("drift", {}).get("findings"))
    assert first.data["elapsed_s"] == 30.0 and first.id < event.id
    assert checks[0].data["drift"]["verdict"] == "no verdict"
    started = journal.events(kinds=["note"])[0].message
    assert "log drift against log templates: 2 from 183 lines over 3.0 min" in started
    assert "a new ERROR template at >= 5/min alarms" in started
    assert watch.drift_report is not None and watch.drift_report.verdict == "drift"


async def test_a_healthy_release_has_no_finding(tmp_path, journal) -> None:
    watch = await watch_with_drift(tmp_path, journal, warn_from_round=None)
    result = await watch.run()
    assert result.state == CLEAN and journal.events(kinds=[FINDING]) == []
    assert watch.drift_report is not None and watch.drift_report.verdict == "clean"


async def test_warn_level_alarms_and_rolls_back(tmp_path, journal) -> None:
    reasons: list[str] = []

    async def rollback(reason: str) -> None:
        reasons.append(reason)

    watch = await watch_with_drift(
        tmp_path, journal, "\n[policy.alarms]\nnew_templates_alarm_level = \"warn\"\n",
        rollback=rollback, auto_rollback=True,
    )  # fmt: skip
    result = await watch.run()
    assert result.state == ALARMED and result.rolled_back
    (alarm,) = result.alarms
    assert alarm.rule == RULE_DRIFT and alarm.threshold == 5.0 and alarm.value >= 5.0
    assert alarm.cause.startswith("log drift: new WARN template")
    assert "of a new WARN template (count >= 3 of a template the baseline lacks)" in alarm.cause
    assert reasons == [f"watch alarm: {alarm.cause}"]
    kinds = [e.kind for e in journal.events() if e.kind in ("check", FINDING, "alarm")]
    assert kinds[-2:] == [FINDING, "alarm"]  # the finding first, then the alarm it raised


async def test_no_templates_no_drift_verdict(tmp_path, journal) -> None:
    watch = await watch_with_drift(tmp_path, journal)
    watch.drift = None  # as with a baseline read before this version (no "templates")
    result = await watch.run()
    assert result.state == CLEAN and journal.events(kinds=[FINDING]) == []
    started = journal.events(kinds=["note"])[0].message
    assert "log drift: no verdict (no log templates of the old release)" in started


@pytest.mark.parametrize("level", ["error", "warn"])
async def test_alarm_level_words(tmp_path, journal, level: str) -> None:
    extra = f"\n[policy.alarms]\nnew_templates_alarm = 0\nnew_templates_alarm_level = \"{level}\"\n"
    watch = await watch_with_drift(tmp_path, journal, extra)
    await watch.run()
    assert journal.events(kinds=["alarm"]) == []  # 0: findings only
    assert "drift findings never alarm" in journal.events(kinds=["note"])[0].message


async def test_a_restarted_console_judges_drift_against_the_journaled_templates(
    tmp_path, journal
) -> None:
    """The baseline (its templates too) lives in the deployment's data: a watch built after a
    restart of the console (watch_for_workflow) judges against the same templates."""
    from tests.unit.test_watch import FakeWorkflow
    from tui.core.watch import watch_for_workflow

    wf = FakeWorkflow(config_from(tmp_path), journal)
    taken = WatchBaseline(source="timestamps", templates=old_release_templates(journal))
    journal.update_deployment(wf.deployment_id, data={"watch_baseline": taken.to_json()})
    watch = watch_for_workflow(wf, duration_s=30)
    assert watch.drift is not None and watch.drift.baseline is not None
    assert watch.drift.baseline.lines == 183 and len(watch.drift.baseline.templates) == 2
    # A baseline journaled before templates existed: the watch runs, drift says no verdict.
    journal.update_deployment(wf.deployment_id, data={"watch_baseline": {"source": "none"}})
    assert watch_for_workflow(wf, duration_s=30).drift is None
