"""The statistics shared by the canary judge (judge.py) and the watch rules (watch_stats.py).

Pure functions of numbers, no I/O. Each comparison asks one one-sided question, "is the new
side worse than the old one?", and answers it twice: with a test from scipy.stats (how sure we
are) and with an effect size measured against a tolerance (whether it matters). A comparison
is *worse* only when both say so: significant at ``alpha`` AND beyond the tolerance, so neither
a trivial but significant difference (lots of data) nor a big but noisy one (little data) fails
anything.

scipy.stats takes 1-2 s to import, so it is imported on first use (``scipy_stats()``), never
with this module: the console's start and ``shipdeck status`` do not pay for it.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

# One-sided tests are significant below this p (DESIGN rule 11: the statistic names its level).
ALPHA = 0.01
# Fisher's exact test below this many requests in the 2x2 table (or whenever an expected cell
# count is under 5, where the normal approximation is wrong); the two-proportion z-test above.
# Fisher is exact at any size and scipy computes it in under a millisecond, so the switch is
# not about speed: above it the z-test gives the same answer to two digits and reads the way
# people quote large A/B counts ("z = 4.1").
FISHER_BELOW = 10_000
# How much evidence counts at most (p = alpha**3 = 1e-6): beyond it, more data proves nothing new.
MAX_EVIDENCE = 3.0


@functools.cache
def scipy_stats() -> ModuleType:
    """scipy.stats, imported on first use (it is slow to import)."""
    import scipy.stats

    return scipy.stats


def format_p(p: float) -> str:
    """'p < 0.001', 'p = 0.0099', 'p = 0.62' (two significant digits)."""
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.2g}"


def _ratio(value: float, tolerance: float) -> float:
    """How many tolerances ``value`` is; a zero tolerance makes any excess infinite."""
    if tolerance > 0:
        return value / tolerance
    return math.inf if value > 0 else 0.0


@dataclass(frozen=True)
class Comparison:
    """One one-sided comparison, "new is worse than base", with its test and its effect."""

    name: str  # what is compared: "5xx", "latency", "error rate"
    test: str  # the statistic: "Fisher", "two-proportion z", "Mann-Whitney", "Poisson"
    p_value: float  # one-sided: small = the new side is worse
    effect_ratio: float  # the effect in tolerances: > 1 = beyond the tolerance (< 0 = better)
    text: str  # one line of words: the figures, the test and its p
    figures: dict[str, float]
    alpha: float = ALPHA

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha

    @property
    def beyond_tolerance(self) -> bool:
        return self.effect_ratio > 1.0

    @property
    def worse(self) -> bool:
        """Significant AND beyond the tolerance: the only case that fails or alarms."""
        return self.significant and self.beyond_tolerance

    @property
    def evidence(self) -> float:
        """log(p) / log(alpha): 0 at p = 1, 1 at p = alpha, 2 at alpha squared (capped at 3)."""
        if self.p_value <= 0:
            return MAX_EVIDENCE
        return max(0.0, min(MAX_EVIDENCE, math.log(self.p_value) / math.log(self.alpha)))

    @property
    def strength(self) -> float:
        """How strongly worse, in units where 1 = "exactly at alpha and at the tolerance": the
        smaller of the evidence and the effect (both are needed), never below 0."""
        return max(0.0, min(self.evidence, self.effect_ratio))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "test": self.test,
            "p_value": self.p_value,
            "effect_ratio": None if math.isinf(self.effect_ratio) else round(self.effect_ratio, 4),
            "worse": self.worse,
            "text": self.text,
            "figures": {k: round(v, 4) for k, v in self.figures.items()},
        }


# ----------------------------------------------------------------------------- proportions


def proportion_test(base_n: int, base_x: int, new_n: int, new_x: int) -> tuple[str, float]:
    """(test name, one-sided p) that the new side's rate x/n is greater than the base side's.

    Fisher's exact test on the 2x2 table while the table is small (``FISHER_BELOW`` requests)
    or any expected count is under 5; a pooled two-proportion z-test otherwise.
    """
    st = scipy_stats()
    total, errors = base_n + new_n, base_x + new_x
    expected = [
        n * k / total
        for n in (base_n, new_n)
        for k in (errors, total - errors)
    ] if total else [0.0]  # fmt: skip
    if total < FISHER_BELOW or min(expected) < 5:
        table = [[new_x, new_n - new_x], [base_x, base_n - base_x]]
        return "Fisher", float(st.fisher_exact(table, alternative="greater").pvalue)
    pooled = errors / total
    se = math.sqrt(pooled * (1 - pooled) * (1 / base_n + 1 / new_n))
    diff = new_x / new_n - base_x / base_n
    if se == 0:
        return "two-proportion z", 0.0 if diff > 0 else 1.0
    return "two-proportion z", float(st.norm.sf(diff / se))


def compare_proportions(
    base_n: int,
    base_x: int,
    new_n: int,
    new_x: int,
    *,
    min_diff: float,
    name: str = "5xx",
    alpha: float = ALPHA,
) -> Comparison:
    """Is the new side's error rate higher? Worse only when significant AND higher by more than
    ``min_diff`` (an absolute difference of rates: 0.01 = one percentage point), so one stray
    error in a small sample does not count."""
    if base_n <= 0 or new_n <= 0:
        raise ValueError("both sides need at least one request")
    test, p = proportion_test(base_n, base_x, new_n, new_x)
    base_rate, new_rate = base_x / base_n, new_x / new_n
    diff = new_rate - base_rate
    text = (
        f"{name} {_pct(new_rate)} vs {_pct(base_rate)} ({new_x}/{new_n} vs {base_x}/{base_n},"
        f" {test} {format_p(p)}; tolerance +{min_diff * 100:g} pp)"
    )
    return Comparison(
        name, test, p, _ratio(diff, min_diff), text,
        {"base_rate": base_rate, "new_rate": new_rate, "diff": diff},
        alpha,
    )  # fmt: skip


def _pct(rate: float) -> str:
    return f"{rate * 100:.1f}%" if rate * 100 >= 0.1 or rate == 0 else f"{rate * 100:.2f}%"


# ----------------------------------------------------------------------------- latency


def compare_latency(
    base_ms: Sequence[float],
    new_ms: Sequence[float],
    *,
    tolerance_percent: float,
    tolerance_ms: float,
    name: str = "latency",
    alpha: float = ALPHA,
) -> Comparison:
    """Are the new side's latencies (ms) greater? Mann-Whitney U, one-sided, on all of them;
    the effect is the p95's growth, which must exceed BOTH ``tolerance_percent`` % and
    ``tolerance_ms`` ms (20% of 5 ms is noise; 10 ms on a 2 s page is too)."""
    if not len(base_ms) or not len(new_ms):
        raise ValueError("both sides need latencies")
    import numpy as np

    st = scipy_stats()
    base, new = np.asarray(base_ms, dtype=float), np.asarray(new_ms, dtype=float)
    p = float(st.mannwhitneyu(new, base, alternative="greater").pvalue)
    p95_base, p95_new = float(np.percentile(base, 95)), float(np.percentile(new, 95))
    delta = p95_new - p95_base
    pct = delta / p95_base * 100 if p95_base > 0 else (math.inf if delta > 0 else 0.0)
    ratio = min(_ratio(pct, tolerance_percent), _ratio(delta, tolerance_ms))
    pct_text = f"{pct:+.0f}%" if math.isfinite(pct) else "from 0"
    text = (
        f"p95 {p95_new:.0f} ms vs {p95_base:.0f} ms ({pct_text}), Mann-Whitney {format_p(p)}"
        f" (tolerance +{tolerance_percent:g}% and +{tolerance_ms:g} ms)"
    )
    return Comparison(
        name, "Mann-Whitney", p, ratio, text,
        {"p95_base_ms": p95_base, "p95_new_ms": p95_new, "delta_ms": delta,
         "delta_percent": pct if math.isfinite(pct) else 1e9,
         "n_base": float(len(base)), "n_new": float(len(new))},
        alpha,
    )  # fmt: skip


# ----------------------------------------------------------------------------- counts over time


def poisson_excess(
    count: int,
    exposure_s: float,
    *,
    base_rate_per_s: float,
    base_count: int | None = None,
    base_exposure_s: float = 0.0,
) -> tuple[str, float]:
    """(test, one-sided p) that ``count`` events in ``exposure_s`` came faster than before.

    With the baseline's own count and exposure: the exact conditional test of two Poisson
    rates (given n = both counts, the new count is Binomial(n, t_new / (t_new + t_base)) when
    the rates are equal; scipy.stats.binomtest), which allows for the baseline being an
    estimate too. With only a rate: the rate is taken as known, P(X >= count) for
    X ~ Poisson(rate x exposure) (scipy.stats.poisson.sf).
    """
    st = scipy_stats()
    if count <= 0:
        return "Poisson", 1.0
    if base_count is not None and base_exposure_s > 0:
        share = exposure_s / (exposure_s + base_exposure_s)
        n = count + base_count
        return "Poisson (conditional binomial)", float(
            st.binomtest(count, n, share, alternative="greater").pvalue
        )
    mu = max(0.0, base_rate_per_s) * exposure_s
    if mu <= 0:
        return "Poisson", 0.0
    return "Poisson", float(st.poisson.sf(count - 1, mu))


# ----------------------------------------------------------------------------- trends


@dataclass(frozen=True)
class Trend:
    """A robust straight-line trend of (seconds, value) points: Theil-Sen with a 95% CI."""

    slope_per_min: float
    low_per_min: float  # the 95% confidence interval of the slope
    high_per_min: float
    points: int
    span_s: float


def theil_sen(points: Sequence[tuple[float, float]]) -> Trend | None:
    """Theil-Sen slope (median of pairwise slopes; scipy.stats.theilslopes) per minute, with its
    95% confidence interval; None under 3 points or with no spread in time."""
    if len(points) < 3:
        return None
    ts = [t for t, _ in points]
    if max(ts) == min(ts):
        return None
    res = scipy_stats().theilslopes([v for _, v in points], ts, alpha=0.95)
    return Trend(
        float(res.slope) * 60, float(res.low_slope) * 60, float(res.high_slope) * 60,
        len(points), max(ts) - min(ts),
    )  # fmt: skip


def block_medians(points: Sequence[tuple[float, float]], block_s: float) -> list[float]:
    """Medians of consecutive ``block_s``-second blocks from the first point (a smoothing that
    a GC sawtooth or one odd sample cannot move); a trailing block under half full is left out."""
    if not points or block_s <= 0:
        return []
    start = points[0][0]
    blocks: dict[int, list[float]] = {}
    for t, v in points:
        blocks.setdefault(int((t - start) // block_s), []).append(v)
    keys = sorted(blocks)
    per_block = max(len(v) for v in blocks.values())
    if len(keys) > 1 and len(blocks[keys[-1]]) * 2 < per_block:
        keys = keys[:-1]
    out = []
    for k in keys:
        vals = sorted(blocks[k])
        mid = len(vals) // 2
        out.append(vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2)
    return out


def rising_fraction(values: Sequence[float]) -> float:
    """Share of consecutive steps that go up (0 with fewer than 2 values)."""
    steps = [b - a for a, b in itertools.pairwise(values)]
    return sum(1 for s in steps if s > 0) / len(steps) if steps else 0.0
