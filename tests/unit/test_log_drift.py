"""Log-template drift: silent failures found as new, risen or vanished templates.

The lines look like the demo app's (``<ISO time> LEVEL message``); the old release's logs are
the baseline (10 minutes before DEPLOY at T0), the new release's the watch window.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime

from tui.core.log_buffer import ERROR, WARN
from tui.core.log_drift import (
    NEW,
    RATE,
    VANISHED,
    DriftFinding,
    DriftRules,
    DriftWatch,
    TemplateBaseline,
    TemplateCounts,
    find_drift,
    is_alarm,
)
from tui.core.log_templates import TemplateMiner
from tui.core.redact import Redactor

T0 = datetime(2026, 12, 7, 13, 1, 52, tzinfo=UTC).timestamp()  # the deploy

Extra = Callable[[int, float], list[tuple[str, str]]]  # (request n, ts) -> [(level, message)]


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def traffic(
    start: float, seconds: float, *, seed: int, rps: float = 1.0, extra: Extra | None = None
) -> list[str]:
    """The demo app under ``rps`` requests per second: one INFO line per request (a few
    routes), plus whatever ``extra`` logs for request n."""
    rng = random.Random(seed)
    routes = ["/api/status", "/api/orders/{}", "/health", "/api/items/{}?page=2"]
    out = []
    for n in range(int(seconds * rps)):
        ts = start + n / rps
        route = rng.choice(routes).format(rng.randint(1, 5000))
        ms = rng.uniform(0.4, 40.0)
        out.append(f"{iso(ts)} INFO GET {route} 200 {ms:.1f}ms pid=4242")
        for level, message in extra(n, ts) if extra else ():
            out.append(f"{iso(ts + 0.01)} {level} {message}")
    return out


def every(seconds: int, level: str, message: str, rps: float = 1.0) -> Extra:
    """``message`` once every ``seconds`` (at ``rps`` requests per second)."""
    step = max(1, round(seconds * rps))
    return lambda n, ts: [(level, message.format(n=n))] if n % step == step - 1 else []


def both(*extras: Extra) -> Extra:
    return lambda n, ts: [line for e in extras for line in e(n, ts)]


# What the old release logs besides requests: a slow request now and then, a rare error,
# an order every 6 s.
OLD = both(
    every(120, "WARN", "slow request {n}ms on /api/status"),
    every(120, "ERROR", "boom: simulated failure on GET /boom pid=4242"),
    every(6, "INFO", "order placed id={n} total=12.50"),
)


def baseline_watch(
    extra: Extra = OLD, *, minutes: float = 10.0, seed: int = 1, redact: Redactor | None = None
) -> DriftWatch:
    drift = DriftWatch(redact=redact)
    drift.learn(traffic(T0 - minutes * 60, minutes * 60, seed=seed, extra=extra))
    drift.freeze(now=T0)
    drift.start(T0)
    return drift


def feed(drift: DriftWatch, lines: list[str], until: float | None = None) -> None:
    """Feed lines (with their own times) up to ``until``."""
    chosen = [ln for ln in lines if until is None or ln < iso(until)]
    drift.feed(chosen, arrival=T0)


def kinds(findings: tuple[DriftFinding, ...] | list[DriftFinding]) -> list[tuple[str, str]]:
    return [(f.kind, f.template) for f in findings]


# ----------------------------------------------------------------------------- new


def price_lookup(n: int, ts: float) -> list[tuple[str, str]]:
    # DEMO_SILENT_FAILURE: 200 to the client, a WARN per request in the log
    return [("WARN", f"price lookup failed for sku={1000 + n % 97}, using 0")]


def test_the_silent_failure_is_a_new_template_within_a_minute() -> None:
    drift = baseline_watch()
    assert drift.baseline is not None and drift.baseline.lines > 600
    lines = traffic(T0, 120, seed=2, extra=both(OLD, price_lookup))
    found_at = None
    for second in range(1, 61):
        feed(drift, [ln for ln in lines if iso(T0 + second - 1) <= ln < iso(T0 + second)])
        report = drift.report(T0 + second)
        if report.findings:
            found_at = second
            break
    assert found_at is not None and found_at <= 60
    report = drift.report(T0 + found_at)
    assert report.verdict == "drift"
    assert kinds(report.findings) == [(NEW, "price lookup failed for sku=<NUM>, using <NUM>")]
    (finding,) = report.findings
    assert finding.level == WARN and finding.count == found_at
    assert finding.example == "WARN price lookup failed for sku=1000, using 0"
    assert finding.p_value is None and "count >= 3" in finding.statistic
    assert not is_alarm(finding)  # a WARN never alarms

    # A full minute of it reads as the example.
    feed(drift, [ln for ln in lines if iso(T0 + found_at) <= ln < iso(T0 + 60)])
    (finding,) = drift.report(T0 + 60).findings
    assert finding.description == (
        'new WARN template "price lookup failed for sku=<NUM>, using <NUM>": 60 lines in 60 s,'
        ' first at 13:01:52: "WARN price lookup failed for sku=1000, using 0"'
    )
    assert finding.line().startswith("finding: new WARN template")
    assert finding.to_json()["kind"] == "new"


def test_a_new_error_template_at_five_a_minute_is_an_alarm() -> None:
    drift = baseline_watch()
    failing = every(10, "ERROR", "payment gateway said no for order {n}")  # 6/min
    feed(drift, traffic(T0, 120, seed=3, extra=both(OLD, failing)))
    report = drift.report(T0 + 120)
    (finding,) = report.findings
    assert (finding.kind, finding.level) == (NEW, ERROR)
    assert finding.template == "payment gateway said no for order <NUM>"
    assert 5.5 < finding.rate_after < 6.5
    assert is_alarm(finding) and is_alarm(finding, 5.0)
    assert not is_alarm(finding, 10.0) and not is_alarm(finding, 0)
    assert report.alarms(5.0) == [finding]
    assert finding.line(5.0).startswith("alarm: new ERROR template")


def test_findings_are_redacted() -> None:
    redactor = Redactor(["tok_live_8f3a9c"])
    drift = baseline_watch(redact=redactor)
    leak = every(2, "WARN", "charge retried with key=tok_live_8f3a9c for order {n}")
    feed(drift, traffic(T0, 60, seed=4, extra=both(OLD, leak)))
    (finding,) = drift.report(T0 + 60).findings
    assert "tok_live" not in finding.description + finding.example + finding.template
    assert finding.template == "charge retried with key=*** for order <NUM>"


# ----------------------------------------------------------------------------- rate


def test_an_error_that_goes_from_half_a_line_to_forty_a_minute_is_a_rate_finding() -> None:
    drift = baseline_watch()  # boom: 0.5/min in the old release
    assert drift.baseline is not None
    known = [t for t in drift.baseline.templates if t.text.startswith("boom:")]
    assert [t.count for t in known] == [5]
    boom = ("ERROR", "boom: simulated failure on GET /boom pid=4242")
    burst = both(OLD, lambda n, ts: [boom] * (2 if n % 3 == 0 else 1))
    lines = traffic(T0, 60, seed=5, rps=0.5, extra=burst)  # 30 requests: 40 booms in a minute
    feed(drift, lines)
    report = drift.report(T0 + 60)
    assert kinds(report.findings) == [(RATE, "boom: simulated failure on GET /boom pid=<NUM>")]
    (finding,) = report.findings
    assert finding.count == 40 and finding.level == ERROR
    assert finding.rate_before == 0.5 and finding.rate_after == 40.0
    assert finding.p_value is not None and finding.p_value < 1e-30
    assert finding.statistic.startswith("Poisson sf: 40 lines vs 0.50 expected")
    assert finding.example.startswith("ERROR boom: simulated failure")
    assert "rose from 0.5/min to 40.0/min" in finding.description
    assert not is_alarm(finding)  # only new templates alarm


def test_a_rate_that_rises_with_the_traffic_is_not_a_finding() -> None:
    slow = every(30, "WARN", "slow request {n}ms on /api/status")  # 2/min at 1 req/s
    drift = baseline_watch(slow)
    # Three times the traffic, and the slow requests with it (6/min).
    feed(
        drift,
        traffic(
            T0,
            120,
            seed=6,
            rps=3.0,
            extra=every(30, "WARN", "slow request {n}ms on /api/status", rps=3.0),
        ),
    )
    report = drift.report(T0 + 120)
    assert report.verdict == "clean", report.findings


# ----------------------------------------------------------------------------- vanished


def test_orders_that_stop_while_traffic_goes_on_have_vanished() -> None:
    drift = baseline_watch()  # "order placed" at 10/min
    no_orders = both(every(120, "WARN", "slow request {n}ms on /api/status"))
    feed(drift, traffic(T0, 180, seed=7, extra=no_orders))
    assert drift.report(T0 + 45).verdict == "clean"  # not silent long enough yet
    report = drift.report(T0 + 180)
    assert kinds(report.findings) == [(VANISHED, "order placed id=<NUM> total=<NUM>")]
    (finding,) = report.findings
    assert finding.count == 0 and finding.rate_before == 10.0 and finding.rate_after == 0.0
    assert finding.p_value is not None and finding.p_value < 0.01
    assert "vanished: 10.0/min before, none for 3.0 min (not seen since deploy)" in (
        finding.description
    )
    assert finding.example.startswith("INFO order placed id=")


def test_orders_that_stop_after_a_while_report_when_they_were_last_seen() -> None:
    drift = baseline_watch()
    lines = traffic(T0, 60, seed=8, extra=OLD) + traffic(T0 + 60, 150, seed=9)
    feed(drift, lines)
    (finding,) = drift.report(T0 + 210).findings
    assert finding.kind == VANISHED and finding.count == 10
    assert "last at 13:02:51" in finding.description


def test_nothing_vanishes_when_all_traffic_stops() -> None:
    drift = baseline_watch()
    feed(drift, traffic(T0, 40, seed=10))  # 40 requests, then the app falls silent
    report = drift.report(T0 + 300)
    assert report.judged and report.findings == ()


# ----------------------------------------------------------------------------- healthy, short


def test_a_healthy_release_gives_no_finding() -> None:
    drift = baseline_watch(seed=11)
    lines = traffic(T0, 600, seed=12, extra=OLD)  # the same templates at the same rates
    done = 0.0
    for minute in (1, 2, 5, 10):
        feed(drift, [ln for ln in lines if iso(T0 + done) <= ln < iso(T0 + minute * 60)])
        done = minute * 60
        report = drift.report(T0 + done)
        assert report.verdict == "clean", (minute, report.findings)
        assert "new, rate, vanished judged" in report.note


def test_short_data_gives_no_verdict() -> None:
    # A baseline of 20 s: too short for rates; a watch of 10 s: too short for anything.
    drift = baseline_watch(minutes=20 / 60)
    feed(drift, traffic(T0, 120, seed=13, extra=both(OLD, price_lookup)))
    report = drift.report(T0 + 120)
    assert report.verdict == "no verdict" and report.findings == ()
    assert "baseline has 23 lines (need 30)" in report.note

    drift = baseline_watch()
    feed(drift, traffic(T0, 10, seed=14, extra=both(OLD, price_lookup)))
    report = drift.report(T0 + 10)
    assert not report.judged and report.findings == ()
    assert report.note == "log drift: no verdict: watch ran 10 s (need 30 s)"

    assert not DriftWatch().report(T0).judged  # nothing learned, nothing watched
    # The rules say what they need.
    assert DriftRules().describe()[1] == (
        "WARN/ERROR template rate >= 3x baseline, Poisson p < 0.01, >= 5 lines"
    )


def test_a_baseline_without_timestamps_judges_new_templates_only() -> None:
    drift = DriftWatch()
    old = [ln.split(" ", 1)[1] for ln in traffic(T0 - 600, 600, seed=15, extra=OLD)]
    drift.learn(old)
    baseline = drift.freeze()
    assert not baseline.has_rates and "no timestamps" in baseline.line()
    drift.start(T0)
    feed(drift, traffic(T0, 120, seed=16, extra=both(price_lookup)))  # and no more orders
    report = drift.report(T0 + 120)
    assert kinds(report.findings) == [(NEW, "price lookup failed for sku=<NUM>, using <NUM>")]
    assert "(new judged;" in report.note


# ----------------------------------------------------------------------------- pure parts


def test_the_baseline_survives_the_journal_and_a_new_miner() -> None:
    drift = baseline_watch()
    assert drift.baseline is not None
    raw = json.loads(json.dumps(drift.baseline.to_json()))
    restored = TemplateBaseline.from_json(raw)
    assert restored.lines == drift.baseline.lines and restored.span_s == 600.0
    assert "log templates:" in restored.line()
    # A restarted console: a fresh miner (other ids) still knows the old templates by shape.
    again = DriftWatch(baseline=restored)
    again.start(T0)
    feed(again, traffic(T0, 120, seed=17, extra=OLD))
    assert again.report(T0 + 120).verdict == "clean"
    feed(again, traffic(T0 + 120, 60, seed=18, extra=both(OLD, price_lookup)))
    assert kinds(again.report(T0 + 180).findings) == [
        (NEW, "price lookup failed for sku=<NUM>, using <NUM>")
    ]
    assert TemplateBaseline.from_json(None).lines == 0


def test_find_drift_on_counts_made_by_hand() -> None:
    miner = TemplateMiner()
    before = TemplateCounts()
    for i in range(300):
        ts = T0 - 300 + i
        t = miner.add(ts, ERROR, f"db timeout after {i}ms")
        if i % 30 == 0:
            before.add(t, ts, ERROR, f"db timeout after {i}ms")
        before.add(miner.add(ts, 20, f"GET /api/status 200 {i}ms"), ts, 20, "GET")
    baseline = TemplateBaseline.from_counts(before, end=T0)
    assert baseline.span_s == 300.0 and baseline.lines == 310
    after = TemplateCounts(T0)
    for i in range(60):
        ts = T0 + i
        after.add(miner.add(ts, 20, f"GET /api/status 200 {i}ms"), ts, 20, "GET")
        after.add(miner.add(ts, ERROR, f"db timeout after {i}ms"), ts, ERROR, "db timeout")
    report = find_drift(baseline, after, T0 + 60, DriftRules())
    assert kinds(report.findings) == [(RATE, "db timeout after <NUM>ms")]
    # Stricter rules: a finding needs 100 lines now.
    assert find_drift(baseline, after, T0 + 60, DriftRules(rate_min_count=100)).findings == ()
    # Lines before the watch window are not counted in it.
    after.add(miner.add(T0 - 5, ERROR, "late"), T0 - 5, ERROR, "late")
    assert after.total == 120
