"""The watch's series rules (watch_stats via watch_rules.judge_series) on known answers and on
the corpus in tests/fixtures/watch/ (synthetic models and real recordings from the rig; see its
README)."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest

from tui.core.config_models import AlarmsConfig, CanaryConfig, Config, PolicyConfig
from tui.core.watch_rules import (
    ALARM,
    MIB,
    NO_VERDICT,
    OK,
    RULE_ERRORS,
    RULE_HEALTH,
    RULE_LATENCY,
    RULE_MEMORY,
    RULE_RESTARTS,
    SERIES_RULES,
    AlarmRules,
    RuleState,
    SeriesRecorder,
    TailedFile,
    WatchBaseline,
    WatchSample,
    WatchSeries,
    alarms_from,
    errors_from_timestamps,
    judge,
    judge_series,
    rate_from_timestamps,
)
from tui.core.watch_stats import judge_errors, judge_latency, judge_memory

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "watch"
CASES = sorted(CORPUS.glob("*.json"))
RULES = AlarmRules()
BASE = WatchBaseline(
    errors_per_minute=0.5, memory_bytes={0: 72 * MIB}, source="timestamps", error_window_s=600.0
)


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def replay(case: dict[str, Any], rules: AlarmRules = RULES) -> dict[str, float]:
    """rule -> the first round's t at which it alarmed, judging after every round."""
    series = WatchSeries.from_json(case["series"])
    baseline = WatchBaseline.from_json(case["baseline"])
    first: dict[str, float] = {}
    for t, _ in series.health:
        for j in judge_series(series.until(t), baseline, rules, now=t):
            assert j.verdict in (OK, ALARM, NO_VERDICT) and j.line.startswith(j.rule.split("_")[0])
            if j.alarm:
                first.setdefault(j.rule, t)
    return first


def mem_points(f: Any, until: float = 900.0, step: float = 10.0) -> list[tuple[float, float]]:
    return [(i * step, f(i * step)) for i in range(int(until / step) + 1)]


def memory(points: list[tuple[float, float]], now: float, **kw: Any) -> Any:
    args = dict(baseline_mb=72.0, growth=0.5, leak_mb_per_min=2.0, window_s=300.0, warmup_s=60.0)
    args.update(kw)
    return judge_memory(points, now=now, **args)


# ----------------------------------------------------------------------------- the corpus


def test_the_corpus_is_there_and_labelled_synthetic_or_real() -> None:
    names = {p.stem for p in CASES}
    assert {"healthy_heap_warmup", "leak_3mb_per_min", "crash_loop", "error_burst",
            "slow_release"} <= names  # fmt: skip
    assert {"real_healthy_under_load", "real_error_burst", "real_slow_release",
            "real_leak"} <= names  # fmt: skip
    for p in CASES:
        case = load(p)
        if p.stem.startswith("real_"):
            # Recorded on the rig by bench/soak.py: how, when, with which switch and load.
            assert case["synthetic"] is False and case["description"].startswith("REAL")
            assert case["recorded"]["how"].startswith("python3 bench/soak.py")
            assert case["recorded"]["when"] and "req/s" in case["recorded"]["load"]
        else:
            assert case["synthetic"] is True
    readme = (CORPUS / "README.md").read_text()
    assert "SYNTHETIC" in readme and "REAL" in readme


@pytest.mark.parametrize("path", [p for p in CASES if load(p)["expect"]["alarm"] is None],
                         ids=lambda p: p.stem)  # fmt: skip
def test_healthy_series_never_alarm_at_any_point(path: Path) -> None:
    assert replay(load(path)) == {}


@pytest.mark.parametrize("path", [p for p in CASES if load(p)["expect"]["alarm"] is not None],
                         ids=lambda p: p.stem)  # fmt: skip
def test_each_fault_alarms_on_its_own_rule_in_time(path: Path) -> None:
    case = load(path)
    expect = case["expect"]
    first = replay(case)
    assert expect["alarm"] in first, first
    assert first[expect["alarm"]] <= expect["onset_s"] + expect["within_s"]
    assert all(t >= expect["onset_s"] for t in first.values()), first  # nothing before the fault


def test_the_level_rule_rolled_back_the_healthy_warmup_and_the_new_one_does_not() -> None:
    case = load(CORPUS / "healthy_heap_warmup.json")
    s = case["series"]
    baseline = WatchBaseline.from_json(case["baseline"])
    state, fired = RuleState(), []
    for i, (t, mb) in enumerate(s["memory_mb"][:8]):
        sample = WatchSample(
            i + 1, t, (), (), None, None, None, 0.0, 0, mb * MIB,
            mb * MIB / baseline.mean_memory_bytes - 1, None,
        )  # fmt: skip
        fired += [a.rule for a in judge(sample, baseline, RULES, state)]
    assert fired == [RULE_MEMORY]  # the old rule: a level, tripped by a fresh heap
    assert RULE_MEMORY not in replay(case)


# ----------------------------------------------------------------------------- memory


def test_memory_is_not_judged_in_warmup_nor_before_a_full_window() -> None:
    points = mem_points(lambda t: 74 + t)  # wildly rising
    warm = memory(points, 30.0)
    assert warm.verdict == NO_VERDICT and "warm-up" in warm.line
    short = memory(points, 200.0)
    assert short.verdict == NO_VERDICT
    assert "no verdict (140 s of 300 s after the warm-up)" in short.line
    assert memory(points, 360.0).verdict == ALARM
    # a restart at 400 s starts the warm-up again
    assert memory(points, 500.0, started_s=400.0).verdict == NO_VERDICT


def test_a_steady_leak_alarms_with_its_figures_and_statistic() -> None:
    rng = random.Random(5)
    points = mem_points(lambda t: 110 + 3 * t / 60 + 3 * math.sin(t / 6) + rng.gauss(0, 0.5))
    j = memory(points, 600.0)
    assert j.verdict == ALARM and j.rule == RULE_MEMORY
    assert "Theil-Sen" in j.statistic and "Theil-Sen" in j.line
    assert j.value == pytest.approx(3.0, abs=0.3) and j.threshold == 2.0
    assert j.figures["slope_low"] > 0 and j.figures["rising_share"] >= 0.7
    assert "MB/min" in j.line and "+" in j.line


def test_a_plateau_a_slow_rise_and_a_single_jump_are_not_leaks() -> None:
    rng = random.Random(6)
    flat = mem_points(lambda t: 112 + 6 * ((t % 40) / 40) - 3 + rng.gauss(0, 0.7))
    j = memory(flat, 600.0)
    assert j.verdict == OK and "not a leak" in j.line
    slow = mem_points(lambda t: 112 + 1.0 * t / 60 + rng.gauss(0, 0.3))  # 1 MB/min: too slow
    j = memory(slow, 600.0)
    assert j.verdict == OK and "slope under 2 MB/min" in j.line
    for at in (330.0, 420.0, 450.0, 520.0, 590.0):  # a cache fills at once, anywhere
        jump = mem_points(lambda t, at=at: (112 if t < at else 140) + rng.gauss(0, 0.3))
        j = memory(jump, 600.0)
        assert j.verdict == OK and "not a leak" in j.line, (at, j.line)
    assert "no steady rise" in memory(mem_points(lambda t: 112 + 28 * (t >= 420)), 600.0).line


def test_a_settling_heap_is_told_from_a_leak_by_its_fading_rise() -> None:
    # +20 MB over a few minutes, slowing: the whole window's slope is over 2 MB/min...
    settle = mem_points(lambda t: 112 + 20 * (1 - math.exp(-max(0.0, t - 60) / 150)))
    j = memory(settle, 360.0)
    assert j.figures["slope_mb_per_min"] > 2.0
    assert j.verdict == OK and "fading" in j.line  # ...but its last half is not


def test_memory_level_must_also_exceed_the_old_release() -> None:
    leak = mem_points(lambda t: 100 + 3 * t / 60)
    same_level = memory(leak, 600.0, baseline_mb=100.0)
    assert same_level.verdict == OK and "level within +50%" in same_level.line
    # The known limit: with memory_growth 0.5 a 3 MB/min leak on a 100 MB process alarms only
    # once it is 50% up (~17 min); a lower memory_growth catches it inside a 15 min watch.
    assert memory(leak, 600.0, baseline_mb=100.0, growth=0.2).verdict == ALARM
    unknown = memory(leak, 600.0, baseline_mb=0.0)
    assert unknown.verdict == NO_VERDICT and "no pre-deploy memory" in unknown.line


# ----------------------------------------------------------------------------- errors


def errors(rate_per_min: float, until: float, step: float = 10.0) -> list[tuple[float, int]]:
    """Exact counts: ``rate_per_min`` spread evenly over rounds of ``step`` seconds."""
    out, carried = [], 0.0
    for i in range(1, int(until / step) + 1):
        carried += rate_per_min * step / 60
        n = int(carried)
        carried -= n
        out.append((i * step, n))
    return out


def judge_err(counts: list[tuple[float, int]], now: float, **kw: Any) -> Any:
    args = dict(base_per_min=0.5, base_window_s=600.0, factor=3.0, floor=5.0)
    args.update(kw)
    return judge_errors(counts, now=now, **args)


def test_error_rate_needs_half_a_minute_of_counts() -> None:
    j = judge_err(errors(40, 20), 20.0)
    assert j.verdict == NO_VERDICT and "20 s of 30 s" in j.line


def test_an_error_burst_alarms_on_a_poisson_test() -> None:
    j = judge_err(errors(40, 120), 120.0)
    assert j.verdict == ALARM and j.rule == RULE_ERRORS
    assert j.statistic.startswith("Poisson") and "Poisson" in j.line and "p < 0.001" in j.line
    assert j.value == pytest.approx(40.0) and j.threshold == 5.0
    # the baseline's rate taken as exact (no window known): a plain Poisson tail
    known = judge_err(errors(40, 120), 120.0, base_window_s=0.0)
    assert known.verdict == ALARM and known.statistic == "Poisson"


def test_error_rate_keeps_the_floor_and_the_factor() -> None:
    quiet = judge_err([(30.0, 1), (60.0, 0)], 60.0, base_per_min=0.0)
    assert quiet.verdict == OK and "under the limit" in quiet.line  # one line: 1/min < 5
    busy = judge_err(errors(10, 120), 120.0, base_per_min=4.0, base_window_s=600.0)
    assert busy.verdict == OK  # 10/min < 3 x 4/min
    assert judge_err(errors(14, 120), 120.0, base_per_min=4.0).verdict == ALARM


def test_significance_is_needed_as_well_as_the_floor() -> None:
    # A busy old release measured only briefly: 6/min now is over the floor, but 30 lines in
    # 10 s before (180/min) cannot say the new rate is higher.
    j = judge_err(errors(6, 120), 120.0, base_per_min=1.5, base_window_s=10.0)
    assert j.value == pytest.approx(6.0) and j.value > j.threshold
    assert j.verdict == OK and "not significant" in j.line
    # No baseline at all: the floor is the rate compared with.
    none = judge_err(errors(6, 120), 120.0, base_per_min=None)
    assert none.verdict == OK and "no pre-deploy rate" in none.line
    assert judge_err(errors(30, 120), 120.0, base_per_min=None).verdict == ALARM


# ----------------------------------------------------------------------------- latency


def probes(median: float, n: int, seed: int, start: float = 0.0) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [(start + 10.0 * i, rng.lognormvariate(math.log(median), 0.25)) for i in range(n)]


def test_latency_needs_twenty_samples_a_side_after_the_warmup() -> None:
    before = [v for _, v in probes(25, 60, 1)]
    after = probes(175, 25, 2)  # t = 0..240: 19 of them after the 60 s warm-up
    kw = dict(tolerance_percent=20.0, tolerance_ms=10.0, warmup_s=60.0)
    j = judge_latency(after, before, now=240.0, **kw)
    assert j.verdict == NO_VERDICT and "19 after the warm-up; needs 20 each" in j.line
    assert judge_latency(after, before[:10], now=240.0, warmup_s=0.0, tolerance_percent=20.0,
                         tolerance_ms=10.0).verdict == NO_VERDICT  # fmt: skip
    slow = judge_latency(probes(175, 30, 2), before, now=300.0, **kw)
    assert slow.verdict == ALARM and slow.rule == RULE_LATENCY and "Mann-Whitney" in slow.line


def test_latency_within_the_tolerance_and_cold_starts_do_not_alarm() -> None:
    before = [v for _, v in probes(25, 60, 1)]
    kw = dict(tolerance_percent=20.0, tolerance_ms=10.0, warmup_s=60.0)
    plus2 = [(t, v + 2.0) for t, v in probes(25, 60, 3)]
    assert judge_latency(plus2, before, now=600.0, **kw).verdict == OK
    cold = [(t, v + (300.0 if t < 60 else 0.0)) for t, v in probes(25, 60, 4)]
    assert judge_latency(cold, before, now=600.0, **kw).verdict == OK


# ----------------------------------------------------------------------------- health, restarts


def test_health_and_restarts_keep_their_semantics_in_the_new_shape() -> None:
    flap = WatchSeries(health=((10.0, ("Health Check: HTTP 503",)), (20.0, ()),
                               (30.0, ("Health Check: HTTP 503",))))  # fmt: skip
    j = judge_series(flap, BASE, RULES, now=30.0)
    assert [x.rule for x in j] == list(SERIES_RULES)
    assert j[0].verdict == OK and "1 time(s) in a row" in j[0].line
    down = WatchSeries(health=((10.0, ("API Status: down",)), (20.0, ("API Status: down",))))
    health = judge_series(down, BASE, RULES, now=20.0)[0]
    assert health.verdict == ALARM and "2 times in a row" in health.line
    assert "API Status" in health.line
    restarted = WatchSeries(restarts=((10.0, 0), (20.0, 1)))
    r = judge_series(restarted, BASE, RULES, now=20.0)[2]
    assert r.rule == RULE_RESTARTS and r.verdict == ALARM and r.value == 1
    assert judge_series(restarted, BASE, AlarmRules(max_new_restarts=1), 20.0)[2].verdict == OK
    empty = judge_series(WatchSeries(), BASE, RULES, now=0.0)
    assert all(x.verdict == NO_VERDICT for x in empty)


def test_alarms_from_fires_each_rule_once() -> None:
    down = WatchSeries(health=((10.0, ("x",)), (20.0, ("x",)), (30.0, ("x",))))
    state = RuleState()
    first = alarms_from(judge_series(down, BASE, RULES, now=20.0), state, 2)
    again = alarms_from(judge_series(down, BASE, RULES, now=30.0), state, 3)
    assert [a.rule for a in first] == [RULE_HEALTH] and again == []
    assert first[0].cause.startswith("unhealthy 2 times in a row") and first[0].sample_index == 2


# ----------------------------------------------------------------------------- plumbing


def test_recorder_builds_the_series_and_leaves_unknowns_out() -> None:
    rec = SeriesRecorder(max_points=3)
    rec.add(0.0, memory_mb=74.0, errors=0, latencies_ms=[30.0, 31.0], restarts=0, unhealthy=())
    rec.add(10.0, memory_mb=None, errors=None, restarts=None, unhealthy=None)
    rec.add(20.0, memory_mb=0.0, errors=2, latencies_ms=[29.0, 28.0])
    rec.restarted(15.0)
    s = rec.series()
    assert s.memory_mb == ((0.0, 74.0),) and s.errors == ((0.0, 0), (20.0, 2))
    assert s.latencies_ms == ((0.0, 31.0), (20.0, 29.0), (20.0, 28.0))  # bounded: newest 3
    assert s.started_s == 15.0 and s.health == ((0.0, ()),)
    assert WatchSeries.from_json(json.loads(json.dumps(s.to_json()))) == s


def test_baseline_keeps_the_new_fields_and_reads_old_journals() -> None:
    base = WatchBaseline(1.5, {0: 2}, {0: 50 * MIB}, "timestamps", "x", 600.0, (25.0, 26.5))
    assert WatchBaseline.from_json(base.to_json()) == base
    old = {"errors_per_minute": 1.5, "restarts": {"0": 2}, "memory_bytes": {}, "source": "sample"}
    assert WatchBaseline.from_json(old).error_window_s == 0.0
    assert WatchBaseline.from_json({"latencies_ms": "junk"}).latencies_ms == ()


def test_errors_from_timestamps_gives_the_count_and_span_behind_the_rate() -> None:
    now = 1_800_000_000.0
    lines = tuple(f"2027-01-15T08:00:00Z ERROR {i}" for i in range(3))
    files = [TailedFile(lines, complete=True)]
    assert errors_from_timestamps(files, "ERROR", now) is not None
    count, span, _ = errors_from_timestamps(files, "ERROR", now) or (0, 0.0, "")
    rate, _ = rate_from_timestamps(files, "ERROR", now) or (0.0, "")
    assert span == 600.0 and rate == count * 60.0 / span


def test_alarm_rules_read_the_new_keys_and_the_canary_tolerance() -> None:
    alarms = AlarmsConfig(warmup_s=30.0, memory_window_s=240.0, memory_leak_mb_per_min=1.5)
    rules = AlarmRules.from_config(alarms)
    assert (rules.warmup_s, rules.memory_window_s, rules.memory_leak_mb_per_min) == (
        30.0, 240.0, 1.5)  # fmt: skip
    assert rules.latency_tolerance_percent == CanaryConfig().latency_tolerance_percent
    config = Config(app=None, hosts=(), policy=PolicyConfig(alarms=alarms),  # type: ignore[arg-type]
                    canary=CanaryConfig(latency_tolerance_ms=25.0))  # fmt: skip
    assert AlarmRules.from_config(config).latency_tolerance_ms == 25.0
    assert len(rules.describe_series()) == len(SERIES_RULES)
