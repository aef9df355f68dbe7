"""The canary judge on samples with known answers (no timing asserts: bench/watch_judge.py)."""

from __future__ import annotations

import random

import pytest

from tui.core.config_models import CanaryConfig
from tui.core.judge import (
    FAIL,
    INCONCLUSIVE,
    MARGINAL,
    PASS,
    JudgeSettings,
    SideWindow,
    check_score,
    judge_step,
)
from tui.core.stats import compare_latency, compare_proportions, format_p, proportion_test


def latencies(n: int, seed: int, *, shift_s: float = 0.0, median_s: float = 0.12) -> list[float]:
    """Request times in seconds, lognormal like real ones (a long right tail)."""
    rng = random.Random(seed)
    return [rng.lognormvariate(-2.12, 0.4) * median_s / 0.12 + shift_s for _ in range(n)]


def side(n: int, errors: int, seed: int, **kw: float) -> SideWindow:
    return SideWindow(n, errors, latencies(n, seed, **kw))


def test_identical_sides_pass() -> None:
    result = judge_step(side(5000, 5, 1), side(5000, 5, 2))
    assert result.verdict == PASS and result.promote
    assert result.score is not None and result.score >= 85
    assert [c.name for c in result.checks] == ["5xx", "latency"]


def test_identical_distributions_rarely_fail_over_20_seeded_trials() -> None:
    verdicts = []
    for trial in range(20):
        rng = random.Random(1000 + trial)
        n_stable, n_canary = 4000, 1000
        # the same 0.5% error rate and the same latency distribution on both sides
        stable = SideWindow(n_stable, sum(rng.random() < 0.005 for _ in range(n_stable)),
                            latencies(n_stable, 2 * trial))  # fmt: skip
        canary = SideWindow(n_canary, sum(rng.random() < 0.005 for _ in range(n_canary)),
                            latencies(n_canary, 2 * trial + 1))  # fmt: skip
        verdicts.append(judge_step(stable, canary).verdict)
    assert verdicts.count(FAIL) <= 1, verdicts
    assert verdicts.count(INCONCLUSIVE) == 0


def test_five_percent_5xx_against_a_tenth_of_a_percent_fails_naming_fisher() -> None:
    result = judge_step(side(2000, 2, 1), side(2000, 100, 2))
    assert result.verdict == FAIL and not result.promote
    assert result.score is not None and result.score < 70
    errors = result.checks[0]
    assert errors.verdict == FAIL and errors.comparison is not None
    assert errors.comparison.test == "Fisher"
    assert "5xx 5.0% vs 0.1%" in errors.reason and "Fisher p < 0.001" in errors.reason
    assert result.checks[1].verdict == PASS  # the latencies are alike
    assert result.line().startswith("canary FAIL (score ")


def test_one_stray_500_does_not_fail_a_step() -> None:
    result = judge_step(side(15000, 0, 1), side(150, 1, 2))
    assert result.verdict != FAIL
    errors = result.checks[0]
    assert errors.comparison is not None and errors.comparison.test == "Fisher"
    assert not errors.comparison.beyond_tolerance  # 0.67 pp < min_error_diff 1 pp


def test_200ms_slower_fails_on_latency_alone() -> None:
    result = judge_step(side(5000, 5, 1), side(5000, 5, 2, shift_s=0.2))
    assert result.verdict == FAIL
    errors, latency = result.checks
    assert errors.verdict == PASS and latency.verdict == FAIL
    assert "Mann-Whitney p < 0.001" in latency.reason and "p95 " in latency.reason
    assert result.reasons[1] == latency.reason


def test_2ms_slower_passes_even_when_significant() -> None:
    assert judge_step(side(5000, 5, 1), side(5000, 5, 2, shift_s=0.002)).verdict == PASS
    # On fast requests (30 ms) 2 ms is clearly significant, and still within the tolerance.
    fast = judge_step(side(5000, 5, 1, median_s=0.03), side(5000, 5, 2, median_s=0.03,
                                                         shift_s=0.002))  # fmt: skip
    latency = fast.checks[1]
    assert latency.comparison is not None and latency.comparison.significant
    assert not latency.comparison.beyond_tolerance
    assert fast.verdict == PASS and "within the tolerance" in latency.reason


def test_thirty_requests_are_inconclusive_and_say_what_is_missing() -> None:
    result = judge_step(side(5000, 5, 1), side(30, 0, 2))
    assert result.verdict == INCONCLUSIVE and result.score is None and not result.promote
    assert "the canary had 30 requests, needs 100" in result.reasons[0]
    no_traffic = judge_step(SideWindow(0, 0), SideWindow(0, 0))
    assert no_traffic.verdict == INCONCLUSIVE and not no_traffic.promote


def test_missing_latencies_never_promote_but_errors_still_fail() -> None:
    stable, canary = SideWindow(2000, 2), SideWindow(2000, 2)
    result = judge_step(stable, canary)
    assert result.verdict == INCONCLUSIVE
    assert "the canary had 0 latencies, needs 100" in result.reasons[1]
    bad = judge_step(stable, SideWindow(2000, 100))
    assert bad.verdict == FAIL and bad.score is not None


def test_large_tables_use_the_z_test() -> None:
    assert proportion_test(50_000, 50, 50_000, 400)[0] == "two-proportion z"
    assert proportion_test(50_000, 0, 150, 1)[0] == "Fisher"  # an expected count under 5
    assert proportion_test(2000, 2, 2000, 100)[0] == "Fisher"
    result = judge_step(side(50_000, 50, 1), side(50_000, 1500, 2))
    assert result.verdict == FAIL and "two-proportion z" in result.reasons[0]


def test_score_falls_with_strength_and_threshold_moves_the_verdict() -> None:
    small = compare_latency([100.0] * 50 + [110.0] * 50, [104.0] * 50 + [114.0] * 50,
                            tolerance_percent=20, tolerance_ms=10)  # fmt: skip
    big = compare_latency([100.0] * 50 + [110.0] * 50, [300.0] * 100,
                          tolerance_percent=20, tolerance_ms=10)  # fmt: skip
    assert check_score(big) < 70 <= check_score(small)
    at_tolerance = compare_proportions(10_000, 0, 10_000, 100, min_diff=0.01)
    assert at_tolerance.effect_ratio == pytest.approx(1.0)
    assert check_score(at_tolerance) == pytest.approx(70.0)  # alpha and tolerance: 70
    stable, canary = side(2000, 2, 1), side(2000, 20, 2)  # +0.9 pp: within the tolerance
    assert judge_step(stable, canary).verdict in (PASS, MARGINAL)
    strict = JudgeSettings(threshold=95.0)
    assert judge_step(stable, canary, strict).verdict == FAIL


def test_settings_from_canary_config_and_units() -> None:
    settings = JudgeSettings.from_config(CanaryConfig(min_requests=10, min_error_diff=0.05))
    assert settings.min_requests == 10 and settings.min_error_diff == 0.05
    assert settings.threshold == CanaryConfig().threshold == 70.0
    ms = [v * 1000 for v in latencies(500, 3)]
    slow = [v * 1000 + 200 for v in latencies(500, 4)]
    result = judge_step(SideWindow(500, 0, ms), SideWindow(500, 0, slow), unit="ms")
    assert result.verdict == FAIL
    with pytest.raises(ValueError):
        judge_step(side(200, 0, 1), side(200, 0, 2), unit="min")
    with pytest.raises(ValueError):
        SideWindow(10, 11)
    data = result.to_json()
    assert data["verdict"] == FAIL and data["checks"][1]["comparison"]["test"] == "Mann-Whitney"


def test_format_p() -> None:
    assert format_p(0.0001) == "p < 0.001"
    assert format_p(0.0099) == "p = 0.0099"
    assert format_p(0.62) == "p = 0.62"
