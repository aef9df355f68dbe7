"""The post-deploy watch as pure judgements: a baseline, samples, and the alarm rules.

No I/O here (watch.py does it), so the rules are tested with plain numbers. The rule thresholds
are ``[policy.alarms]`` config keys (their defaults live in config_models.AlarmsConfig);
``AlarmRules.from_config(config)`` carries them and ``Watch`` builds one from its config unless
given one.

Two generations of rules live here. ``judge(sample, ...)`` is the first: thresholds on the
latest sample (memory as a level, which a fresh Node heap trips). ``judge_series(series, ...)``
judges the series recorded so far with statistics (watch_stats.py: a memory leak is a steady
Theil-Sen slope after a warm-up, errors a Poisson excess, latency Mann-Whitney with the canary
judge's tolerance) and answers ``no verdict`` when data is short. The engine calls it each
round::

    recorder.add(elapsed, memory_mb=..., errors=new_error_lines, latencies_ms=[...],
                 restarts=sample.new_restarts, unhealthy=sample.unhealthy)
    judgements = judge_series(recorder.series(), baseline, rules, now=elapsed)
    for alarm in alarms_from(judgements, rule_state, sample.index): ...
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from tui.core.config_models import AlarmsConfig, CanaryConfig, Config
from tui.core.log_buffer import ERROR
from tui.core.log_filter import Classifier
from tui.core.verify_checks import HEALTH, MEMORY, PROCESSES, STATUS, CheckResult
from tui.core.watch_stats import (
    ALARM,
    NO_VERDICT,
    OK,
    RULE_ERRORS,
    RULE_HEALTH,
    RULE_LATENCY,
    RULE_MEMORY,
    RULE_RESTARTS,
    RULE_SCALE,
    SCALE_CPU_PERCENT,
    SERIES_RULES,
    SUGGEST,
    Judgement,
    SeriesRecorder,
    WatchSeries,
    judge_errors,
    judge_health,
    judge_latency,
    judge_memory,
    judge_restarts,
    judge_scale,
)

__all__ = [
    "ALARM",
    "ERROR_RATE_FACTOR",
    "ERROR_RATE_FLOOR",
    "HEALTH_FAIL_STREAK",
    "LATENCY_TOLERANCE_MS",
    "LATENCY_TOLERANCE_PERCENT",
    "MAX_NEW_RESTARTS",
    "MEMORY_GROWTH",
    "MEMORY_LEAK_MB_PER_MIN",
    "MEMORY_WINDOW_S",
    "MIB",
    "NO_VERDICT",
    "OK",
    "RULES",
    "RULE_ERRORS",
    "RULE_HEALTH",
    "RULE_LATENCY",
    "RULE_MEMORY",
    "RULE_RESTARTS",
    "RULE_SCALE",
    "SCALE_CPU_PERCENT",
    "SERIES_RULES",
    "SUGGEST",
    "WARMUP_S",
    "Alarm",
    "AlarmRules",
    "Judgement",
    "RuleState",
    "SeriesRecorder",
    "TailedFile",
    "WatchBaseline",
    "WatchSample",
    "WatchSeries",
    "alarms_from",
    "by_name",
    "errors_from_timestamps",
    "judge",
    "judge_scale_series",
    "judge_series",
    "latency_ms",
    "line_time",
    "new_restarts",
    "parse_offset",
    "percentile",
    "process_cpu",
    "process_numbers",
    "rate_from_timestamps",
    "slope_per_minute",
    "stamped_levels",
    "unhealthy_parts",
]

# The defaults of [policy.alarms] (config_models.AlarmsConfig is where they are set):
_DEFAULTS = AlarmsConfig()
# Alarm when this many samples in a row are unhealthy (HTTP health or API status failed, or an
# app process is not online). One failed probe is noise, two in a row is a trend.
HEALTH_FAIL_STREAK = _DEFAULTS.health_fail_streak
# Alarm when errors per minute exceed this many times the pre-deploy rate...
ERROR_RATE_FACTOR = _DEFAULTS.error_rate_factor
# ...and also exceed this floor, so a quiet app (baseline 0) does not alarm on one error line.
ERROR_RATE_FLOOR = _DEFAULTS.error_rate_floor
# Alarm when the app's processes restarted more than this many times since the watch began.
MAX_NEW_RESTARTS = _DEFAULTS.max_new_restarts
# Alarm when mean memory per process grew by this fraction over the baseline (0.5 = +50%).
MEMORY_GROWTH = _DEFAULTS.memory_growth
# judge_series: never judge memory or latency this long after a (re)start (a fresh heap grows)...
WARMUP_S = _DEFAULTS.warmup_s
# ...a leak is a steady rise over this long...
MEMORY_WINDOW_S = _DEFAULTS.memory_window_s
# ...of more than this many MB per minute.
MEMORY_LEAK_MB_PER_MIN = _DEFAULTS.memory_leak_mb_per_min
# Latency is worse only when its p95 is this % AND this many ms worse (the canary judge's keys).
_CANARY = CanaryConfig()
LATENCY_TOLERANCE_PERCENT = _CANARY.latency_tolerance_percent
LATENCY_TOLERANCE_MS = _CANARY.latency_tolerance_ms

# The rules of judge(); judge_series adds RULE_LATENCY (SERIES_RULES).
RULES = (RULE_HEALTH, RULE_ERRORS, RULE_RESTARTS, RULE_MEMORY)

MIB = 1024 * 1024


@dataclass(frozen=True)
class AlarmRules:
    health_fail_streak: int = HEALTH_FAIL_STREAK
    error_rate_factor: float = ERROR_RATE_FACTOR
    error_rate_floor: float = ERROR_RATE_FLOOR
    max_new_restarts: int = MAX_NEW_RESTARTS
    memory_growth: float = MEMORY_GROWTH
    warmup_s: float = WARMUP_S
    memory_window_s: float = MEMORY_WINDOW_S
    memory_leak_mb_per_min: float = MEMORY_LEAK_MB_PER_MIN
    latency_tolerance_percent: float = LATENCY_TOLERANCE_PERCENT
    latency_tolerance_ms: float = LATENCY_TOLERANCE_MS

    @classmethod
    def from_config(cls, config: Config | AlarmsConfig) -> AlarmRules:
        """The thresholds of ``[policy.alarms]`` (a whole Config, or its alarms table); the
        latency tolerance is [canary]'s (one answer to "how much slower counts"), its default
        when only the alarms table is given."""
        alarms = config.policy.alarms if isinstance(config, Config) else config
        canary = config.canary if isinstance(config, Config) else _CANARY
        return cls(
            health_fail_streak=alarms.health_fail_streak,
            error_rate_factor=alarms.error_rate_factor,
            error_rate_floor=alarms.error_rate_floor,
            max_new_restarts=alarms.max_new_restarts,
            memory_growth=alarms.memory_growth,
            warmup_s=alarms.warmup_s,
            memory_window_s=alarms.memory_window_s,
            memory_leak_mb_per_min=alarms.memory_leak_mb_per_min,
            latency_tolerance_percent=canary.latency_tolerance_percent,
            latency_tolerance_ms=canary.latency_tolerance_ms,
        )

    def error_threshold(self, baseline_per_minute: float) -> float:
        return max(self.error_rate_factor * max(0.0, baseline_per_minute), self.error_rate_floor)

    def describe(self) -> list[str]:
        return [
            f"health or API status fails {self.health_fail_streak} times in a row",
            f"error rate > {self.error_rate_factor:g}x baseline"
            f" (and > {self.error_rate_floor:g}/min)",
            "any restart" if self.max_new_restarts == 0
            else f"more than {self.max_new_restarts} restarts",
            f"memory per process +{self.memory_growth * 100:.0f}% vs baseline",
        ]  # fmt: skip

    def describe_series(self) -> list[str]:
        """judge_series' rules in words, one line each (for the watch's start event)."""
        return [
            f"health or API status fails {self.health_fail_streak} times in a row",
            f"error rate over the last minute significantly above before (Poisson p < 0.01)"
            f" and > max({self.error_rate_factor:g}x before, {self.error_rate_floor:g}/min)",
            "any restart" if self.max_new_restarts == 0
            else f"more than {self.max_new_restarts} restarts",
            f"memory leak: a steady rise > {self.memory_leak_mb_per_min:g} MB/min over"
            f" {self.memory_window_s:g} s (Theil-Sen) to > +{self.memory_growth * 100:.0f}%"
            f" vs before, after a {self.warmup_s:g} s warm-up",
            f"latency slower than before (Mann-Whitney p < 0.01) with p95 +"
            f"{self.latency_tolerance_percent:g}% and +{self.latency_tolerance_ms:g} ms",
        ]  # fmt: skip


@dataclass(frozen=True)
class WatchBaseline:
    """What "normal" looked like before DEPLOY (sampled during BACKUP)."""

    errors_per_minute: float = 0.0
    restarts: Mapping[int, int] = field(default_factory=dict)  # pm_id -> restart count
    memory_bytes: Mapping[int, int] = field(default_factory=dict)  # pm_id -> RSS of online ones
    source: str = "none"  # how the error rate was found: "timestamps" | "sample" | "none"
    detail: str = ""  # one line: what was sampled, or why nothing could be
    # judge_series: how long the error rate was counted over (0 = unknown; taken as exact)...
    error_window_s: float = 0.0
    # ...and latencies of the old release, ms (health probes or requests; () = none)
    latencies_ms: tuple[float, ...] = ()
    # The old release's log templates (log_drift.TemplateBaseline.to_json(); None = not read)
    templates: Mapping[str, Any] | None = field(default=None, compare=False)

    @property
    def mean_memory_bytes(self) -> float:
        values = [v for v in self.memory_bytes.values() if v > 0]
        return sum(values) / len(values) if values else 0.0

    def line(self) -> str:
        mem = self.mean_memory_bytes
        mem_text = f"{mem / MIB:.1f}MB/process" if mem else "memory unknown"
        lat = f", {len(self.latencies_ms)} latencies" if self.latencies_ms else ""
        return (
            f"baseline: {self.errors_per_minute:.1f} errors/min ({self.source}),"
            f" {len(self.memory_bytes)} process(es), {mem_text}{lat}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "errors_per_minute": round(self.errors_per_minute, 3),
            "restarts": {str(k): v for k, v in self.restarts.items()},
            "memory_bytes": {str(k): v for k, v in self.memory_bytes.items()},
            "source": self.source,
            "detail": self.detail,
            "error_window_s": round(self.error_window_s, 3),
            "latencies_ms": [round(v, 3) for v in self.latencies_ms],
            "templates": self.templates,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> WatchBaseline:
        """Back from deployment data; anything malformed becomes "no baseline" for that part."""
        raw = raw or {}

        def ints(value: Any) -> dict[int, int]:
            try:
                return {int(k): int(v) for k, v in dict(value or {}).items()}
            except (TypeError, ValueError):
                return {}

        def number(value: Any) -> float:
            try:
                return float(value or 0.0)
            except (TypeError, ValueError):
                return 0.0

        try:
            latencies = tuple(float(v) for v in raw.get("latencies_ms") or ())
        except (TypeError, ValueError):
            latencies = ()
        return cls(
            errors_per_minute=number(raw.get("errors_per_minute")),
            restarts=ints(raw.get("restarts")),
            memory_bytes=ints(raw.get("memory_bytes")),
            source=str(raw.get("source") or "none"),
            detail=str(raw.get("detail") or ""),
            error_window_s=number(raw.get("error_window_s")),
            latencies_ms=latencies,
            templates=raw["templates"] if isinstance(raw.get("templates"), Mapping) else None,
        )


@dataclass(frozen=True)
class WatchSample:
    """One round of the watch: the Verifier's results plus the numbers the rules judge."""

    index: int  # 1-based
    elapsed_s: float
    checks: tuple[CheckResult, ...]
    unhealthy: tuple[str, ...]  # what failed this round ("Health Check: HTTP 503", ...)
    health_latency_ms: float | None
    latency_p50_ms: float | None  # over the watch so far
    latency_p95_ms: float | None
    errors_per_minute: float | None  # None = unknown this round
    new_restarts: int
    memory_bytes: float  # mean per online process, 0 when unknown
    memory_change: float | None  # fraction vs baseline (+0.5 = +50%); None without a baseline
    memory_trend_mb_per_min: float | None

    @property
    def healthy(self) -> bool:
        return not self.unhealthy

    def line(self, total: int | None = None) -> str:
        of = f"/{total}" if total else ""
        health = "health ok" if self.healthy else "UNHEALTHY: " + "; ".join(self.unhealthy)
        lat = f"{self.health_latency_ms:.0f}ms" if self.health_latency_ms is not None else "-"
        pct = (
            f" p50 {self.latency_p50_ms:.0f}ms p95 {self.latency_p95_ms:.0f}ms"
            if self.latency_p50_ms is not None and self.latency_p95_ms is not None
            else ""
        )
        rate = (
            f"{self.errors_per_minute:g} errors/min"
            if self.errors_per_minute is not None
            else "errors/min unknown"
        )
        mem = f"{self.memory_bytes / MIB:.1f}MB" if self.memory_bytes else "memory ?"
        if self.memory_change is not None:
            mem += f" ({self.memory_change * 100:+.0f}%)"
        return (
            f"watch sample {self.index}{of}: {health}, latency {lat}{pct}, {rate},"
            f" restarts {self.new_restarts}, {mem}"
        )

    def to_json(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 3)

        return {
            "index": self.index,
            "elapsed_s": round(self.elapsed_s, 3),
            "healthy": self.healthy,
            "unhealthy": list(self.unhealthy),
            "health_latency_ms": r(self.health_latency_ms),
            "latency_p50_ms": r(self.latency_p50_ms),
            "latency_p95_ms": r(self.latency_p95_ms),
            "errors_per_minute": r(self.errors_per_minute),
            "new_restarts": self.new_restarts,
            "memory_bytes": round(self.memory_bytes),
            "memory_change": r(self.memory_change),
            "memory_trend_mb_per_min": r(self.memory_trend_mb_per_min),
            "checks": [{"name": c.name, "status": c.status, "detail": c.detail}
                       for c in self.checks],
        }  # fmt: skip


@dataclass(frozen=True)
class Alarm:
    rule: str  # one of RULES
    cause: str  # one line for the banner and the journal
    value: float
    threshold: float
    sample_index: int

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "cause": self.cause,
            "value": round(self.value, 3),
            "threshold": round(self.threshold, 3),
            "sample": self.sample_index,
        }


# ----------------------------------------------------------------------------- numbers


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def slope_per_minute(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) points, in value per minute; None under 2."""
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    if var == 0:
        return None
    cov = sum((t - mx) * (v - my) for t, v in points)
    return cov / var * 60.0


def by_name(checks: Iterable[CheckResult]) -> dict[str, CheckResult]:
    return {c.name: c for c in checks}


def unhealthy_parts(checks: Iterable[CheckResult]) -> tuple[str, ...]:
    """What makes a round unhealthy: HTTP health, API status, or a process not online.

    A Processes FAIL that only reports restarts is the restart rule's business, not health's.
    """
    found = by_name(checks)
    parts = []
    for name in (HEALTH, STATUS):
        c = found.get(name)
        if c is not None and c.failed:
            parts.append(f"{name}: {c.detail or c.status}")
    procs = found.get(PROCESSES)
    if procs is not None and procs.failed:
        rows = procs.data.get("processes") or []
        offline = [f"#{p.get('pm_id')} {p.get('status')}" for p in rows
                   if p.get("status") != "online"]  # fmt: skip
        if offline or not rows:
            parts.append(f"{PROCESSES}: " + (", ".join(offline) if rows else procs.detail))
    return tuple(parts)


def process_numbers(checks: Iterable[CheckResult]) -> tuple[dict[int, int], dict[int, int]]:
    """(pm_id -> restarts, pm_id -> memory bytes of online processes) from the results' data."""
    found = by_name(checks)
    restarts: dict[int, int] = {}
    memory: dict[int, int] = {}
    procs = found.get(PROCESSES)
    for row in (procs.data.get("processes") or []) if procs else []:
        try:
            restarts[int(row["pm_id"])] = int(row.get("restarts") or 0)
        except (KeyError, TypeError, ValueError):
            continue
    online = {
        int(row["pm_id"])
        for row in ((procs.data.get("processes") or []) if procs else [])
        if row.get("status") == "online" and "pm_id" in row
    }
    mem = found.get(MEMORY)
    for row in (mem.data.get("processes") or []) if mem else []:
        try:
            pm_id = int(row["pm_id"])
            if pm_id in online and int(row.get("memory_bytes") or 0) > 0:
                memory[pm_id] = int(row["memory_bytes"])
        except (KeyError, TypeError, ValueError):
            continue
    return restarts, memory


def process_cpu(checks: Iterable[CheckResult]) -> tuple[int, float | None]:
    """(online processes of the app, their mean CPU % as pm2 last sampled it; None when no
    online process reported one) from the results' data."""
    found = by_name(checks)
    procs = found.get(PROCESSES)
    online = {
        int(row["pm_id"])
        for row in ((procs.data.get("processes") or []) if procs else [])
        if row.get("status") == "online" and "pm_id" in row
    }
    mem = found.get(MEMORY)
    values = []
    for row in (mem.data.get("processes") or []) if mem else []:
        try:
            if int(row["pm_id"]) in online and row.get("cpu_percent") is not None:
                values.append(float(row["cpu_percent"]))
        except (KeyError, TypeError, ValueError):
            continue
    return len(online), (sum(values) / len(values) if values else None)


def new_restarts(now: Mapping[int, int], before: Mapping[int, int]) -> int:
    # A process that did not exist before (scaled up) started from 0.
    return sum(max(0, count - before.get(pm_id, 0)) for pm_id, count in now.items())


def latency_ms(checks: Iterable[CheckResult]) -> float | None:
    health = by_name(checks).get(HEALTH)
    if health is None or health.failed:
        return None
    value = health.data.get("latency_ms")
    return float(value) if isinstance(value, int | float) else None


# ----------------------------------------------------------------------------- the rules


@dataclass
class RuleState:
    """What the rules remember between samples: the unhealthy streak and rules already fired
    (each rule alarms once per watch: the banner says it, repeating it every 10 s would not)."""

    streak: int = 0
    fired: set[str] = field(default_factory=set)


def judge(
    sample: WatchSample, baseline: WatchBaseline, rules: AlarmRules, state: RuleState
) -> list[Alarm]:
    """The alarms this sample raises (updates ``state``)."""
    alarms: list[Alarm] = []
    state.streak = 0 if sample.healthy else state.streak + 1

    def fire(rule: str, cause: str, value: float, threshold: float) -> None:
        if rule not in state.fired:
            state.fired.add(rule)
            alarms.append(Alarm(rule, cause, value, threshold, sample.index))

    if state.streak >= rules.health_fail_streak:
        fire(RULE_HEALTH,
             f"unhealthy {state.streak} times in a row: {'; '.join(sample.unhealthy)}",
             state.streak, rules.health_fail_streak)  # fmt: skip
    if sample.errors_per_minute is not None:
        threshold = rules.error_threshold(baseline.errors_per_minute)
        if sample.errors_per_minute > threshold:
            fire(RULE_ERRORS,
                 f"error rate {sample.errors_per_minute:g}/min > {threshold:g}/min"
                 f" (baseline {baseline.errors_per_minute:.1f}/min"
                 f" x {rules.error_rate_factor:g}, floor {rules.error_rate_floor:g})",
                 sample.errors_per_minute, threshold)  # fmt: skip
    if sample.new_restarts > rules.max_new_restarts:
        fire(RULE_RESTARTS,
             f"{sample.new_restarts} process restart(s) since the watch began",
             sample.new_restarts, rules.max_new_restarts)  # fmt: skip
    if sample.memory_change is not None and sample.memory_change >= rules.memory_growth:
        fire(RULE_MEMORY,
             f"memory per process {sample.memory_change * 100:+.0f}% vs baseline"
             f" ({baseline.mean_memory_bytes / MIB:.1f}MB -> {sample.memory_bytes / MIB:.1f}MB)",
             sample.memory_change, rules.memory_growth)  # fmt: skip
    return alarms


# ----------------------------------------------------------------------------- over the series


def judge_series(
    series: WatchSeries, baseline: WatchBaseline, rules: AlarmRules, now: float
) -> list[Judgement]:
    """Every rule's judgement of the series recorded so far, at ``now`` (seconds since the
    release went live), in SERIES_RULES order. Pure and stateless: the engine keeps which rules
    already alarmed (``alarms_from``)."""
    base_rate = None if baseline.source == "none" else baseline.errors_per_minute
    return [
        judge_health(series.health, now=now, streak_limit=rules.health_fail_streak),
        judge_errors(
            series.errors, now=now, base_per_min=base_rate, base_window_s=baseline.error_window_s,
            factor=rules.error_rate_factor, floor=rules.error_rate_floor,
        ),
        judge_restarts(series.restarts, now=now, limit=rules.max_new_restarts),
        judge_memory(
            series.memory_mb, now=now, baseline_mb=baseline.mean_memory_bytes / MIB,
            growth=rules.memory_growth, leak_mb_per_min=rules.memory_leak_mb_per_min,
            window_s=rules.memory_window_s, warmup_s=rules.warmup_s, started_s=series.started_s,
        ),
        judge_latency(
            series.latencies_ms, baseline.latencies_ms, now=now,
            tolerance_percent=rules.latency_tolerance_percent,
            tolerance_ms=rules.latency_tolerance_ms, warmup_s=rules.warmup_s,
            started_s=series.started_s,
        ),
    ]  # fmt: skip


def judge_scale_series(
    series: WatchSeries,
    baseline: WatchBaseline,
    rules: AlarmRules,
    now: float,
    *,
    errors: Judgement,
    instances: int,
    max_instances: int,
) -> Judgement:
    """The scale suggestion (watch_stats.judge_scale) over the series so far: ``errors`` is the
    error rule's judgement of this round (an alarming or unjudged error rate never scales)."""
    return judge_scale(
        series.latencies_ms, series.cpu_percent, baseline.latencies_ms, now=now, errors=errors,
        instances=instances, max_instances=max_instances,
        tolerance_percent=rules.latency_tolerance_percent,
        tolerance_ms=rules.latency_tolerance_ms, warmup_s=rules.warmup_s,
        started_s=series.started_s,
    )  # fmt: skip


def alarms_from(
    judgements: Iterable[Judgement], state: RuleState, sample_index: int
) -> list[Alarm]:
    """The judgements that alarm for the first time this watch, as Alarms (``state.fired``
    remembers the rest: each rule alarms once per watch, as with ``judge``). The cause is the
    judgement's line (the rule, the figures, the test and why) without its "ALARM," (the
    journal and the banner put "ALARM:" in front of it); health and restarts read as before
    ("unhealthy 2 times in a row ...", "2 process restart(s) ..."): their words name the rule."""
    alarms = []
    for j in judgements:
        if j.alarm and j.rule not in state.fired:
            state.fired.add(j.rule)
            value = j.value if j.value is not None else 0.0
            threshold = j.threshold if j.threshold is not None else 0.0
            cause = j.line.replace(": ALARM, ", ": ", 1)
            if j.rule in (RULE_HEALTH, RULE_RESTARTS):
                cause = cause.split(": ", 1)[1]
            if j.rule == RULE_HEALTH:  # the limit is the streak itself: said once is enough
                cause = re.sub(r" \(limit \d+\)", "", cause, count=1)
            alarms.append(Alarm(j.rule, cause, value, threshold, sample_index))
    return alarms


# ----------------------------------------------------------------------------- log timestamps

# pm2's log_date_format prefix or the app's own ISO time at the start of a line.
_TS = re.compile(
    r"^\s*(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}:\d{2}(?:\.\d+)?)"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?"
)


def line_time(line: str, default_tz: timezone = UTC) -> float | None:
    """Epoch seconds of a line's leading timestamp; lines without one give None. A timestamp
    without a zone is taken in ``default_tz`` (the host's, as ``date +%z`` tells)."""
    m = _TS.match(line)
    if m is None:
        return None
    tz_text = m.group("tz")
    try:
        stamp = datetime.fromisoformat(f"{m.group('date')}T{m.group('time')}")
    except ValueError:
        return None
    if tz_text is None:
        tz = default_tz
    elif tz_text == "Z":
        tz = UTC
    else:
        tz = parse_offset(tz_text) or UTC
    return stamp.replace(tzinfo=tz).timestamp()


def parse_offset(text: str) -> timezone | None:
    """``+0100`` / ``-05:30`` -> a timezone; None if it is not one."""
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", text.strip())
    if m is None:
        return None
    minutes = int(m.group(2)) * 60 + int(m.group(3))
    return timezone((-1 if m.group(1) == "-" else 1) * timedelta(minutes=minutes))


@dataclass(frozen=True)
class TailedFile:
    lines: tuple[str, ...]
    complete: bool  # the tail holds the whole file (fewer lines than asked for)
    path: str = ""
    stream: str = "out"  # "err" for pm2's error log: its lines are errors by default


def stamped_levels(
    f: TailedFile, classifier: Classifier, default_tz: timezone = UTC
) -> list[tuple[float | None, int]]:
    """(epoch seconds or None, level) of each line of a tail: a JSON line's time and level from
    its fields (log_format), a text line's from its leading timestamp and the Classifier."""
    levels = classifier.levels(list(f.lines), f.stream)
    parse = classifier.format.parse
    out: list[tuple[float | None, int]] = []
    for line, level in zip(f.lines, levels, strict=True):
        record = parse(line) if line[:1] == "{" else None
        ts = record.ts if record is not None else line_time(line, default_tz)
        out.append((ts, level))
    return out


def rate_from_timestamps(
    files: Sequence[TailedFile],
    classifier: Classifier | str,
    now: float,
    *,
    window_s: float = 600.0,
    default_tz: timezone = UTC,
) -> tuple[float, str] | None:
    """Errors per minute over the last ``window_s`` seconds, from the last N lines of each log.

    A tail that was cut (the file had more lines) only covers the time back to its oldest line,
    so the window starts no earlier than the newest of those cut-off points. None when no line
    has a timestamp (then the caller measures instead). An error is a line the Classifier puts
    at ERROR or worse (a bare regex is taken as ``[logs] error_pattern``).
    """
    found = errors_from_timestamps(files, classifier, now, window_s=window_s, default_tz=default_tz)
    if found is None:
        return None
    errors, span, detail = found
    return errors * 60.0 / span, detail


def errors_from_timestamps(
    files: Sequence[TailedFile],
    classifier: Classifier | str,
    now: float,
    *,
    window_s: float = 600.0,
    default_tz: timezone = UTC,
) -> tuple[int, float, str] | None:
    """``rate_from_timestamps``' count: (error lines, seconds they were counted over, detail);
    the span is WatchBaseline.error_window_s, which judge_series' Poisson test needs."""
    judge = Classifier.of(classifier)
    start = now - window_s
    stamped: list[tuple[float, int]] = []
    for f in files:
        times = [(t, lv) for t, lv in stamped_levels(f, judge, default_tz) if t is not None]
        if not times:
            continue
        if not f.complete:
            start = max(start, min(t for t, _ in times))
        stamped.extend(times)
    if not stamped:
        return None
    span = max(60.0, now - start)
    errors = sum(1 for t, level in stamped if t >= start and level >= ERROR)
    return errors, span, f"{errors} error line(s) in the last {span / 60:.1f} min of logs"
