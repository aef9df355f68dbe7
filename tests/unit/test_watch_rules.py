"""The watch's alarm rules and numbers, as plain functions of samples and a baseline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from tui.core.verify_checks import FAIL, INFO, PASS, CheckResult
from tui.core.watch_rules import (
    RULE_ERRORS,
    RULE_HEALTH,
    RULE_MEMORY,
    RULE_RESTARTS,
    AlarmRules,
    RuleState,
    TailedFile,
    WatchBaseline,
    WatchSample,
    judge,
    line_time,
    percentile,
    process_numbers,
    rate_from_timestamps,
    slope_per_minute,
    unhealthy_parts,
)

MB = 1024 * 1024


def sample(
    index: int = 1,
    *,
    unhealthy: tuple[str, ...] = (),
    rate: float | None = 0.0,
    restarts: int = 0,
    memory: float = 50 * MB,
    change: float | None = 0.0,
) -> WatchSample:
    return WatchSample(
        index=index, elapsed_s=index * 10.0, checks=(), unhealthy=unhealthy,
        health_latency_ms=5.0, latency_p50_ms=5.0, latency_p95_ms=6.0, errors_per_minute=rate,
        new_restarts=restarts, memory_bytes=memory, memory_change=change,
        memory_trend_mb_per_min=None,
    )  # fmt: skip


BASE = WatchBaseline(errors_per_minute=0.0, memory_bytes={0: 50 * MB, 1: 50 * MB})


def rules_fired(samples: list[WatchSample], baseline: WatchBaseline = BASE) -> list[str]:
    state, fired = RuleState(), []
    for s in samples:
        fired += [a.rule for a in judge(s, baseline, AlarmRules(), state)]
    return fired


def test_health_alarms_on_the_second_unhealthy_round_in_a_row_only() -> None:
    bad = ("Health Check: HTTP 503",)
    assert rules_fired([sample(1, unhealthy=bad), sample(2), sample(3, unhealthy=bad)]) == []
    state = RuleState()
    first = judge(sample(1, unhealthy=bad), BASE, AlarmRules(), state)
    second = judge(sample(2, unhealthy=bad), BASE, AlarmRules(), state)
    assert first == [] and [a.rule for a in second] == [RULE_HEALTH]
    assert "2 times in a row" in second[0].cause and "HTTP 503" in second[0].cause
    # Once per watch: the banner already says it.
    assert judge(sample(3, unhealthy=bad), BASE, AlarmRules(), state) == []


def test_error_rate_floor_keeps_a_quiet_app_from_alarming_on_one_error() -> None:
    assert rules_fired([sample(rate=1.0)]) == []
    assert rules_fired([sample(rate=5.0)]) == []  # at the floor: not above it
    assert rules_fired([sample(rate=6.0)]) == [RULE_ERRORS]
    busy = WatchBaseline(errors_per_minute=4.0)
    assert rules_fired([sample(rate=12.0)], busy) == []  # 3x exactly
    fired = rules_fired([sample(rate=13.0)], busy)
    assert fired == [RULE_ERRORS]
    # An unknown rate (logs unreadable) never alarms.
    assert rules_fired([sample(rate=None)]) == []


def test_any_restart_and_memory_growth_alarm() -> None:
    assert rules_fired([sample(restarts=1)]) == [RULE_RESTARTS]
    assert rules_fired([sample(change=0.49)]) == []
    assert rules_fired([sample(change=0.5, memory=75 * MB)]) == [RULE_MEMORY]
    assert rules_fired([sample(change=None)]) == []  # no baseline, no rule
    lenient = AlarmRules(max_new_restarts=2, memory_growth=1.0)
    state = RuleState()
    assert judge(sample(restarts=2, change=0.9), BASE, lenient, state) == []
    assert lenient.describe()[2] == "more than 2 restarts"
    assert AlarmRules().describe()[2] == "any restart"


def test_percentile_and_slope() -> None:
    assert percentile([], 50) is None
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0 and percentile(values, 95) == 95.0
    assert percentile([7.0], 95) == 7.0
    assert slope_per_minute([(0.0, 10.0)]) is None
    assert slope_per_minute([(0.0, 10.0), (30.0, 11.0), (60.0, 12.0)]) == 2.0


def checks(
    *, health: str = PASS, status: str = PASS, procs: list[dict] | None = None
) -> list[CheckResult]:
    procs = procs if procs is not None else [
        {"pm_id": 0, "status": "online", "restarts": 3},
        {"pm_id": 1, "status": "online", "restarts": 0},
    ]  # fmt: skip
    proc_status = FAIL if any(p["status"] != "online" for p in procs) or not procs else PASS
    return [
        CheckResult("Health Check", health, "" if health == PASS else "HTTP 503",
                    {"latency_ms": 4.2}),
        CheckResult("API Status", status, "status is 'down'" if status == FAIL else ""),
        CheckResult("Processes", proc_status, "", {"processes": procs}),
        CheckResult("Memory Usage", INFO, "", {"processes": [
            {"pm_id": p["pm_id"], "memory_bytes": 60 * MB} for p in procs]}),
    ]  # fmt: skip


def test_unhealthy_parts_and_process_numbers_from_verifier_results() -> None:
    assert unhealthy_parts(checks()) == ()
    parts = unhealthy_parts(checks(health=FAIL, status=FAIL))
    assert parts == ("Health Check: HTTP 503", "API Status: status is 'down'")
    stopped = checks(procs=[{"pm_id": 0, "status": "stopped", "restarts": 0}])
    assert unhealthy_parts(stopped) == ("Processes: #0 stopped",)
    # A Processes FAIL only about restarts is the restart rule's, not health's.
    restarted = [*checks()[:2], CheckResult("Processes", FAIL, "demo#0 restarted 1x", {
        "processes": [{"pm_id": 0, "status": "online", "restarts": 1}]})]  # fmt: skip
    assert unhealthy_parts(restarted) == ()
    restarts, memory = process_numbers(checks())
    assert restarts == {0: 3, 1: 0} and memory == {0: 60 * MB, 1: 60 * MB}
    _, memory = process_numbers(stopped)
    assert memory == {}  # a stopped process's memory is not the release's


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_error_rate_from_log_timestamps() -> None:
    now = 1_800_000_000.0
    lines = [f"{iso(now - 500 + i)} ERROR boom" for i in range(10)]  # 10 errors ~8 min ago
    lines += [f"{iso(now - 5000)} ERROR long ago", f"{iso(now - 10)} INFO GET /health 200"]
    rate, detail = rate_from_timestamps(
        [TailedFile(tuple(sorted(lines)), complete=True)], "ERROR", now
    ) or (None, "")
    assert rate == 1.0 and "10 error line(s) in the last 10.0 min" in detail
    # A cut tail covers only back to its oldest line: 10 errors over its ~8.3 min.
    cut = [line for line in lines if "long ago" not in line]
    found = rate_from_timestamps([TailedFile(tuple(cut), complete=False)], "ERROR", now)
    assert found is not None and round(found[0], 2) == round(10 * 60 / 500, 2)
    assert rate_from_timestamps([TailedFile(("no time here ERROR",), True)], "ERROR", now) is None


def test_naive_timestamps_are_read_in_the_hosts_zone() -> None:
    plus2 = timezone(timedelta(hours=2))
    ts = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC).timestamp()
    assert line_time("2026-11-26T12:00:00Z x") == ts
    assert line_time("2026-11-26 14:00:00: ERROR x", plus2) == ts
    assert line_time("2026-11-26T14:00:00.250+02:00 x") == ts + 0.25
    assert line_time("GET / 200") is None


def test_baseline_round_trips_through_deployment_data() -> None:
    base = WatchBaseline(1.5, {0: 2, 1: 0}, {0: 50 * MB}, "timestamps", "3 error lines")
    assert WatchBaseline.from_json(base.to_json()) == base
    assert WatchBaseline.from_json({"restarts": "junk", "errors_per_minute": "x"}) == (
        WatchBaseline()
    )
    assert "1.5 errors/min (timestamps)" in base.line()
