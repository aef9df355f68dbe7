"""The watch's rules over recorded series: judgements that a fresh Node heap cannot fool.

Pure functions of (seconds, value) series and plain numbers, no I/O; watch_rules.judge_series
feeds them the baseline and the [policy.alarms] thresholds, watch.py records the series. Each
rule returns one ``Judgement``: ``ok``, ``alarm`` or ``no verdict`` (too little data, DESIGN
rule 11), its statistic, the minimum data it needs, and one line of words with the figures.

* **memory**: a leak is a sustained rise, not a level. Over the last ``memory_window_s`` of
  samples after the warm-up, alarm only when (1) the rise is steady: the Theil-Sen slope's 95%
  confidence interval is above 0 AND at least 70% of the steps between the medians of five
  equal blocks of the window go up (a GC sawtooth or one jump, a cache filling at once, does
  not); (2) the Theil-Sen slope exceeds ``memory_leak_mb_per_min`` over the window AND over
  its last half (sustained: a settling heap slows down, a leak does not); (3) the level (the
  last block's median) is above the old release's by more than ``memory_growth``. The first
  ``warmup_s`` after a (re)start are never judged: a fresh heap grows fast, then levels off.
* **error rate**: the error lines of the last minute (at least 30 s of counting) against the
  pre-deploy rate, one-sided Poisson (``stats.poisson_excess``); alarm only when significant
  (p < 0.01) AND above max(error_rate_factor x before, error_rate_floor).
* **latency**: post-deploy latencies (after the warm-up: a cold JIT is slow) against the
  pre-deploy ones, Mann-Whitney U plus the p95 tolerance, the code the canary judge uses
  (``stats.compare_latency``); at least 20 samples a side.
* **health**, **restarts**: today's semantics (a streak of unhealthy rounds; restarts since
  the watch began), in the same shape.
* **scale** (a suggestion, never an alarm): over the last ``SCALE_WINDOW_S`` after the warm-up,
  the health-probe latency trends up (Theil-Sen slope, 95% CI above 0) to a p95 beyond the old
  release's by the latency tolerance, while the app's processes are busy (median CPU per
  process >= ``SCALE_CPU_PERCENT``) and the error rule says ok (judged, not alarming): that is
  load, not a bad release, and more instances would help. Verdict ``suggest`` with how many to
  add (to bring CPU per process to ``SCALE_TARGET_CPU_PERCENT``, up to ``max_instances``).
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tui.core.stats import (
    ALPHA,
    block_medians,
    compare_latency,
    format_p,
    poisson_excess,
    rising_fraction,
    theil_sen,
)

OK, ALARM, NO_VERDICT = "ok", "alarm", "no verdict"
SUGGEST = "suggest"  # the scale rule's only verdict besides ok and no verdict
RULE_HEALTH, RULE_ERRORS, RULE_RESTARTS, RULE_MEMORY = "health", "error_rate", "restarts", "memory"
RULE_LATENCY = "latency"
RULE_SCALE = "scale"
SERIES_RULES = (RULE_HEALTH, RULE_ERRORS, RULE_RESTARTS, RULE_MEMORY, RULE_LATENCY)

# Memory: the window is cut in this many blocks; their medians smooth a GC sawtooth...
MEMORY_BLOCKS = 5
# ...and this share of the steps between them must go up for a "steady" rise (3 of 4).
MEMORY_RISING_SHARE = 0.7
# Fewest samples in the window for a slope (Theil-Sen's CI means little under 5 points).
MEMORY_MIN_POINTS = 5
# Error rate: judged over the last minute of counts (the floor is per minute)...
ERROR_WINDOW_S = 60.0
# ...once at least this much has been counted: under half a minute, one or two lines swing
# the rate by 2-4/min, as much as the floor.
ERROR_MIN_EXPOSURE_S = 30.0
# Latency: fewest samples per side (below it one slow probe moves the p95 a whole rank).
LATENCY_MIN_SAMPLES = 20
# Scale: judged over this much of the latest series (after the warm-up)...
SCALE_WINDOW_S = 120.0
# ...with at least this many latencies and CPU readings in it...
SCALE_MIN_LATENCIES = 10
SCALE_MIN_CPU = 5
# ...when the median CPU per process is at least this (%): busy, so latency is load...
SCALE_CPU_PERCENT = 70.0
# ...and enough instances are added to bring it to about this.
SCALE_TARGET_CPU_PERCENT = 50.0

Point = tuple[float, float]


@dataclass(frozen=True)
class Judgement:
    """One rule's answer at one moment of the watch."""

    rule: str  # one of SERIES_RULES
    verdict: str  # OK | ALARM | NO_VERDICT
    line: str  # one line of words: the figures, the test and why
    statistic: str  # the test or measure used
    minimum: str  # the least data it needs, in words
    value: float | None = None  # the figure compared with the threshold
    threshold: float | None = None
    p_value: float | None = None
    figures: Mapping[str, float] = field(default_factory=dict)

    @property
    def alarm(self) -> bool:
        return self.verdict == ALARM

    def to_json(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None or not math.isfinite(x) else round(x, 4)

        return {
            "rule": self.rule,
            "verdict": self.verdict,
            "line": self.line,
            "statistic": self.statistic,
            "minimum": self.minimum,
            "value": r(self.value),
            "threshold": r(self.threshold),
            "p_value": self.p_value,
            "figures": {k: r(v) for k, v in self.figures.items()},
        }


# ----------------------------------------------------------------------------- the series


@dataclass(frozen=True)
class WatchSeries:
    """What the watch recorded since the release went live; t = seconds since then.

    errors: (t, error lines counted in (previous t, t]; the first point's interval starts
    at 0). restarts: (t, restarts since the watch began). health: (t, what failed that round,
    empty = healthy). started_s: when the app's processes last (re)started (the deploy: 0).
    """

    memory_mb: tuple[Point, ...] = ()  # mean RSS per online process, MB
    errors: tuple[tuple[float, int], ...] = ()
    latencies_ms: tuple[Point, ...] = ()  # request or health-probe latencies
    restarts: tuple[tuple[float, int], ...] = ()
    health: tuple[tuple[float, tuple[str, ...]], ...] = ()
    started_s: float = 0.0
    cpu_percent: tuple[Point, ...] = ()  # mean CPU % per online process (the scale rule)

    def to_json(self) -> dict[str, Any]:
        return {
            "memory_mb": [list(p) for p in self.memory_mb],
            "errors": [list(p) for p in self.errors],
            "latencies_ms": [list(p) for p in self.latencies_ms],
            "restarts": [list(p) for p in self.restarts],
            "health": [[t, list(parts)] for t, parts in self.health],
            "started_s": self.started_s,
            "cpu_percent": [list(p) for p in self.cpu_percent],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> WatchSeries:
        return cls(
            memory_mb=tuple((float(t), float(v)) for t, v in raw.get("memory_mb", ())),
            errors=tuple((float(t), int(n)) for t, n in raw.get("errors", ())),
            latencies_ms=tuple((float(t), float(v)) for t, v in raw.get("latencies_ms", ())),
            restarts=tuple((float(t), int(n)) for t, n in raw.get("restarts", ())),
            health=tuple(
                (float(t), tuple(str(p) for p in parts)) for t, parts in raw.get("health", ())
            ),
            started_s=float(raw.get("started_s", 0.0)),
            cpu_percent=tuple((float(t), float(v)) for t, v in raw.get("cpu_percent", ())),
        )

    def until(self, now: float) -> WatchSeries:
        """The series as it was at ``now`` (for replays)."""

        def cut(points: Iterable[tuple[float, Any]]) -> tuple[Any, ...]:
            return tuple(p for p in points if p[0] <= now)

        return WatchSeries(
            cut(self.memory_mb), cut(self.errors), cut(self.latencies_ms), cut(self.restarts),
            cut(self.health), self.started_s if self.started_s <= now else 0.0,
            cut(self.cpu_percent),
        )  # fmt: skip


class SeriesRecorder:
    """Collects a WatchSeries round by round, bounded (the newest ``max_points`` of each)."""

    def __init__(self, max_points: int = 5000) -> None:
        self.memory_mb: deque[Point] = deque(maxlen=max_points)
        self.errors: deque[tuple[float, int]] = deque(maxlen=max_points)
        self.latencies_ms: deque[Point] = deque(maxlen=max_points)
        self.restarts: deque[tuple[float, int]] = deque(maxlen=max_points)
        self.health: deque[tuple[float, tuple[str, ...]]] = deque(maxlen=max_points)
        self.cpu_percent: deque[Point] = deque(maxlen=max_points)
        self.started_s = 0.0

    def add(
        self,
        t: float,
        *,
        memory_mb: float | None = None,
        errors: int | None = None,
        latencies_ms: Iterable[float] = (),
        restarts: int | None = None,
        unhealthy: Sequence[str] | None = None,
        cpu_percent: float | None = None,
    ) -> None:
        """One round at ``t`` seconds since the release went live; None = unknown this round
        (left out, never recorded as 0)."""
        if cpu_percent is not None:
            self.cpu_percent.append((t, float(cpu_percent)))
        if memory_mb is not None and memory_mb > 0:
            self.memory_mb.append((t, float(memory_mb)))
        if errors is not None:
            self.errors.append((t, int(errors)))
        self.latencies_ms.extend((t, float(v)) for v in latencies_ms)
        if restarts is not None:
            self.restarts.append((t, int(restarts)))
        if unhealthy is not None:
            self.health.append((t, tuple(unhealthy)))

    def restarted(self, t: float) -> None:
        """The app's processes (re)started at ``t``: warm-up starts again from there."""
        self.started_s = t

    def series(self) -> WatchSeries:
        return WatchSeries(
            tuple(self.memory_mb), tuple(self.errors), tuple(self.latencies_ms),
            tuple(self.restarts), tuple(self.health), self.started_s, tuple(self.cpu_percent),
        )  # fmt: skip


# ----------------------------------------------------------------------------- memory


def judge_memory(
    points: Sequence[Point],
    *,
    now: float,
    baseline_mb: float,
    growth: float,
    leak_mb_per_min: float,
    window_s: float,
    warmup_s: float,
    started_s: float = 0.0,
) -> Judgement:
    """The leak rule (see the module's docstring). ``points``: (t, MB per process)."""
    statistic = "Theil-Sen slope (95% CI) + rising block medians + level vs before"
    minimum = f"{window_s:g} s of samples after a {warmup_s:g} s warm-up"
    judged_from = started_s + warmup_s
    post = [(t, v) for t, v in points if judged_from <= t <= now]
    have = (now - post[0][0]) if post else 0.0
    if now < judged_from:
        return Judgement(
            RULE_MEMORY, NO_VERDICT,
            f"memory: no verdict (warm-up: {now - started_s:.0f} s of {warmup_s:g} s after the"
            " start are never judged)", statistic, minimum,
        )  # fmt: skip
    if have < window_s:
        return Judgement(
            RULE_MEMORY, NO_VERDICT,
            f"memory: no verdict ({have:.0f} s of {window_s:g} s after the warm-up)",
            statistic, minimum,
        )  # fmt: skip
    window = [(t, v) for t, v in post if t >= now - window_s]
    trend = theil_sen(window)
    if trend is None or len(window) < MEMORY_MIN_POINTS:
        return Judgement(
            RULE_MEMORY, NO_VERDICT,
            f"memory: no verdict ({len(window)} samples in the last {window_s:g} s, needs"
            f" {MEMORY_MIN_POINTS})", statistic, minimum,
        )  # fmt: skip
    recent = theil_sen([(t, v) for t, v in window if t >= now - window_s / 2])
    recent_slope = recent.slope_per_min if recent is not None else 0.0
    medians = block_medians(window, window_s / MEMORY_BLOCKS)
    rising = rising_fraction(medians)
    steps = max(0, len(medians) - 1)
    level = medians[-1] if medians else window[-1][1]
    slope_text = (
        f"{trend.slope_per_min:+.1f} MB/min over the last {window_s:g} s (Theil-Sen, 95% CI"
        f" {trend.low_per_min:+.1f}..{trend.high_per_min:+.1f}; {recent_slope:+.1f} over its"
        f" last half; block medians rising in {round(rising * steps)} of {steps} steps)"
    )
    figures = {
        "slope_mb_per_min": trend.slope_per_min,
        "slope_low": trend.low_per_min,
        "slope_high": trend.high_per_min,
        "recent_slope_mb_per_min": recent_slope,
        "rising_share": rising,
        "level_mb": level,
        "baseline_mb": baseline_mb,
        "points": float(len(window)),
    }
    if baseline_mb <= 0:
        return Judgement(
            RULE_MEMORY, NO_VERDICT,
            f"memory: no verdict (no pre-deploy memory to compare the level with); {slope_text}",
            statistic, minimum, trend.slope_per_min, leak_mb_per_min, figures=figures,
        )  # fmt: skip
    change = level / baseline_mb - 1.0
    figures["change"] = change
    level_text = f"{level:.0f} MB vs {baseline_mb:.0f} MB before ({change * 100:+.0f}%)"
    steady = trend.low_per_min > 0 and rising >= MEMORY_RISING_SHARE
    fast = trend.slope_per_min > leak_mb_per_min
    fading = not recent_slope > leak_mb_per_min
    high = change > growth
    if steady and fast and not fading and high:
        return Judgement(
            RULE_MEMORY, ALARM,
            f"memory: ALARM, leak: {slope_text}, {level_text}; a steady rise over"
            f" {leak_mb_per_min:g} MB/min and over +{growth * 100:.0f}%",
            statistic, minimum, trend.slope_per_min, leak_mb_per_min, figures=figures,
        )  # fmt: skip
    why = []
    if not steady:
        why.append("no steady rise")
    if not fast:
        why.append(f"slope under {leak_mb_per_min:g} MB/min")
    elif fading:
        why.append("the rise is fading")
    if not high:
        why.append(f"level within +{growth * 100:.0f}%")
    return Judgement(
        RULE_MEMORY, OK,
        f"memory: ok, {slope_text}, {level_text}; not a leak: {', '.join(why)}",
        statistic, minimum, trend.slope_per_min, leak_mb_per_min, figures=figures,
    )  # fmt: skip


# ----------------------------------------------------------------------------- error rate


def judge_errors(
    counts: Sequence[tuple[float, int]],
    *,
    now: float,
    base_per_min: float | None,
    base_window_s: float,
    factor: float,
    floor: float,
    alpha: float = ALPHA,
) -> Judgement:
    """The error-rate rule over the last ``ERROR_WINDOW_S`` of counts (see the module's
    docstring). ``base_per_min`` None = no pre-deploy rate known: the floor is then the rate
    the test compares with. ``base_window_s`` = how long the baseline counted (0 = unknown:
    its rate is taken as exact)."""
    minimum = f"{ERROR_MIN_EXPOSURE_S:g} s of error counts"
    upto = [(t, n) for t, n in counts if t <= now]
    count, start = 0, None
    for i in range(len(upto) - 1, -1, -1):
        t_prev = upto[i - 1][0] if i > 0 else 0.0
        count += upto[i][1]
        start = t_prev
        if upto[-1][0] - t_prev >= ERROR_WINDOW_S:
            break
    exposure = (upto[-1][0] - start) if upto and start is not None else 0.0
    statistic = "Poisson, one-sided"
    if exposure < ERROR_MIN_EXPOSURE_S:
        return Judgement(
            RULE_ERRORS, NO_VERDICT,
            f"error rate: no verdict ({exposure:.0f} s of {ERROR_MIN_EXPOSURE_S:g} s of error"
            " counts)", statistic, minimum,
        )  # fmt: skip
    rate = count * 60.0 / exposure
    if base_per_min is None:
        reference, limit = floor, floor
        base_text = f"no pre-deploy rate, compared with the floor {floor:g}/min"
        test, p = poisson_excess(count, exposure, base_rate_per_s=floor / 60.0)
    else:
        reference = max(0.0, base_per_min)
        limit = max(factor * reference, floor)
        base_text = f"{reference:.1f}/min before"
        base_count = round(reference * base_window_s / 60.0) if base_window_s > 0 else None
        test, p = poisson_excess(
            count, exposure, base_rate_per_s=reference / 60.0,
            base_count=base_count, base_exposure_s=base_window_s,
        )  # fmt: skip
    figures = {"count": float(count), "exposure_s": exposure, "rate_per_min": rate,
               "reference_per_min": reference}  # fmt: skip
    text = (
        f"{rate:.1f}/min ({count} in the last {exposure:.0f} s) vs {base_text}"
        f" ({test} {format_p(p)}; limit {limit:g}/min)"
    )
    if p < alpha and rate > limit:
        return Judgement(
            RULE_ERRORS, ALARM, f"error rate: ALARM, {text}: significant and over the limit",
            test, minimum, rate, limit, p, figures,
        )  # fmt: skip
    why = ", ".join(
        ([] if rate > limit else ["under the limit"]) + ([] if p < alpha else ["not significant"])
    )
    return Judgement(
        RULE_ERRORS, OK, f"error rate: ok, {text}: {why}", test, minimum, rate, limit, p, figures
    )


# ----------------------------------------------------------------------------- latency


def judge_latency(
    points: Sequence[Point],
    baseline_ms: Sequence[float],
    *,
    now: float,
    tolerance_percent: float,
    tolerance_ms: float,
    warmup_s: float,
    started_s: float = 0.0,
    alpha: float = ALPHA,
) -> Judgement:
    """Post-deploy latencies (after the warm-up) against the pre-deploy ones."""
    statistic = "Mann-Whitney U, one-sided, + p95 tolerance"
    minimum = f"{LATENCY_MIN_SAMPLES} latencies before and {LATENCY_MIN_SAMPLES} after warm-up"
    after = [v for t, v in points if started_s + warmup_s <= t <= now]
    if len(baseline_ms) < LATENCY_MIN_SAMPLES or len(after) < LATENCY_MIN_SAMPLES:
        return Judgement(
            RULE_LATENCY, NO_VERDICT,
            f"latency: no verdict ({len(baseline_ms)} latencies before, {len(after)} after the"
            f" warm-up; needs {LATENCY_MIN_SAMPLES} each)", statistic, minimum,
        )  # fmt: skip
    c = compare_latency(
        baseline_ms, after, tolerance_percent=tolerance_percent, tolerance_ms=tolerance_ms,
        alpha=alpha,
    )  # fmt: skip
    figures = dict(c.figures)
    value, limit = c.figures["p95_new_ms"], c.figures["p95_base_ms"]
    if c.worse:
        return Judgement(
            RULE_LATENCY, ALARM, f"latency: ALARM, {c.text}: slower beyond the tolerance",
            statistic, minimum, value, limit, c.p_value, figures,
        )  # fmt: skip
    why = "within the tolerance" if c.significant else "not significant"
    return Judgement(
        RULE_LATENCY, OK, f"latency: ok, {c.text}: {why}",
        statistic, minimum, value, limit, c.p_value, figures,
    )  # fmt: skip


# ----------------------------------------------------------------------------- health, restarts


def judge_health(
    rounds: Sequence[tuple[float, tuple[str, ...]]], *, now: float, streak_limit: int
) -> Judgement:
    """Alarm when the last ``streak_limit`` rounds in a row were unhealthy."""
    statistic, minimum = "unhealthy rounds in a row", "one round"
    upto = [parts for t, parts in rounds if t <= now]
    if not upto:
        return Judgement(RULE_HEALTH, NO_VERDICT, "health: no verdict (no round yet)",
                         statistic, minimum)  # fmt: skip
    streak = 0
    for parts in reversed(upto):
        if not parts:
            break
        streak += 1
    if streak >= streak_limit:
        return Judgement(
            RULE_HEALTH, ALARM,
            f"health: ALARM, unhealthy {streak} times in a row (limit {streak_limit}):"
            f" {'; '.join(upto[-1])}", statistic, minimum, streak, streak_limit,
        )  # fmt: skip
    state = "healthy" if streak == 0 else f"unhealthy {streak} time(s) in a row"
    return Judgement(RULE_HEALTH, OK, f"health: ok, {state} (limit {streak_limit} in a row)",
                     statistic, minimum, streak, streak_limit)  # fmt: skip


def judge_restarts(restarts: Sequence[tuple[float, int]], *, now: float, limit: int) -> Judgement:
    """Alarm when the app restarted more than ``limit`` times since the watch began."""
    statistic, minimum = "restarts since the watch began", "one process list"
    upto = [n for t, n in restarts if t <= now]
    if not upto:
        return Judgement(RULE_RESTARTS, NO_VERDICT, "restarts: no verdict (no process list yet)",
                         statistic, minimum)  # fmt: skip
    n = upto[-1]
    allowed = "any restart alarms" if limit == 0 else f"limit {limit}"
    if n > limit:
        return Judgement(RULE_RESTARTS, ALARM,
                         f"restarts: ALARM, {n} process restart(s) since the watch began"
                         f" ({allowed})", statistic, minimum, n, limit)  # fmt: skip
    return Judgement(RULE_RESTARTS, OK, f"restarts: ok, {n} since the watch began ({allowed})",
                     statistic, minimum, n, limit)  # fmt: skip


# ----------------------------------------------------------------------------- scale


def _p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(0.95 * len(ordered))) - 1]


def judge_scale(
    latencies: Sequence[Point],
    cpu: Sequence[Point],
    baseline_ms: Sequence[float],
    *,
    now: float,
    errors: Judgement,
    instances: int,
    max_instances: int,
    tolerance_percent: float,
    tolerance_ms: float,
    warmup_s: float,
    started_s: float = 0.0,
    window_s: float = SCALE_WINDOW_S,
) -> Judgement:
    """Whether more instances would help (see the module's docstring). ``cpu``: (t, mean CPU %
    per online process); ``errors``: the error rule's judgement at ``now``; ``instances``: the
    app's online processes now. ``value`` of a suggestion: how many to add."""
    statistic = "Theil-Sen slope of latency (95% CI) + p95 vs before + median CPU per process"
    minimum = (
        f"{SCALE_MIN_LATENCIES} latencies and {SCALE_MIN_CPU} CPU readings in the last"
        f" {window_s:g} s after a {warmup_s:g} s warm-up, {LATENCY_MIN_SAMPLES} latencies"
        " before, and an error rate judged"
    )
    start = max(started_s + warmup_s, now - window_s)
    lat = [(t, v) for t, v in latencies if start <= t <= now]
    load = [v for t, v in cpu if start <= t <= now]

    def answer(verdict: str, why: str, value: float | None = None, **figures: float) -> Judgement:
        return Judgement(RULE_SCALE, verdict, f"scale: {verdict}, {why}", statistic, minimum,
                         value, float(max_instances), figures=figures)  # fmt: skip

    if errors.alarm:
        return answer(OK, "the error rate alarms: a bad release is not scaled")
    if now < started_s + warmup_s:
        return answer(NO_VERDICT, f"warm-up: {now - started_s:.0f} s of {warmup_s:g} s")
    if len(lat) < SCALE_MIN_LATENCIES or len(load) < SCALE_MIN_CPU:
        return answer(NO_VERDICT, f"{len(lat)} latencies and {len(load)} CPU readings in the"
                      f" last {now - start:.0f} s (needs {SCALE_MIN_LATENCIES} and"
                      f" {SCALE_MIN_CPU})")  # fmt: skip
    if len(baseline_ms) < LATENCY_MIN_SAMPLES:
        return answer(NO_VERDICT, f"{len(baseline_ms)} latencies before DEPLOY (needs"
                      f" {LATENCY_MIN_SAMPLES})")  # fmt: skip
    if errors.verdict == NO_VERDICT:
        return answer(NO_VERDICT, "the error rate is not judged yet (rising errors: no scaling)")
    trend = theil_sen(lat)
    cpu_median = statistics.median(load)
    p95_new, p95_base = _p95([v for _, v in lat]), _p95(baseline_ms)
    figures = {"p95_ms": p95_new, "p95_before_ms": p95_base, "cpu_percent": cpu_median,
               "instances": float(instances)}  # fmt: skip
    if trend is None:
        return answer(NO_VERDICT, "no spread in time to fit a slope")
    figures.update(slope_ms_per_min=trend.slope_per_min, slope_low=trend.low_per_min)
    text = (
        f"p95 latency {p95_new:.0f} ms vs {p95_base:.0f} ms before, {trend.slope_per_min:+.1f}"
        f" ms/min over {trend.span_s:.0f} s (Theil-Sen, 95% CI {trend.low_per_min:+.1f}.."
        f"{trend.high_per_min:+.1f}); CPU {cpu_median:.0f}% per process (median of {len(load)}"
        f" rounds); {instances} instance(s)"
    )
    rising = trend.low_per_min > 0
    slower = (p95_new - p95_base > tolerance_ms
              and p95_new > p95_base * (1 + tolerance_percent / 100.0))  # fmt: skip
    busy = cpu_median >= SCALE_CPU_PERCENT
    why = [w for w, bad in (("latency not trending up", not rising),
                            (f"p95 within +{tolerance_percent:g}% / +{tolerance_ms:g} ms",
                             not slower),
                            (f"CPU under {SCALE_CPU_PERCENT:g}% per process", not busy))
           if bad]  # fmt: skip
    if why:
        return answer(OK, f"{text}; no scaling: {', '.join(why)}", **figures)
    if instances >= max_instances:
        return answer(OK, f"{text}; already at max_instances {max_instances}", **figures)
    wanted = math.ceil(instances * cpu_median / SCALE_TARGET_CPU_PERCENT) - instances
    add = max(1, min(wanted, max_instances - instances))
    return answer(
        SUGGEST, f"+{add}: {text}; errors ok: load, not a bad release", float(add), **figures
    )
