"""The watch loop with an injected clock and sleep (no waiting), a scripted Verifier, a real
journal, and the log-growth counter on real files through LocalTransport."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tui.core.config import Config, HostConfig, load_config
from tui.core.health import Pm2Snapshot
from tui.core.journal import Journal
from tui.core.log_buffer import ERROR as ERROR_LEVEL
from tui.core.log_buffer import INFO as INFO_LEVEL
from tui.core.pm2 import Pm2Error, parse_jlist
from tui.core.transport import LocalTransport
from tui.core.verify_checks import FAIL, INFO, PASS, CheckResult
from tui.core.watch import (
    ALARMED,
    CANCELLED,
    CLEAN,
    RUNNING,
    AlarmRules,
    LogErrorCounter,
    Watch,
    WatchBaseline,
    sample_baseline,
    watch_outcome,
)

MB = 1024 * 1024
CONFIG = """
[app]
name = "demo"
root = "/srv/demo"

[[hosts]]
name = "local"
transport = "local"

[policy]
watch_minutes = 1
watch_interval_s = 10
"""


@pytest.fixture
def config(tmp_path: Path) -> Config:
    path = tmp_path / "shipdeck.toml"
    path.write_text(CONFIG)
    return load_config(path)


class Clock:
    """time.monotonic stand-in; ``sleep`` advances it instead of waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def results(
    *,
    healthy: bool = True,
    restarts: int = 0,
    memory_mb: float = 50,
    latency: float = 5.0,
    files: dict[str, Any] | None = None,
) -> list[CheckResult]:
    procs = [{"pm_id": i, "status": "online" if healthy else "stopped", "restarts": restarts}
             for i in (0, 1)]  # fmt: skip
    return [
        CheckResult("Health Check", PASS if healthy else FAIL, "" if healthy else "HTTP 503",
                    {"latency_ms": latency}),
        CheckResult("API Status", PASS),
        CheckResult("Error Check", PASS, "0 errors", {"files": files or {}}),
        CheckResult("Processes", PASS if healthy else FAIL, "", {"processes": procs}),
        CheckResult("Memory Usage", INFO, "", {"processes": [
            {"pm_id": i, "memory_bytes": int(memory_mb * MB)} for i in (0, 1)]}),
    ]  # fmt: skip


class ScriptedVerifier:
    """run_all() answers from ``script(n)`` for the n-th round (1-based); no I/O."""

    def __init__(self, config: Config, script: Callable[[int], list[CheckResult]]) -> None:
        self.config = config
        self.transport = LocalTransport(HostConfig(name="local", address="", transport="local"))
        self.script = script
        self.rounds = 0
        self.baselines: list[Any] = []

    async def run_all(self, *, restarts_baseline=None, health_first=False) -> list[CheckResult]:
        self.rounds += 1
        self.baselines.append(restarts_baseline)
        return self.script(self.rounds)


BASE = WatchBaseline(errors_per_minute=0.0, restarts={0: 0, 1: 0}, memory_bytes={0: 50 * MB})


def make_watch(config, journal, verifier, clock, **kw: Any) -> Watch:
    kw.setdefault("error_count_source", lambda: 0)
    return Watch(config, verifier, journal, deployment_id=None, baseline=BASE, clock=clock,
                 sleep=clock.sleep, **kw)  # fmt: skip


async def test_a_healthy_release_completes_clean_and_unlocks_confirm(config, journal) -> None:
    clock = Clock()
    verifier = ScriptedVerifier(config, lambda n: results(latency=float(n)))
    seen = []
    watch = make_watch(config, journal, verifier, clock, on_sample=seen.append)
    assert not watch.confirm_unlocked and watch.remaining_s() == 60.0
    result = await watch.run()
    assert result.state == CLEAN and watch.confirm_unlocked and result.alarms == ()
    # Samples at 0, 10, ..., 60 s: the whole minute is covered, the last one at its end.
    assert verifier.rounds == 7 == len(seen) == watch.expected_samples
    assert clock.sleeps == [10.0] * 6 and watch.remaining_s() == 0.0
    last = seen[-1]
    assert (last.latency_p50_ms, last.latency_p95_ms) == (4.0, 7.0)
    assert last.memory_change == 0.0 and last.new_restarts == 0
    events = journal.events()
    assert [e.kind for e in events] == ["note"] + ["check"] * 7 + ["note"]
    assert all(e.step == "watch" for e in events)
    assert events[1].data["health_latency_ms"] == 1.0 and events[1].message.startswith(
        "watch sample 1/7: health ok"
    )
    assert events[-1].data["result"] == CLEAN and events[-1].data["confirm_unlocked"] is True
    assert watch_outcome(journal, 0) is None  # events are per deployment


async def test_failing_mid_watch_alarms_and_keeps_watching_without_auto_rollback(
    config, journal
) -> None:
    clock = Clock()
    verifier = ScriptedVerifier(config, lambda n: results(healthy=n < 3))
    alarms, rollbacks = [], []

    async def rollback(reason: str) -> None:
        rollbacks.append(reason)

    watch = make_watch(config, journal, verifier, clock, on_alarm=alarms.append, rollback=rollback)
    result = await watch.run()
    assert result.state == ALARMED and not watch.confirm_unlocked
    assert [a.rule for a in alarms] == ["health"] and alarms[0].sample_index == 4
    assert "HTTP 503" in alarms[0].cause and rollbacks == []
    assert verifier.rounds == 7  # the operator decides; the numbers keep coming
    alarm_events = journal.events(kinds=["alarm"])
    assert len(alarm_events) == 1 and alarm_events[0].data["rule"] == "health"
    assert alarm_events[0].message.startswith("ALARM: unhealthy 2 times in a row: Health Check")


async def test_auto_rollback_calls_the_rollback_and_says_why(config, journal) -> None:
    clock = Clock()
    verifier = ScriptedVerifier(config, lambda n: results(restarts=0 if n < 2 else 1))
    called: list[str] = []

    async def rollback(reason: str) -> None:
        called.append(reason)

    watch = make_watch(config, journal, verifier, clock, rollback=rollback, auto_rollback=True)
    result = await watch.run()
    assert result.state == ALARMED and result.rolled_back and verifier.rounds == 2
    assert called == [
        "watch alarm: 2 process restart(s) since the watch began (any restart alarms)"
    ]
    # The first round's counts were the restart baseline (none given).
    assert verifier.baselines[1] == {0: 0, 1: 0}
    actions = journal.events(kinds=["action"])
    assert len(actions) == 1 and actions[0].message.startswith(
        "auto-rollback (policy.auto_rollback)"
    )
    assert "rolled back" in result.message


async def test_a_failing_rollback_is_reported_not_raised(config, journal) -> None:
    clock = Clock()
    verifier = ScriptedVerifier(config, lambda n: results(restarts=0 if n < 3 else 1))

    async def rollback(reason: str) -> None:
        raise RuntimeError("no previous good release\nto roll back to")

    watch = make_watch(config, journal, verifier, clock, rollback=rollback, auto_rollback=True)
    result = await watch.run()
    assert result.state == ALARMED and not result.rolled_back
    assert result.rollback_error == "no previous good release to roll back to"
    assert [a.rule for a in result.alarms] == ["restarts"]
    assert journal.events(kinds=["alarm"])[-1].message.startswith("watch: rollback failed")


async def test_a_fresh_heap_above_the_old_level_is_not_an_alarm(config, journal) -> None:
    """The first-generation rule rolled back a healthy release whose fresh heap sat 60% above
    the old one: the series rule wants a steady rise over its window, so a level alone never
    alarms (and within a minute the memory rule says no verdict: warm-up)."""
    clock = Clock()
    verifier = ScriptedVerifier(config, lambda n: results(memory_mb=80))
    watch = make_watch(config, journal, verifier, clock)
    result = await watch.run()
    assert result.state == CLEAN, result.message
    memory = [j for j in watch.judgements if j.rule == "memory"]
    assert memory[0].verdict == "no verdict" and "of 300 s after the warm-up" in memory[0].line
    last = journal.events(kinds=["check"])[-1]
    rules = {j["rule"]: j for j in last.data["judgements"]}
    assert set(rules) == {"health", "error_rate", "restarts", "memory", "latency", "scale"}
    assert rules["memory"]["verdict"] == "no verdict" and rules["memory"]["statistic"]
    assert rules["latency"]["verdict"] == "no verdict"  # no latencies before DEPLOY in BASE


async def test_error_rate_against_the_baseline_from_the_source(config, journal) -> None:
    clock = Clock()
    counts = iter([0, 2, 7, 7, 0, 0, 0])
    verifier = ScriptedVerifier(config, lambda n: results())
    watch = make_watch(config, journal, verifier, clock, error_count_source=lambda: next(counts))
    result = await watch.run()
    assert [a.rule for a in result.alarms] == ["error_rate"]
    # 16 lines in the first 30 s (the least exposure the Poisson test judges): 32/min > 5/min.
    alarm = result.alarms[0]
    assert alarm.sample_index == 4 and alarm.threshold == 5.0 and alarm.value == 32.0
    assert "Poisson" in alarm.cause and "significant and over the limit" in alarm.cause
    # The sample line still shows errors in the last minute.
    assert [s.errors_per_minute for s in watch.samples][:4] == [0.0, 2.0, 9.0, 16.0]


async def test_cancel_ends_the_watch_as_cancelled(config, journal) -> None:
    clock = Clock()
    verifier = ScriptedVerifier(config, lambda n: results())
    gate = asyncio.Event()

    async def slow_sleep(seconds: float) -> None:
        await gate.wait()

    watch = Watch(config, verifier, journal, deployment_id=None, baseline=BASE, clock=clock,
                  sleep=slow_sleep, error_count_source=lambda: 0)  # fmt: skip
    task = asyncio.create_task(watch.run())
    async with asyncio.timeout(5):
        while verifier.rounds < 1:
            await asyncio.sleep(0)
    assert watch.state == RUNNING
    watch.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert watch.state == CANCELLED and not watch.confirm_unlocked
    assert journal.events()[-1].data["result"] == CANCELLED


async def test_operator_rollback_from_the_banner_stops_the_running_watch(config, journal) -> None:
    clock = Clock()
    verifier = ScriptedVerifier(config, lambda n: results(healthy=False))
    gate = asyncio.Event()
    called: list[str] = []

    async def slow_sleep(seconds: float) -> None:
        clock.now += seconds
        if verifier.rounds >= 2:
            await gate.wait()  # parked after the alarm, as a real watch waits between rounds

    async def rollback(reason: str) -> None:
        called.append(reason)

    dep = journal.start_deployment("demo", "main")
    watch = Watch(config, verifier, journal, deployment_id=dep.id, baseline=BASE, clock=clock,
                  sleep=slow_sleep, error_count_source=lambda: 0, rollback=rollback)  # fmt: skip
    task = asyncio.create_task(watch.run())
    async with asyncio.timeout(5):
        while not watch.alarms:
            await asyncio.sleep(0)
    result = await watch.roll_back("operator pressed R: health failing")
    assert called == ["operator pressed R: health failing"] and result.rolled_back
    final = await asyncio.wait_for(task, 5)  # ends normally, not as a cancelled task
    assert final.state == ALARMED and watch_outcome(journal, dep.id) == ALARMED


async def test_zero_minutes_is_one_round(config, journal) -> None:
    clock = Clock()
    verifier = ScriptedVerifier(config, lambda n: results())
    watch = make_watch(config, journal, verifier, clock, duration_s=0)
    assert (await watch.run()).state == CLEAN and verifier.rounds == 1
    with pytest.raises(RuntimeError):
        await watch.run()


# ----------------------------------------------------------------------------- log growth


async def test_log_counter_counts_only_new_complete_error_lines(tmp_path: Path) -> None:
    log = tmp_path / "err.log"
    log.write_text("old ERROR before the watch\n")
    counter = LogErrorCounter(
        LocalTransport(HostConfig(name="l", address="", transport="local")), "ERROR"
    )
    paths = [str(log), str(tmp_path / "missing.log")]
    assert await counter.count(paths) == 0  # the first call notes where the files end
    with log.open("a") as f:
        f.write("INFO fine\nERROR one\nERROR tw")  # the app is mid-line
    assert await counter.count(paths) == 1
    with log.open("a") as f:
        f.write("o\nERROR three\n")
    assert await counter.count(paths) == 2
    assert await counter.count(paths) == 0
    log.write_text("ERROR after rotation\n")  # shorter than before: read from its start
    assert await counter.count(paths) == 1
    small = LogErrorCounter(counter.transport, "ERROR", cap_bytes=64)
    await small.count([str(log)])
    with log.open("a") as f:
        f.write("ERROR burst line\n" * 40)
    counted = await small.count([str(log)])
    assert small.truncated and counted is not None and 1 <= counted <= 4
    assert await counter.count([]) is None


# ----------------------------------------------------------------------------- the baseline

JLIST = """[{"name": "demo", "pm_id": 0, "pid": 11, "monit": {"memory": 52428800, "cpu": 1},
 "pm2_env": {"status": "online", "restart_time": 4, "pm_out_log_path": "%OUT%",
             "pm_err_log_path": "%ERR%", "exec_mode": "cluster_mode"}},
 {"name": "other", "pm_id": 1, "pid": 12, "monit": {"memory": 1, "cpu": 0},
 "pm2_env": {"status": "online", "restart_time": 9}}]"""


class SnapshotVerifier:
    def __init__(self, config: Config, out: Path, err: Path, fail: bool = False) -> None:
        self.config = config
        self.transport = LocalTransport(HostConfig(name="local", address="", transport="local"))
        self.text = JLIST.replace("%OUT%", str(out)).replace("%ERR%", str(err))
        self.fail = fail

    async def snapshot(self) -> Pm2Snapshot:
        if self.fail:
            raise Pm2Error("pm2 not running")
        return Pm2Snapshot(tuple(parse_jlist(self.text)), {})

    async def check_health(self) -> CheckResult:
        self.probes = getattr(self, "probes", 0) + 1
        return CheckResult("Health Check", PASS, "", {"latency_ms": 10.0 + self.probes})


async def test_baseline_from_log_timestamps(config, journal, tmp_path: Path) -> None:
    import time

    now = time.time()
    out, err = tmp_path / "out.log", tmp_path / "err.log"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - 120)) + ".000Z"
    out.write_text(f"{stamp} INFO GET / 200\n")
    err.write_text(f"{stamp} ERROR boom\n" * 20)
    base = await sample_baseline(SnapshotVerifier(config, out, err), journal=journal,
                                 deployment_id=None, probe_gap_s=0)  # fmt: skip
    assert base.source == "timestamps" and base.errors_per_minute == 2.0  # 20 over 10 min
    assert base.error_window_s == 600.0  # what the Poisson test weighs the 20 lines by
    assert base.restarts == {0: 4} and base.memory_bytes == {0: 50 * MB}
    # 30 health probes after the first (which may open the SSH forward): 12, 13, ... 41 ms.
    assert base.latencies_ms == tuple(float(v) for v in range(12, 42))
    # The old release's log templates, for the drift judgement (INFO on out, ERROR on err).
    templates = {t[2]: (t[1], t[3]) for t in base.templates["templates"]}
    assert templates == {"GET / <NUM>": (INFO_LEVEL, 1), "boom": (ERROR_LEVEL, 20)}
    event = journal.events()[-1]
    assert event.kind == "check" and event.step == "backup"
    assert event.data["watch_baseline"]["errors_per_minute"] == 2.0


async def test_baseline_measures_when_logs_have_no_timestamps(config, tmp_path: Path) -> None:
    out, err = tmp_path / "out.log", tmp_path / "err.log"
    out.write_text("GET / 200\n")
    err.write_text("Error: old\n")

    async def sleep(seconds: float) -> None:
        with err.open("a") as f:
            f.write("Error: new one\nError: new two\n")

    base = await sample_baseline(SnapshotVerifier(config, out, err), sample_s=30, sleep=sleep,
                                 probe_gap_s=0)  # fmt: skip
    assert base.source == "sample" and base.errors_per_minute == 4.0  # 2 in 30 s
    assert base.error_window_s == 30.0
    broken = await sample_baseline(SnapshotVerifier(config, out, err, fail=True), probe_gap_s=0)
    assert broken.source == "none" and "pm2 not running" in broken.detail


async def test_cancelling_the_watch_does_not_cut_its_rollback_in_half(config, journal) -> None:
    clock = Clock()
    verifier = ScriptedVerifier(config, lambda n: results(restarts=n - 1))
    started, release, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def rollback(reason: str) -> None:
        started.set()
        await release.wait()
        finished.set()

    watch = make_watch(config, journal, verifier, clock, rollback=rollback, auto_rollback=True)
    task = asyncio.create_task(watch.run())
    async with asyncio.timeout(5):
        await started.wait()
    watch.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    async with asyncio.timeout(5):
        await finished.wait()
    messages = [e.message for e in journal.events()]
    assert "watch cancelled; the rollback it started goes on" in messages


async def test_an_unexpected_error_stops_the_watch_locked(config, journal) -> None:
    clock = Clock()

    def broken(n: int) -> list[CheckResult]:
        raise ValueError("scripted bug")

    watch = make_watch(config, journal, ScriptedVerifier(config, broken), clock)
    with pytest.raises(ValueError):
        await watch.run()
    assert watch.state == CANCELLED and not watch.confirm_unlocked
    assert "watch stopped by an error: scripted bug" in [e.message for e in journal.events()]


class FakeWorkflow:
    """What the helpers read of a Workflow: config, transport, journal, the open deployment."""

    def __init__(self, config: Config, journal: Journal) -> None:
        self.config = config
        self.journal = journal
        self.transport = LocalTransport(HostConfig(name="local", address="", transport="local"))
        self.deployment_id = journal.start_deployment("demo", "main").id
        self.reasons: list[str] = []

    async def rollback(self, reason: str) -> None:
        self.reasons.append(reason)


async def test_workflow_helpers_keep_the_baseline_in_the_deployment(
    config, journal, monkeypatch
) -> None:
    from tui.core import watch as watch_module
    from tui.core import watch_baseline

    wf = FakeWorkflow(config, journal)
    taken = WatchBaseline(2.5, {0: 1}, {0: 40 * MB}, "timestamps", "x")

    async def fake_sample(verifier: Any, **kwargs: Any) -> WatchBaseline:
        assert kwargs["deployment_id"] == wf.deployment_id and kwargs["journal"] is journal
        return taken

    monkeypatch.setattr(watch_baseline, "sample_baseline", fake_sample)
    assert await watch_module.baseline_for_workflow(wf) == taken
    journal.update_deployment(wf.deployment_id, data={"restarts_baseline": {"0": 3, "1": 0}})
    watch = watch_module.watch_for_workflow(wf, duration_s=5)
    assert watch.baseline == taken and watch.restarts_baseline == {0: 3, 1: 0}
    assert watch.rollback == wf.rollback and watch.deployment_id == wf.deployment_id
    assert watch.duration_s == 5 and watch.interval_s == 10


async def test_confirm_gate_from_the_journal(config, journal) -> None:
    from tui.core.watch import confirm_gate, override_watch

    dep = journal.start_deployment("demo", "main")
    gate = confirm_gate(journal, dep.id)
    assert not gate.unlocked and "has not run" in gate.message
    clock = Clock()
    watch = Watch(config, ScriptedVerifier(config, lambda n: results(healthy=False)), journal,
                  deployment_id=dep.id, baseline=BASE, clock=clock, sleep=clock.sleep,
                  error_count_source=lambda: 0)  # fmt: skip
    await watch.run()
    gate = confirm_gate(journal, dep.id)
    assert (gate.unlocked, gate.outcome) == (False, ALARMED) and "raised an alarm" in gate.message
    with pytest.raises(ValueError):
        override_watch(journal, dep.id, "  ")
    gate = override_watch(journal, dep.id, "alarm was the load test, checked with ops")
    assert gate.unlocked and gate.override_reason == "alarm was the load test, checked with ops"
    assert journal.events()[-1].kind == "action"
    clean = journal.start_deployment("demo", "main")
    ok = Watch(config, ScriptedVerifier(config, lambda n: results()), journal,
               deployment_id=clean.id, baseline=BASE, clock=clock, sleep=clock.sleep,
               error_count_source=lambda: 0)  # fmt: skip
    await ok.run()
    assert confirm_gate(journal, clean.id).unlocked


async def test_alarm_thresholds_come_from_policy_alarms(journal, tmp_path: Path) -> None:
    """[policy.alarms] sets the rules: a streak of 3 lets two failed rounds pass, and the
    journaled watch start names the configured thresholds."""
    path = tmp_path / "alarms.toml"
    path.write_text(CONFIG + "\n[policy.alarms]\nhealth_fail_streak = 3\nmax_new_restarts = 1\n"
                    "memory_growth = 2.0\nerror_rate_factor = 4\n"
                    "error_rate_floor = 0\n")  # fmt: skip
    config = load_config(path)
    clock = Clock()
    bad = {2, 3}  # two unhealthy rounds in a row: under the streak of 3
    verifier = ScriptedVerifier(config, lambda n: results(healthy=n not in bad))
    watch = make_watch(config, journal, verifier, clock)
    assert watch.rules == AlarmRules(3, 4.0, 0.0, 1, 2.0)
    result = await watch.run()
    assert result.state == CLEAN, result.message
    started = journal.events(kinds=["note"])[0]
    assert started.data["rules"][0] == "health or API status fails 3 times in a row"
    assert started.data["rules"][2] == "more than 1 restarts"
    # The same unhealthy rounds with the default rules (streak 2) alarm.
    defaults = make_watch(load_config_text(tmp_path, CONFIG), journal, ScriptedVerifier(
        config, lambda n: results(healthy=n not in bad)), Clock())  # fmt: skip
    assert defaults.rules == AlarmRules()
    assert (await defaults.run()).state == ALARMED


def load_config_text(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "plain.toml"
    path.write_text(text)
    return load_config(path)
