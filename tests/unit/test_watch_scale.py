"""The scale suggestion: latency rising under load (busy CPU, errors judged ok) suggests
`pm2 scale APP +N`; with [policy] auto_scale the watch scales through the callback it was given.
Never for a release whose error rate alarms, never without the data (DESIGN rule 11)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_watch import CONFIG, Clock
from tui.core.config import HostConfig, load_config
from tui.core.transport import LocalTransport
from tui.core.verify_checks import INFO, PASS, CheckResult
from tui.core.watch import SUGGESTION, Watch, WatchBaseline
from tui.core.watch_stats import ALARM, NO_VERDICT, OK, SUGGEST, Judgement, judge_scale

MB = 1024 * 1024
ERRORS_OK = Judgement("error_rate", OK, "error rate: ok", "Poisson", "30 s")
ERRORS_ALARM = Judgement("error_rate", ALARM, "error rate: ALARM", "Poisson", "30 s")
ERRORS_UNJUDGED = Judgement("error_rate", NO_VERDICT, "error rate: no verdict", "Poisson", "30 s")
BEFORE = [5.0 + (i % 4) for i in range(30)]  # p95 8 ms


def rising(until: float = 300.0, step: float = 10.0) -> list[tuple[float, float]]:
    """Probe latency climbing 0.3 ms/s from 6 ms (a queue building up), one probe per round."""
    return [(t, 6.0 + 0.3 * t) for t in (i * step for i in range(int(until / step) + 1))]


def flat(value: float, until: float = 300.0, step: float = 10.0) -> list[tuple[float, float]]:
    return [(i * step, value) for i in range(int(until / step) + 1)]


def scale(latencies, cpu, *, now=200.0, errors=ERRORS_OK, instances=2, max_instances=8,
          baseline=BEFORE, **kw: Any) -> Judgement:  # fmt: skip
    args = dict(tolerance_percent=20.0, tolerance_ms=10.0, warmup_s=60.0)
    args.update(kw)
    return judge_scale(latencies, cpu, baseline, now=now, errors=errors, instances=instances,
                       max_instances=max_instances, **args)  # fmt: skip


def test_rising_latency_on_busy_processes_suggests_more_instances() -> None:
    j = scale(rising(), flat(90.0))
    assert j.verdict == SUGGEST and j.value == 2.0  # 2 x 90% -> about 50% each on 4
    assert j.line.startswith("scale: suggest, +2: p95 latency")
    assert "Theil-Sen" in j.line and "CPU 90% per process" in j.line
    assert "errors ok: load, not a bad release" in j.line
    assert j.figures["slope_low"] > 0 and j.statistic.startswith("Theil-Sen")
    # Bounded by max_instances; at it, no suggestion.
    assert scale(rising(), flat(95.0), max_instances=3).value == 1.0
    at_max = scale(rising(), flat(95.0), max_instances=2)
    assert at_max.verdict == OK and "already at max_instances 2" in at_max.line


def test_never_for_a_release_whose_errors_alarm_or_are_unjudged() -> None:
    bad = scale(rising(), flat(90.0), errors=ERRORS_ALARM)
    assert bad.verdict == OK and "a bad release is not scaled" in bad.line
    unjudged = scale(rising(), flat(90.0), errors=ERRORS_UNJUDGED)
    assert unjudged.verdict == NO_VERDICT


def test_not_busy_or_not_rising_or_within_tolerance_is_no_suggestion() -> None:
    idle = scale(rising(), flat(30.0))
    assert idle.verdict == OK and "CPU under 70% per process" in idle.line
    steady = scale(flat(40.0), flat(90.0))
    assert steady.verdict == OK and "latency not trending up" in steady.line
    # A rise of a few ms stays within the canary tolerance (+20% and +10 ms over 8 ms).
    slight = [(t, 6.0 + 0.01 * t) for t, _ in rising()]
    assert "p95 within +20% / +10 ms" in scale(slight, flat(90.0)).line


def test_no_verdict_without_the_data() -> None:
    assert scale(rising(), flat(90.0), now=50.0).verdict == NO_VERDICT  # warm-up
    few = scale(rising(until=100.0), flat(90.0, until=100.0), now=100.0)
    assert few.verdict == NO_VERDICT and "needs 10 and 5" in few.line
    assert scale(rising(), flat(90.0), baseline=[]).verdict == NO_VERDICT
    assert scale(rising(), [], now=200.0).verdict == NO_VERDICT


# ----------------------------------------------------------------------------- in the watch


def busy_round(n: int) -> list[CheckResult]:
    t = (n - 1) * 10.0
    procs = [{"pm_id": i, "status": "online", "restarts": 0} for i in (0, 1)]
    return [
        CheckResult("Health Check", PASS, "", {"latency_ms": 6.0 + 0.3 * t}),
        CheckResult("API Status", PASS),
        CheckResult("Error Check", PASS, "", {"files": {}}),
        CheckResult("Processes", PASS, "", {"processes": procs}),
        CheckResult("Memory Usage", INFO, "", {"processes": [
            {"pm_id": i, "memory_bytes": 60 * MB, "cpu_percent": 92.0} for i in (0, 1)]}),
    ]  # fmt: skip


class Busy:
    def __init__(self, config: Any) -> None:
        self.config = config
        self.transport = LocalTransport(HostConfig(name="local", address="", transport="local"))
        self.rounds = 0

    async def run_all(self, *, restarts_baseline=None, health_first=False) -> list[CheckResult]:
        self.rounds += 1
        return busy_round(self.rounds)


def busy_watch(tmp_path: Path, journal: Any, errors: Any = None, **kw: Any) -> Watch:
    path = tmp_path / "shipdeck.toml"
    path.write_text(CONFIG.replace("watch_minutes = 1", "watch_minutes = 3"))
    config = load_config(path)
    clock = Clock()
    baseline = WatchBaseline(0.0, {0: 0, 1: 0}, {0: 60 * MB, 1: 60 * MB}, "timestamps", "",
                             600.0, tuple(BEFORE))  # fmt: skip
    counts = errors or (lambda: 0)
    return Watch(config, Busy(config), journal, deployment_id=None, baseline=baseline,
                 clock=clock, sleep=clock.sleep, error_count_source=counts, **kw)  # fmt: skip


async def test_the_watch_journals_one_suggestion_within_the_cooldown(tmp_path, journal) -> None:
    watch = busy_watch(tmp_path, journal)
    await watch.run()
    (event,) = journal.events(kinds=[SUGGESTION])
    assert event.step == "watch" and event.message.startswith("suggestion: pm2 scale demo +2")
    assert "(2 -> 4 instances)" in event.message and "CPU 92% per process" in event.message
    assert event.data["command"] == "pm2 scale demo +2" and event.data["auto_scale"] is False
    assert journal.events(kinds=["action"]) == []  # a suggestion only: auto_scale is off
    at = next(e.data["elapsed_s"] for e in journal.events(kinds=["check"])
              if any(j["verdict"] == SUGGEST for j in e.data["judgements"]))  # fmt: skip
    assert at == 150.0  # the warm-up (60 s), then 10 probes


async def test_auto_scale_calls_the_scale_it_was_given(tmp_path, journal) -> None:
    targets: list[int] = []

    async def do_scale(target: int) -> None:
        targets.append(target)

    watch = busy_watch(tmp_path, journal, scale=do_scale, auto_scale=True)
    await watch.run()
    assert targets == [4]
    actions = [e.message for e in journal.events(kinds=["action"])]
    assert actions == ["auto-scale (policy.auto_scale): pm2 scale demo +2"]
    assert "watch: scaled to 4 instances" in [e.message for e in journal.events(kinds=["note"])]
    # Fresh processes: the rules' warm-up starts again from the scaling.
    assert watch.recorder.started_s == 150.0


@pytest.mark.parametrize("auto", [False, True])
async def test_no_suggestion_once_the_error_rate_alarmed(tmp_path, journal, auto: bool) -> None:
    called: list[int] = []

    async def do_scale(target: int) -> None:
        called.append(target)

    burst = iter([0] + [8] * 100)  # 48 error lines a minute from the second round
    watch = busy_watch(tmp_path, journal, errors=lambda: next(burst), scale=do_scale,
                       auto_scale=auto)  # fmt: skip
    result = await watch.run()
    assert [a.rule for a in result.alarms][:1] == ["error_rate"]
    assert journal.events(kinds=[SUGGESTION]) == [] and called == []
