"""The canary judge: over one step's window, is the canary worse than the stable release?

Pure functions of counts and latencies (the canary strategy collects them from nginx's access
log and calls ``judge_step`` once per step), no I/O; the statistics come from scipy.stats
through tui/core/stats.py, which the watch rules share.

Two checks, each a one-sided question "is the canary worse?" answered twice, by a test and by
an effect size against a tolerance ([canary] keys):

* **5xx rate**: Fisher's exact test on the 2x2 table (canary/stable x 5xx/other), or a pooled
  two-proportion z-test once the table holds ``stats.FISHER_BELOW`` (10,000) requests and every
  expected count is at least 5; the effect is the difference of the rates against
  ``min_error_diff`` (0.01 = one percentage point), so one stray 500 does not fail a step.
* **latency**: Mann-Whitney U on the request times; the effect is the p95's growth, which
  must exceed both ``latency_tolerance_percent`` and ``latency_tolerance_ms``.

**Score** (0-100). Each check's *strength* is min(evidence, effect) where evidence is
log(p) / log(alpha) (1 at p = alpha = 0.01, 2 at 0.0001) and effect is the excess in
tolerances (1 = exactly at the tolerance): both are needed for a real regression. A check
scores ``100 - 30 x strength`` (clipped to 0..100), so a check exactly at the test's alpha and
at its tolerance scores 70, the default ``threshold``; a clean one scores 100. The step's score
is the worst check's (a mean would let a fast release hide its errors).

**Verdict**: ``fail`` when the score is under ``threshold``; ``marginal`` in the band
[threshold, threshold + 15): worse by some measure, not by both the test and the tolerance
(a strategy should wait another window, up to ``max_wait_s``, rather than promote on it);
``pass`` at threshold + 15 and above. ``inconclusive`` (no score) when either side had fewer
than ``min_requests`` requests, or a check had too few latencies; it never promotes. A check
that fails with data fails the step even when the other check had too little.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tui.core.config_models import CanaryConfig, Config
from tui.core.stats import ALPHA, Comparison, compare_latency, compare_proportions

PASS, MARGINAL, FAIL, INCONCLUSIVE = "pass", "marginal", "fail", "inconclusive"
VERDICTS = (PASS, MARGINAL, FAIL, INCONCLUSIVE)
# Scores in [threshold, threshold + MARGINAL_BAND) are marginal.
MARGINAL_BAND = 15.0
# Points a check loses per unit of strength: at strength 1 (alpha and the tolerance) it has 70.
POINTS_PER_STRENGTH = 30.0

_DEFAULTS = CanaryConfig()


@dataclass(frozen=True)
class SideWindow:
    """One side (stable or canary) over one step's window."""

    requests: int
    errors: int  # 5xx responses among them
    latencies: Sequence[float] = ()  # request times (all, or a sample); unit: judge_step's

    def __post_init__(self) -> None:
        if self.requests < 0 or self.errors < 0 or self.errors > self.requests:
            raise ValueError(f"bad counts: {self.errors} errors in {self.requests} requests")


@dataclass(frozen=True)
class JudgeSettings:
    """The judge's knobs; ``from_config`` reads them from [canary]."""

    min_requests: int = _DEFAULTS.min_requests
    threshold: float = _DEFAULTS.threshold
    latency_tolerance_percent: float = _DEFAULTS.latency_tolerance_percent
    latency_tolerance_ms: float = _DEFAULTS.latency_tolerance_ms
    min_error_diff: float = _DEFAULTS.min_error_diff
    alpha: float = ALPHA
    marginal_band: float = MARGINAL_BAND

    @classmethod
    def from_config(cls, config: Config | CanaryConfig) -> JudgeSettings:
        canary = config.canary if isinstance(config, Config) else config
        return cls(
            min_requests=canary.min_requests,
            threshold=canary.threshold,
            latency_tolerance_percent=canary.latency_tolerance_percent,
            latency_tolerance_ms=canary.latency_tolerance_ms,
            min_error_diff=canary.min_error_diff,
        )

    def verdict_for(self, score: float) -> str:
        if score < self.threshold:
            return FAIL
        return MARGINAL if score < self.threshold + self.marginal_band else PASS


@dataclass(frozen=True)
class JudgeCheck:
    """One check of a step: its verdict, score and reason in words."""

    name: str  # "5xx" | "latency"
    verdict: str  # one of VERDICTS
    score: float | None  # None = inconclusive
    reason: str
    comparison: Comparison | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "verdict": self.verdict,
            "score": None if self.score is None else round(self.score, 1),
            "reason": self.reason,
            "comparison": self.comparison.to_json() if self.comparison else None,
        }


@dataclass(frozen=True)
class StepJudgement:
    """The judge's answer for one step."""

    verdict: str  # one of VERDICTS
    score: float | None  # 0-100, the worst check's; None when inconclusive
    reasons: tuple[str, ...]  # one line per check, in words
    checks: tuple[JudgeCheck, ...]
    stable_requests: int
    canary_requests: int
    judge_ms: float  # how long judging took

    @property
    def promote(self) -> bool:
        """Only a pass promotes; marginal, fail and inconclusive never do."""
        return self.verdict == PASS

    def line(self) -> str:
        score = "no score" if self.score is None else f"score {self.score:.0f}"
        return f"canary {self.verdict.upper()} ({score}): " + "; ".join(self.reasons)

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "score": None if self.score is None else round(self.score, 1),
            "reasons": list(self.reasons),
            "checks": [c.to_json() for c in self.checks],
            "stable_requests": self.stable_requests,
            "canary_requests": self.canary_requests,
            "judge_ms": round(self.judge_ms, 3),
        }


def check_score(comparison: Comparison) -> float:
    """100 - 30 x strength, clipped to 0..100 (see the module's docstring)."""
    strength = comparison.strength
    if math.isinf(strength):
        return 0.0
    return max(0.0, min(100.0, 100.0 - POINTS_PER_STRENGTH * strength))


def _judged(name: str, comparison: Comparison, settings: JudgeSettings) -> JudgeCheck:
    score = check_score(comparison)
    verdict = settings.verdict_for(score)
    why = {
        FAIL: "worse",
        MARGINAL: "maybe worse",
        PASS: "ok",
    }[verdict]
    if verdict == PASS and comparison.significant:
        why = "ok, within the tolerance"
    elif verdict == PASS and comparison.beyond_tolerance:
        why = "ok, not significant"
    return JudgeCheck(name, verdict, score, f"{comparison.text}: {why}", comparison)


def _short(name: str, side: str, have: int, need: int, what: str) -> JudgeCheck:
    return JudgeCheck(
        name, INCONCLUSIVE, None,
        f"{name}: no verdict: the {side} had {have} {what}, needs {need} (min_requests)",
    )  # fmt: skip


def judge_step(
    stable: SideWindow,
    canary: SideWindow,
    settings: JudgeSettings | None = None,
    *,
    unit: str = "s",
    clock: Callable[[], float] = time.perf_counter,
) -> StepJudgement:
    """Judge one step: the canary against the stable side over the same window.

    ``unit`` is the latencies' unit, "s" (nginx's $request_time) or "ms". Fast: two sides of
    5,000 latencies take a few milliseconds (bench: ``judge_ms``).
    """
    if unit not in ("s", "ms"):
        raise ValueError(f"unit must be 's' or 'ms', not {unit!r}")
    settings = settings or JudgeSettings()
    started = clock()
    need = settings.min_requests
    checks: list[JudgeCheck] = []

    short = [(side, w) for side, w in (("canary", canary), ("stable side", stable))
             if w.requests < need]  # fmt: skip
    if short:
        side, w = short[0]
        checks.append(_short("5xx", side, w.requests, need, "requests"))
    else:
        errors = compare_proportions(
            stable.requests, stable.errors, canary.requests, canary.errors,
            min_diff=settings.min_error_diff, alpha=settings.alpha,
        )  # fmt: skip
        checks.append(_judged("5xx", errors, settings))

    lat_short = [(side, len(w.latencies))
                 for side, w in (("canary", canary), ("stable side", stable))
                 if len(w.latencies) < need]  # fmt: skip
    if short:
        side, w = short[0]
        checks.append(_short("latency", side, w.requests, need, "requests"))
    elif lat_short:
        side, have = lat_short[0]
        checks.append(_short("latency", side, have, need, "latencies"))
    else:
        scale = 1000.0 if unit == "s" else 1.0
        latency = compare_latency(
            [v * scale for v in stable.latencies], [v * scale for v in canary.latencies],
            tolerance_percent=settings.latency_tolerance_percent,
            tolerance_ms=settings.latency_tolerance_ms, alpha=settings.alpha,
        )  # fmt: skip
        checks.append(_judged("latency", latency, settings))

    scores = [c.score for c in checks if c.score is not None]
    worst = min(scores) if scores else None
    if worst is not None and worst < settings.threshold:
        verdict, score = FAIL, worst
    elif any(c.score is None for c in checks):
        verdict, score = INCONCLUSIVE, None
    else:
        assert worst is not None
        verdict, score = settings.verdict_for(worst), worst
    return StepJudgement(
        verdict, score, tuple(c.reason for c in checks), tuple(checks),
        stable.requests, canary.requests, (clock() - started) * 1000.0,
    )  # fmt: skip
