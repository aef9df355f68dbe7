"""The post-deploy watch engine: after DEPLOY, sample the release every ``[policy]
watch_interval_s`` for ``[policy] watch_minutes`` and raise an alarm when it misbehaves compared
with the pre-deploy baseline (watch_baseline).

Each round records the series (memory, error lines, health-probe latency, restarts, health) and
judges all of it so far with ``watch_rules.judge_series`` (statistics that a fresh Node heap
cannot fool, "no verdict" on short data); the new log lines feed the log-drift judgement
(``log_drift.DriftWatch``: templates the old release never logged, rates that rose, lines that
vanished) against the old release's templates from the baseline.

Rules: each round, each drift finding and each alarm is journaled (step "watch") before it is
shown, and rounds never overlap. CONFIRM is unlocked only by a watch that completed clean, or
by an override with a typed reason (``confirm_gate``, from the journal, so it survives a
restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tui.core.config import Config
from tui.core.health import Verifier
from tui.core.journal import Journal
from tui.core.log_buffer import ERROR, WARN
from tui.core.log_drift import DriftFinding, DriftReport, DriftWatch, TemplateBaseline
from tui.core.log_filter import Classifier
from tui.core.stats import scipy_stats
from tui.core.transport_errors import one_line
from tui.core.verify_checks import ERRORS
from tui.core.watch_baseline import STEP, baseline_for_workflow, host_name, sample_baseline
from tui.core.watch_logs import LogErrorCounter, LogGrowth
from tui.core.watch_rules import (
    MIB,
    RULE_ERRORS,
    RULES,
    SCALE_CPU_PERCENT,
    SUGGEST,
    Alarm,
    AlarmRules,
    Judgement,
    RuleState,
    SeriesRecorder,
    WatchBaseline,
    WatchSample,
    alarms_from,
    by_name,
    judge_scale_series,
    judge_series,
    latency_ms,
    new_restarts,
    percentile,
    process_cpu,
    process_numbers,
    slope_per_minute,
    unhealthy_parts,
)

# The baseline and the log counter are importable from here too (screens, headless, tests).
__all__ = [
    "ALARMED",
    "CANCELLED",
    "CLEAN",
    "FINDING",
    "RULES",
    "RULE_DRIFT",
    "RUNNING",
    "STEP",
    "SUGGESTION",
    "Alarm",
    "AlarmRules",
    "ConfirmGate",
    "LogErrorCounter",
    "Watch",
    "WatchBaseline",
    "WatchResult",
    "WatchSample",
    "baseline_for_workflow",
    "confirm_gate",
    "override_watch",
    "sample_baseline",
    "watch_for_workflow",
    "watch_outcome",
]

PENDING, RUNNING, CLEAN, ALARMED, CANCELLED = (
    "pending",
    "running",
    "completed-clean",
    "alarmed",
    "cancelled",
)

# Samples kept for the charts and percentiles: 15 min at 10 s is 90; this leaves headroom.
MAX_SAMPLES = 2000
# The journal kind of a log-drift finding (one event per finding: its kind and template).
FINDING = "finding"
# The journal kind of a scale suggestion ("suggestion: pm2 scale APP +N: why").
SUGGESTION = "suggestion"
# The alarm rule of a log-drift finding that crosses [policy.alarms] new_templates_alarm.
RULE_DRIFT = "log_drift"
_ALARM_LEVELS = {"error": ERROR, "warn": WARN}

# New error lines since the previous call (None = unknown this round).
ErrorCountSource = Callable[[], "int | Awaitable[int | None] | None"]
# Errors per minute now (the console's log follower: log_filter.ErrorRate.per_minute).
ErrorRateSource = Callable[[], "float | Awaitable[float | None] | None"]
Rollback = Callable[[str], Awaitable[Any]]
# Scale the app to this many processes (``pm2 scale APP N``): given by whoever owns the backend.
Scale = Callable[[int], Awaitable[Any]]


@dataclass(frozen=True)
class WatchResult:
    state: str  # PENDING | RUNNING | CLEAN | ALARMED | CANCELLED
    samples: int
    alarms: tuple[Alarm, ...]
    message: str  # one line
    rolled_back: bool = False
    rollback_error: str = ""

    @property
    def clean(self) -> bool:
        return self.state == CLEAN


@dataclass
class _Window:
    """What the watch accumulates: samples for the charts, latencies for the percentiles,
    error counts for the rate, memory for the trend."""

    samples: deque[WatchSample] = field(default_factory=lambda: deque(maxlen=MAX_SAMPLES))
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=MAX_SAMPLES))
    errors: deque[tuple[float, int]] = field(default_factory=deque)  # (elapsed, new errors)
    memory: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=MAX_SAMPLES))


class Watch:
    """The watch of one deployment. ``run()`` it in a worker (``cancel()`` stops it); CONFIRM
    may follow when ``confirm_unlocked``. For a Workflow, ``watch_for_workflow`` builds it.

    With auto-rollback (``[policy] auto_rollback``) the first alarm calls ``rollback(reason)``,
    journals why, and ends the watch. Without it an alarm is reported (callback and journal)
    and sampling goes on to the end of the window: the operator decides (``roll_back``).
    """

    def __init__(
        self,
        config: Config,
        verifier: Verifier,
        journal: Journal,
        *,
        deployment_id: int | None,
        baseline: WatchBaseline,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        error_count_source: ErrorCountSource | None = None,
        error_rate_source: ErrorRateSource | None = None,
        on_sample: Callable[[WatchSample], None] | None = None,
        on_alarm: Callable[[Alarm], None] | None = None,
        rollback: Rollback | None = None,
        rules: AlarmRules | None = None,
        duration_s: float | None = None,
        interval_s: float | None = None,
        auto_rollback: bool | None = None,
        restarts_baseline: Mapping[int, int] | None = None,
        auto_rollback_source: str = "policy.auto_rollback",
        scale: Scale | None = None,
        auto_scale: bool | None = None,
    ) -> None:
        policy = config.policy
        self.config = config
        self.verifier = verifier
        self.journal = journal
        self.deployment_id = deployment_id
        self.baseline = baseline
        self.clock = clock
        self.sleep = sleep
        # Error lines for the rule: new ones per round (the console's log follower may give
        # them), else the log files' growth. The errors/min the sample line and the chart show:
        # the log follower's own figure when given (error_rate_source), else the last minute's.
        self.error_count_source = error_count_source
        self.error_rate_source = error_rate_source
        self.on_sample = on_sample
        self.on_alarm = on_alarm
        self.rollback = rollback
        self.rules = rules or AlarmRules.from_config(config)  # [policy.alarms]
        self.duration_s = float(policy.watch_minutes * 60 if duration_s is None else duration_s)
        self.interval_s = float(policy.watch_interval_s if interval_s is None else interval_s)
        self.auto_rollback = policy.auto_rollback if auto_rollback is None else auto_rollback
        self.auto_rollback_source = auto_rollback_source  # who said to roll back by itself
        # Scale suggestions: journaled; with auto_scale also done through ``scale`` (the watch
        # never runs pm2 itself), never for a release whose error rate alarmed.
        self.scale = scale
        self.auto_scale = policy.auto_scale if auto_scale is None else auto_scale
        self.max_instances = policy.max_instances
        self.scale_cooldown_s = policy.scale_cooldown_s
        self.suggestions: list[Judgement] = []
        self._last_suggestion_s: float | None = None
        self._online: frozenset[int] = frozenset()
        # Restarts count from the watch's start (a reload itself counts as one in pm2): the
        # workflow's post-DEPLOY counts if given, else the first round's.
        self.restarts_baseline = dict(restarts_baseline) if restarts_baseline else None
        self.host = host_name(verifier)
        classifier = Classifier.from_config(config.logs)
        self.counter = LogErrorCounter(verifier.transport, classifier)
        self.window = _Window()
        # The series the rules judge (t = seconds since the watch began) and their last verdicts.
        self.recorder = SeriesRecorder()
        self.judgements: list[Judgement] = []
        # Log drift against the old release's templates (None: the baseline has none).
        alarms_cfg = config.policy.alarms
        self.new_templates_alarm = float(alarms_cfg.new_templates_alarm)
        self.new_templates_level = _ALARM_LEVELS.get(alarms_cfg.new_templates_alarm_level, ERROR)
        self.drift: DriftWatch | None = None
        if baseline.templates is not None:
            self.drift = DriftWatch(
                classifier, redact=journal.redactor,
                baseline=TemplateBaseline.from_json(baseline.templates),
            )  # fmt: skip
        self.drift_report: DriftReport | None = None
        self.findings: list[DriftFinding] = []
        self._finding_keys: set[tuple[str, int]] = set()
        self._restarts_seen = 0
        self.alarms: list[Alarm] = []
        self.state = PENDING
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.rolled_back = False
        self.rollback_error = ""
        self._rule_state = RuleState()
        self._task: asyncio.Task[WatchResult] | None = None
        self._rolling_back = False
        self._stopping = False

    # -- what the console reads ---------------------------------------------------------------

    @property
    def samples(self) -> Sequence[WatchSample]:
        return self.window.samples

    @property
    def expected_samples(self) -> int:
        return int(self.duration_s // self.interval_s) + 1 if self.interval_s > 0 else 1

    def elapsed_s(self) -> float:
        if self.started_at is None:
            return 0.0
        end = self.ended_at if self.ended_at is not None else self.clock()
        return max(0.0, min(self.duration_s, end - self.started_at))

    def remaining_s(self) -> float:
        return max(0.0, self.duration_s - self.elapsed_s())

    @property
    def confirm_unlocked(self) -> bool:
        """CONFIRM may go ahead only after a watch that completed without an alarm."""
        return self.state == CLEAN

    def result(self) -> WatchResult:
        return WatchResult(
            self.state, len(self.window.samples), tuple(self.alarms), self._message(),
            self.rolled_back, self.rollback_error,
        )  # fmt: skip

    def _message(self) -> str:
        n = len(self.window.samples)
        if self.state == CLEAN:
            return f"watch completed clean: {n} samples over {self.duration_s / 60:g} min"
        if self.state == ALARMED:
            causes = "; ".join(a.cause for a in self.alarms)
            tail = " (rolled back)" if self.rolled_back else ""
            if self.rollback_error:
                tail = f" (rollback failed: {self.rollback_error})"
            return f"watch alarmed: {causes}{tail}"
        if self.state == CANCELLED:
            return f"watch cancelled after {n} samples"
        if self.state == RUNNING:
            return f"watching: {n} samples, {self.remaining_s():.0f} s left"
        return "watch not started"

    # -- running ------------------------------------------------------------------------------

    def start(self) -> None:
        """Mark the start (the countdown runs from here) and journal it. ``run()`` calls this;
        call it yourself only to drive rounds by hand with ``sample_once()``."""
        if self.state != PENDING:
            raise RuntimeError(f"this watch already ran ({self.state})")
        self.state = RUNNING
        self.started_at = self.clock()
        if self.drift is not None:
            drift_rules = self.drift.rules.describe()
            alarm = self._drift_alarm_words()
            assert self.drift.baseline is not None
            drift_text = f"log drift against {self.drift.baseline.line()}; {alarm}"
        else:
            drift_rules, alarm = [], ""
            drift_text = "log drift: no verdict (no log templates of the old release)"
        baseline = self.baseline.to_json()
        baseline.pop("templates", None)  # in the deployment's data and the BACKUP event already
        self._record(
            "note",
            f"watch started: {self.duration_s / 60:g} min, a sample every {self.interval_s:g} s;"
            f" {self.baseline.line()}; {drift_text}; auto-rollback"
            f" {'on' if self.auto_rollback else 'off'}",
            data={"duration_s": self.duration_s, "interval_s": self.interval_s,
                  "auto_rollback": self.auto_rollback, "baseline": baseline,
                  "rules": self.rules.describe_series(), "drift_rules": drift_rules,
                  "drift_alarm": alarm, "scale": self._scale_words()},
        )  # fmt: skip

    def _scale_words(self) -> str:
        how = "scaled by the watch" if self.auto_scale else "suggested (auto_scale off)"
        return (
            f"pm2 scale {self.config.app.name} +N {how} when latency trends up on processes"
            f" over {SCALE_CPU_PERCENT:g}% CPU and errors are ok; up to {self.max_instances},"
            f" once per {self.scale_cooldown_s:g} s"
        )

    def _drift_alarm_words(self) -> str:
        if self.new_templates_alarm <= 0:
            return "drift findings never alarm (new_templates_alarm = 0)"
        level = "ERROR" if self.new_templates_level >= ERROR else "WARN or ERROR"
        return f"a new {level} template at >= {self.new_templates_alarm:g}/min alarms"

    async def run(self) -> WatchResult:
        """Sample until the window ends (or, with auto-rollback, until the first alarm).
        Cancelling the task that runs this ends the watch as "cancelled"."""
        self.start()
        self._task = asyncio.current_task()  # type: ignore[assignment]
        # The rules' statistics need scipy.stats (1-2 s to import): import it in a thread now,
        # not in the first round that needs it, where it would stall the console's loop.
        importer = asyncio.ensure_future(asyncio.to_thread(scipy_stats))
        importer.add_done_callback(lambda f: f.cancelled() or f.exception())
        try:
            await self._loop()
        except asyncio.CancelledError:
            if self._stopping and self._task is not None:
                # Our own stop after an operator's rollback: the watch ended, it was not killed.
                self._task.uncancel()
                return self.result()
            if self.state == RUNNING:
                self._finish(CANCELLED)
            raise
        except Exception as err:
            # A bug or a broken journal: the watch did not complete, so CONFIRM stays locked.
            with contextlib.suppress(Exception):
                self._record("note", f"watch stopped by an error: {one_line(err)}")
                self._finish(CANCELLED)
            self.state = CANCELLED
            raise
        if self.state == RUNNING:
            self._finish(ALARMED if self.alarms else CLEAN)
        return self.result()

    def cancel(self) -> None:
        """Stop the watch (the operator left, or rolled back by hand)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        elif self.state == PENDING:
            self.state = CANCELLED

    async def _loop(self) -> None:
        assert self.started_at is not None
        end = self.started_at + self.duration_s
        next_at = self.started_at
        while True:
            await self.sample_once()
            if self.state != RUNNING:
                return  # rolled back
            now = self.clock()
            if now >= end:
                return
            next_at += self.interval_s
            while next_at <= now:
                next_at += self.interval_s  # a slow round: skip, never overlap or burst
            await self.sleep(min(next_at, end) - now)

    async def sample_once(self) -> WatchSample:
        """One round: the Verifier's checks (health, API status, error logs, processes,
        memory) and the log files' new lines; then the series so far judged by every rule
        (``judge_series``) and the new lines by the log-drift judgement. The round is a
        ``check`` event (its numbers and every rule's judgement in ``data``), each drift finding
        a ``finding`` event (once), each alarm an ``alarm`` event: the console and the timeline
        are views of those."""
        results = await self._run_checks()
        elapsed = self.clock() - (self.started_at if self.started_at is not None else 0.0)
        restarts, memory = process_numbers(results)
        if self.restarts_baseline is None:
            self.restarts_baseline = dict(restarts)
        growth = await self._read_logs(results)
        count = await self._error_count(growth)
        rate = await self._errors_per_minute(elapsed, count)
        sample = self._make_sample(results, elapsed, restarts, memory, rate)
        self.window.samples.append(sample)
        instances, cpu = process_cpu(results)
        online = frozenset(memory)
        if sample.new_restarts > self._restarts_seen or (self._online and online - self._online):
            # A fresh process (a restart, or one scaled up): its warm-up starts again.
            self.recorder.restarted(elapsed)
        self._restarts_seen = max(self._restarts_seen, sample.new_restarts)
        self._online = online or self._online
        self.recorder.add(
            elapsed,
            memory_mb=sample.memory_bytes / MIB or None,
            errors=count,
            latencies_ms=[sample.health_latency_ms] if sample.health_latency_ms is not None
            else [],
            restarts=sample.new_restarts if restarts else None,
            unhealthy=sample.unhealthy,
            cpu_percent=cpu,
        )  # fmt: skip
        series = self.recorder.series()
        self.judgements = judge_series(series, self.baseline, self.rules, now=elapsed)
        errors_judged = next(j for j in self.judgements if j.rule == RULE_ERRORS)
        scale = judge_scale_series(
            series, self.baseline, self.rules, elapsed, errors=errors_judged,
            instances=instances, max_instances=self.max_instances,
        )  # fmt: skip
        self.judgements.append(scale)
        report = self._judge_drift(growth)
        data = sample.to_json()
        data["judgements"] = [j.to_json() for j in self.judgements]
        if report is not None:
            data["drift"] = {"verdict": report.verdict, "note": report.note,
                             "findings": len(report.findings)}  # fmt: skip
        self._record("check", sample.line(self.expected_samples), data=data)
        if self.on_sample is not None:
            self.on_sample(sample)
        new_findings = [f for f in (report.findings if report else ())
                        if f.key not in self._finding_keys]  # fmt: skip
        for finding in new_findings:
            self._finding_keys.add(finding.key)
            self.findings.append(finding)
            self._record(FINDING, finding.line(), data=finding.to_json())
        await self._suggest(scale, elapsed, instances)
        alarms = alarms_from(self.judgements, self._rule_state, sample.index)
        alarms += self._drift_alarms(report, sample.index)
        for alarm in alarms:
            await self._alarm(alarm)
            if self.state != RUNNING:
                break
        return sample

    async def _run_checks(self) -> list[Any]:
        """The Verifier's round, its health probe alone first (its latency is what the latency
        rule judges against the baseline's probes, also taken alone)."""
        return await self.verifier.run_all(
            restarts_baseline=self.restarts_baseline, health_first=True
        )

    def _make_sample(
        self,
        results: list[Any],
        elapsed: float,
        restarts: dict[int, int],
        memory: dict[int, int],
        rate: float | None,
    ) -> WatchSample:
        win = self.window
        lat = latency_ms(results)
        if lat is not None:
            win.latencies.append(lat)
        mean_mem = sum(memory.values()) / len(memory) if memory else 0.0
        if mean_mem:
            win.memory.append((elapsed, mean_mem / MIB))
        base_mem = self.baseline.mean_memory_bytes
        change = (mean_mem / base_mem - 1.0) if (base_mem and mean_mem) else None
        lats = list(win.latencies)
        return WatchSample(
            index=len(win.samples) + 1,
            elapsed_s=elapsed,
            checks=tuple(results),
            unhealthy=unhealthy_parts(results),
            health_latency_ms=lat,
            latency_p50_ms=percentile(lats, 50),
            latency_p95_ms=percentile(lats, 95),
            errors_per_minute=rate,
            new_restarts=new_restarts(restarts, self.restarts_baseline or {}),
            memory_bytes=mean_mem,
            memory_change=change,
            memory_trend_mb_per_min=slope_per_minute(list(win.memory)),
        )

    async def _read_logs(self, results: list[Any]) -> LogGrowth | None:
        """The log files' new lines since the previous round (the files the Error Check read,
        each with its stream), with the host's clock. None when unreadable or unknown."""
        errors = by_name(results).get(ERRORS)
        files = dict(errors.data.get("files") or {}) if errors is not None else {}
        for path, info in files.items():
            stream = info.get("stream") if isinstance(info, dict) else None
            if stream in ("out", "err"):
                self.counter.streams[path] = stream
        if self.error_count_source is not None and self.drift is None:
            return None  # the count comes from elsewhere and no drift reads the lines
        return await self.counter.read(list(files))

    async def _error_count(self, growth: LogGrowth | None) -> int | None:
        """New error lines this round: from ``error_count_source`` when given (the console's
        log follower), else from the log files' growth."""
        if self.error_count_source is not None:
            value = self.error_count_source()
            if inspect.isawaitable(value):
                value = await value
            return None if value is None else int(value)
        return None if growth is None else growth.errors

    async def _errors_per_minute(self, elapsed: float, count: int | None) -> float | None:
        """Errors per minute for the sample line and the chart (the rule judges the series):
        ``error_rate_source``'s when given, else the error lines of the last 60 s."""
        if self.error_rate_source is not None:
            value = self.error_rate_source()
            if inspect.isawaitable(value):
                value = await value
            return None if value is None else float(value)
        if count is None:
            return None
        win = self.window.errors
        win.append((elapsed, count))
        while win and win[0][0] <= elapsed - 60.0:
            win.popleft()
        return float(sum(c for _, c in win))

    # -- scale --------------------------------------------------------------------------------

    async def _suggest(self, judged: Judgement, elapsed: float, instances: int) -> None:
        """Journal a scale suggestion (at most once per ``scale_cooldown_s``) and, with
        auto_scale, scale through the callback. Never once the error rate alarmed."""
        if judged.verdict != SUGGEST or RULE_ERRORS in self._rule_state.fired:
            return
        last = self._last_suggestion_s
        if last is not None and elapsed - last < self.scale_cooldown_s:
            return
        self._last_suggestion_s = elapsed
        add = int(judged.value or 1)
        target = instances + add
        command = f"pm2 scale {self.config.app.name} +{add}"
        self.suggestions.append(judged)
        why = judged.line.split(": ", 2)[-1] if judged.line.count(": ") >= 2 else judged.line
        self._record(
            SUGGESTION, f"suggestion: {command} ({instances} -> {target} instances): {why}",
            data={**judged.to_json(), "command": command, "add": add, "instances": instances,
                  "target": target, "auto_scale": self.auto_scale},
        )  # fmt: skip
        if not self.auto_scale:
            return
        if self.scale is None:
            self._record("note", "auto_scale is on but no scale was given to the watch")
            return
        self._record("action", f"auto-scale (policy.auto_scale): {command}",
                     data={"add": add, "target": target, "auto": True})  # fmt: skip
        try:
            await self.scale(target)
        except Exception as err:  # the scale reports its own failure; the watch goes on
            self._record("note", f"watch: auto-scale failed: {one_line(err)}",
                         data={"target": target, "error": one_line(err)})  # fmt: skip
            return
        self._record("note", f"watch: scaled to {target} instances", data={"target": target})
        self.recorder.restarted(elapsed)  # new processes: fresh heaps and a cold JIT

    # -- log drift ----------------------------------------------------------------------------

    def _judge_drift(self, growth: LogGrowth | None) -> DriftReport | None:
        drift = self.drift
        if drift is None or growth is None or growth.host_now is None:
            return self.drift_report
        drift.tz = growth.host_tz
        if drift.watch is None:
            drift.start(growth.host_now)  # lines from here on are the new release's
        for path, lines in growth.lines.items():
            drift.feed(lines, stream=self.counter.streams.get(path, "out"),
                       arrival=growth.host_now)  # fmt: skip
        self.drift_report = drift.report(growth.host_now)
        return self.drift_report

    def _drift_alarms(self, report: DriftReport | None, index: int) -> list[Alarm]:
        """The first finding that crosses ``new_templates_alarm`` (one drift alarm a watch)."""
        if report is None or RULE_DRIFT in self._rule_state.fired:
            return []
        hits = report.alarms(self.new_templates_alarm, self.new_templates_level)
        if not hits:
            return []
        f = max(hits, key=lambda h: (h.level, h.rate_after))
        self._rule_state.fired.add(RULE_DRIFT)
        cause = (
            f"log drift: {f.description}; {f.rate_after:.1f}/min >= {self.new_templates_alarm:g}"
            f"/min of a new {f.level_name} template ({f.statistic})"
        )
        return [Alarm(RULE_DRIFT, cause, f.rate_after, self.new_templates_alarm, index)]

    async def _alarm(self, alarm: Alarm) -> None:
        self.alarms.append(alarm)
        self._record("alarm", f"ALARM: {alarm.cause}", data=alarm.to_json())
        if self.on_alarm is not None:
            self.on_alarm(alarm)
        if self.auto_rollback and self.rollback is not None and not self._rolling_back:
            self._record(
                "action", f"auto-rollback ({self.auto_rollback_source}): {alarm.cause}",
                data={"reason": alarm.cause, "rule": alarm.rule, "auto": True},
            )  # fmt: skip
            await self._do_rollback(f"watch alarm: {alarm.cause}")
        elif self.auto_rollback and self.rollback is None:
            self._record("note", "auto-rollback is on but no rollback was given to the watch")

    async def roll_back(self, reason: str) -> WatchResult:
        """The operator's rollback from the alarm banner (after the confirm modal): journal it,
        stop sampling (a reload mid-rollback would read as restarts and failures), run the
        rollback. The watch ends as alarmed, or cancelled if nothing had alarmed."""
        if self.rollback is None:
            raise RuntimeError("no rollback was given to this watch")
        self._record("action", f"rollback from the watch: {reason}", data={"reason": reason})
        self._finish(ALARMED if self.alarms else CANCELLED)
        task = self._task
        if task is not None and task is not asyncio.current_task() and not task.done():
            self._stopping = True
            task.cancel()
            await asyncio.wait([task])
        await self._do_rollback(reason)
        return self.result()

    async def _do_rollback(self, reason: str) -> None:
        assert self.rollback is not None
        self._rolling_back = True
        # Shielded: cancelling the watch (the operator left the screen) must not cut a rollback
        # in half; it goes on and journals its own end.
        job = asyncio.ensure_future(self.rollback(reason))
        try:
            await asyncio.shield(job)
            self.rolled_back = True
            self._record("note", "watch: rollback done", data={"reason": reason})
        except asyncio.CancelledError:
            if not job.done():
                self._record("note", "watch cancelled; the rollback it started goes on")
            raise
        except Exception as err:  # the rollback reports its own failure; say it here too
            self.rollback_error = one_line(err)
            self._record("alarm", f"watch: rollback failed: {self.rollback_error}",
                         data={"reason": reason, "error": self.rollback_error})  # fmt: skip
        finally:
            self._rolling_back = False
        self._finish(ALARMED if self.alarms else CANCELLED)

    def _finish(self, state: str) -> None:
        if self.state not in (PENDING, RUNNING):
            return
        self.state = state
        self.ended_at = self.clock()
        self._record(
            "note", self._message(),
            data={"result": state, "samples": len(self.window.samples),
                  "alarms": [a.to_json() for a in self.alarms], "rolled_back": self.rolled_back,
                  "findings": len(self.findings), "confirm_unlocked": state == CLEAN},
        )  # fmt: skip

    def _record(self, kind: str, message: str, data: Mapping[str, Any] | None = None) -> None:
        self.journal.record(
            kind=kind, host=self.host, step=STEP, deployment_id=self.deployment_id,
            message=message, data=data,
        )  # fmt: skip


def watch_outcome(journal: Journal, deployment_id: int) -> str | None:
    """How the last watch of a deployment ended, from the journal (survives a restart):
    CLEAN, ALARMED, CANCELLED, RUNNING (started, no end: the console died), or None."""
    state = None
    for event in journal.events(deployment_id=deployment_id, kinds=["note"]):
        if event.step != STEP:
            continue
        if event.message.startswith("watch started"):
            state = RUNNING
        elif event.data.get("result") in (CLEAN, ALARMED, CANCELLED):
            state = str(event.data["result"])
    return state


# ----------------------------------------------------------------------------- with the workflow


def watch_for_workflow(workflow: Any, **kwargs: Any) -> Watch:
    """The watch of the workflow's open deployment, after DEPLOY (and VERIFY): the baseline
    from BACKUP, restarts counted from the end of DEPLOY, and the workflow's own rollback.
    ``kwargs`` go to ``Watch`` (on_sample, on_alarm, error_count_source, duration_s, ...)."""
    dep = workflow.journal.deployment(workflow.deployment_id)
    data = dict(dep.data) if dep is not None else {}
    raw = data.get("restarts_baseline")
    try:
        restarts = {int(k): int(v) for k, v in dict(raw or {}).items()} or None
    except (TypeError, ValueError):
        restarts = None
    kwargs.setdefault("baseline", WatchBaseline.from_json(data.get("watch_baseline")))
    kwargs.setdefault("restarts_baseline", restarts)
    kwargs.setdefault("rollback", workflow.rollback)
    return Watch(
        workflow.config,
        Verifier(workflow.config, workflow.transport),
        workflow.journal,
        deployment_id=workflow.deployment_id,
        **kwargs,
    )


WATCH_GATE = "watch"


@dataclass(frozen=True)
class ConfirmGate:
    """Whether CONFIRM may go ahead as far as the watch is concerned, from the journal."""

    unlocked: bool
    outcome: str | None  # watch_outcome(): CLEAN, ALARMED, CANCELLED, RUNNING or None
    message: str  # one line for the console and the headless printer
    override_reason: str = ""


def confirm_gate(journal: Journal, deployment_id: int) -> ConfirmGate:
    """CONFIRM is unlocked by a watch that completed clean, or by an operator's override of the
    "watch" gate with a typed reason (``override_watch``)."""
    outcome = watch_outcome(journal, deployment_id)
    if outcome == CLEAN:
        return ConfirmGate(True, outcome, "the watch completed without an alarm")
    overrides = [o for o in journal.overrides(deployment_id) if o.gate == WATCH_GATE]
    if overrides:
        last = overrides[-1]
        return ConfirmGate(
            True, outcome, f"watch overridden by {last.who}: {last.reason}", last.reason
        )
    why = {
        None: "the post-deploy watch has not run",
        RUNNING: "the post-deploy watch is still running (or its console died)",
        ALARMED: "the post-deploy watch raised an alarm",
        CANCELLED: "the post-deploy watch was cancelled",
    }.get(outcome, f"the post-deploy watch is {outcome}")
    return ConfirmGate(False, outcome, f"CONFIRM locked: {why} (override needs a typed reason)")


def override_watch(journal: Journal, deployment_id: int, reason: str) -> ConfirmGate:
    """The operator confirms without a clean watch: the typed reason is journaled (ValueError
    without one)."""
    override = journal.override(deployment_id, WATCH_GATE, reason)
    journal.record(
        kind="action", step=STEP, deployment_id=deployment_id,
        message=f"watch gate overridden by {override.who}: {override.reason}",
        data={"override": WATCH_GATE, "reason": override.reason},
    )  # fmt: skip
    return confirm_gate(journal, deployment_id)
