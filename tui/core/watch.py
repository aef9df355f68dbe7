"""The post-deploy watch: after DEPLOY, sample the release for ``[policy] watch_minutes`` and
raise an alarm when it misbehaves compared with how the old release behaved.

Every ``[policy] watch_interval_s`` one round runs the Verifier's checks (health, API status,
error logs, processes, memory) plus: the error rate per minute against the pre-deploy baseline,
restarts since the watch began, memory per process against the baseline (and its trend), and
health latency p50/p95 over the window. Each round is a ``check`` event and each alarm an
``alarm`` event in the journal (step "watch"), with the numbers in ``data``; the console and
the timeline are views of those. Rounds never overlap: the next one is scheduled only after the
current one finished.

    await baseline_for_workflow(wf)                         # right after wf.backup()
    watch = watch_for_workflow(wf, on_sample=..., on_alarm=...)   # after DEPLOY (and VERIFY)
    result = await watch.run()                              # in a worker; cancel() stops it
    if watch.confirm_unlocked: ...                          # only after a clean completion
    # else CONFIRM needs an override: override_watch(journal, dep_id, typed_reason);
    # confirm_gate(journal, dep_id) tells the workflow either way, from the journal

Without a Workflow: ``sample_baseline(verifier)`` and ``Watch(config, verifier, journal,
deployment_id=..., baseline=..., restarts_baseline=..., rollback=...)``. A restarted console
learns how a deployment's watch ended from ``watch_outcome(journal, deployment_id)``.

With ``[policy] auto_rollback`` the watch calls ``rollback(reason)`` itself on the first alarm,
journals why, and stops. Without it the alarm is reported (callback + journal) and the watch
keeps sampling until its window ends; the operator decides (``watch.roll_back(reason)``).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, timezone
from typing import Any

from tui.core.config import Config
from tui.core.health import Verifier
from tui.core.journal import Journal
from tui.core.pm2 import Pm2Error
from tui.core.transport import Transport, TransportError
from tui.core.transport_errors import one_line
from tui.core.verify_checks import ERRORS, app_processes, log_files
from tui.core.watch_rules import (
    RULES,
    Alarm,
    AlarmRules,
    RuleState,
    TailedFile,
    WatchBaseline,
    WatchSample,
    by_name,
    judge,
    latency_ms,
    new_restarts,
    parse_offset,
    percentile,
    process_numbers,
    rate_from_timestamps,
    slope_per_minute,
    unhealthy_parts,
)

__all__ = [
    "ALARMED",
    "CANCELLED",
    "CLEAN",
    "RULES",
    "RUNNING",
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

STEP = "watch"
PENDING, RUNNING, CLEAN, ALARMED, CANCELLED = (
    "pending",
    "running",
    "completed-clean",
    "alarmed",
    "cancelled",
)

# How much of the logs the baseline reads (per file), and over how long a span it averages.
BASELINE_LINES = 1000
BASELINE_WINDOW_S = 600.0
# Without timestamps in the logs the baseline measures for this long instead.
BASELINE_SAMPLE_S = 10.0
# Samples kept for the charts and percentiles: 15 min at 10 s is 90; this leaves headroom.
MAX_SAMPLES = 2000
COMMAND_TIMEOUT_S = 20.0

ErrorRateSource = Callable[[], "float | Awaitable[float | None] | None"]
Rollback = Callable[[str], Awaitable[Any]]


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


# ----------------------------------------------------------------------------- log growth


@dataclass
class _Offset:
    offset: int = -1  # -1 = not yet measured: the first read only notes the size
    pending: str = ""  # a line the app had not finished writing


# For each "path offset" pair: the file's size now, then its bytes from offset to that size
# (the last CAP bytes if more grew; from 0 if the file shrank: rotated or truncated).
_GROWTH_SH = r"""
cap=$1; tag=$2; shift 2
while [ "$#" -ge 2 ]; do
  f=$1; o=$2; shift 2
  s=$(stat -c %s -- "$f" 2>/dev/null) || s=-1
  printf '%s %s %s\n' "$tag" "$s" "$f"
  [ "$s" -ge 0 ] && [ "$o" -ge 0 ] || continue
  [ "$s" -ge "$o" ] || o=0
  n=$((s - o))
  if [ "$n" -gt "$cap" ]; then tail -c "$cap" -- "$f" | head -c "$cap"
  elif [ "$n" -gt 0 ]; then tail -c +$((o + 1)) -- "$f" | head -c "$n"
  fi
  printf '\n'
done
"""


class LogErrorCounter:
    """Counts new error lines in the app's log files between calls, by byte offset.

    One command per call for all files; only the new bytes travel (capped per file). Used for
    the error rate when the console's log follower is not there to give it.
    """

    def __init__(
        self,
        transport: Transport,
        pattern: str,
        *,
        cap_bytes: int = 512 * 1024,
    ) -> None:
        self.transport = transport
        self.regex = re.compile(pattern)
        self.cap_bytes = cap_bytes
        self.files: dict[str, _Offset] = {}
        self.truncated = False  # the last call read only the tail of a burst: a lower bound

    async def count(self, paths: Sequence[str]) -> int | None:
        """Error lines written since the previous call (0 on the first call for a file: it
        only notes where the file ends). None when the files could not be read."""
        if not paths:
            return None
        for p in paths:
            self.files.setdefault(p, _Offset())
        tag = "@@shipdeck-" + secrets.token_hex(6)
        argv = ["sh", "-c", _GROWTH_SH, "sh", str(self.cap_bytes), tag]
        for p in paths:
            argv += [p, str(self.files[p].offset)]
        try:
            result = await self.transport.run(argv, timeout=COMMAND_TIMEOUT_S)
        except TransportError:
            return None
        if not result.ok:
            return None
        return self._parse(result.stdout, tag)

    def _parse(self, out: str, tag: str) -> int:
        errors = 0
        self.truncated = False
        chunks = re.split(rf"(?m)^{re.escape(tag)} (-?\d+) (.*)\n", out)
        # chunks: [before, size, path, body, size, path, body, ...]
        for i in range(1, len(chunks) - 2, 3):
            size, path, body = int(chunks[i]), chunks[i + 1], chunks[i + 2]
            state = self.files.setdefault(path, _Offset())
            body = body[:-1] if body.endswith("\n") else body  # the separator printf
            if size < 0:
                continue
            if state.offset < 0:
                state.offset = size
                continue
            grown = size - state.offset if size >= state.offset else size
            if grown > self.cap_bytes:
                self.truncated = True
                body = body.split("\n", 1)[1] if "\n" in body else ""  # first line is cut
                state.pending = ""
            text = state.pending + body
            complete, _, state.pending = text.rpartition("\n")
            state.offset = size
            if complete:
                errors += sum(1 for line in complete.split("\n") if self.regex.search(line))
        return errors


# ----------------------------------------------------------------------------- the baseline


_TAIL_SH = r"""
n=$1; tag=$2; shift 2
date '+%s %z'
for f; do
  c=$(tail -n "$n" -- "$f" 2>/dev/null | wc -l) || c=-1
  printf '%s %s %s\n' "$tag" "$c" "$f"
  tail -n "$n" -- "$f" 2>/dev/null
done
"""


async def _tail_files(
    transport: Transport, paths: Sequence[str], lines: int
) -> tuple[float, timezone, list[TailedFile]] | None:
    tag = "@@shipdeck-" + secrets.token_hex(6)
    argv = ["sh", "-c", _TAIL_SH, "sh", str(lines), tag, *paths]
    try:
        result = await transport.run(argv, timeout=COMMAND_TIMEOUT_S)
    except TransportError:
        return None
    if not result.ok:
        return None
    first, _, rest = result.stdout.partition("\n")
    try:
        now_text, tz_text = first.split()
        now = float(now_text)
    except ValueError:
        return None
    tz = parse_offset(tz_text) or UTC
    chunks = re.split(rf"(?m)^{re.escape(tag)} (-?\d+) .*\n", rest)
    files = []
    for i in range(1, len(chunks) - 1, 2):
        count, body = int(chunks[i]), chunks[i + 1]
        if count < 0:
            continue
        files.append(TailedFile(tuple(body.splitlines()), complete=count < lines))
    return now, tz, files


async def sample_baseline(
    verifier: Verifier,
    *,
    journal: Journal | None = None,
    deployment_id: int | None = None,
    step: str = "backup",
    lines: int = BASELINE_LINES,
    window_s: float = BASELINE_WINDOW_S,
    sample_s: float = BASELINE_SAMPLE_S,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> WatchBaseline:
    """How the live (old) release behaves, for the watch to compare against. Call it during
    BACKUP. Never raises for host trouble: what cannot be read is left out and said so.

    Error rate: from the timestamps of the last ``lines`` lines of each log file (errors per
    minute over up to ``window_s``); logs without timestamps are measured for ``sample_s``
    instead. Restarts and memory: per pm2 process of the app, from one ``pm2 jlist``.
    """
    config, transport = verifier.config, verifier.transport
    try:
        snap = await verifier.snapshot()
    except (Pm2Error, TransportError) as err:
        baseline = WatchBaseline(detail=f"pm2 not readable: {one_line(err)}")
        _journal_baseline(journal, verifier, deployment_id, step, baseline)
        return baseline
    mine = app_processes(snap.processes, config.app.name)
    restarts = {p.pm_id: p.restarts for p in mine}
    memory = {p.pm_id: p.memory_bytes for p in mine if p.status == "online" and p.memory_bytes}
    paths = log_files(mine)
    rate, source, detail = 0.0, "none", "no log files"
    if paths:
        tailed = await _tail_files(transport, paths, lines)
        found = None
        if tailed is not None:
            now, tz, files = tailed
            found = rate_from_timestamps(
                files, config.logs.error_pattern, now, window_s=window_s, default_tz=tz
            )
        if found is not None:
            rate, detail = found
            source = "timestamps"
        else:
            counter = LogErrorCounter(transport, config.logs.error_pattern)
            await counter.count(paths)
            t0 = time.monotonic()
            await sleep(sample_s)
            errors = await counter.count(paths)
            if errors is None:
                detail = "logs not readable"
            else:
                span = max(sample_s, time.monotonic() - t0)
                rate, source = errors * 60.0 / span, "sample"
                detail = f"{errors} error line(s) in a {span:.0f} s sample"
    baseline = WatchBaseline(rate, restarts, memory, source, detail)
    _journal_baseline(journal, verifier, deployment_id, step, baseline)
    return baseline


def _journal_baseline(
    journal: Journal | None,
    verifier: Verifier,
    deployment_id: int | None,
    step: str,
    baseline: WatchBaseline,
) -> None:
    if journal is None:
        return
    journal.record(
        kind="check", host=_host(verifier), step=step, deployment_id=deployment_id,
        message=f"watch {baseline.line()}" + (f"; {baseline.detail}" if baseline.detail else ""),
        data={"watch_baseline": baseline.to_json()},
    )  # fmt: skip


def _host(verifier: Verifier) -> str:
    host = getattr(verifier.transport, "host", None)
    return str(getattr(host, "name", "") or "")


# ----------------------------------------------------------------------------- the watch


@dataclass
class _Window:
    """What the watch accumulates: samples for the charts, latencies for the percentiles,
    error counts for the rate, memory for the trend."""

    samples: deque[WatchSample] = field(default_factory=lambda: deque(maxlen=MAX_SAMPLES))
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=MAX_SAMPLES))
    errors: deque[tuple[float, int]] = field(default_factory=deque)  # (elapsed, new errors)
    memory: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=MAX_SAMPLES))


class Watch:
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
    ) -> None:
        policy = config.policy
        self.config = config
        self.verifier = verifier
        self.journal = journal
        self.deployment_id = deployment_id
        self.baseline = baseline
        self.clock = clock
        self.sleep = sleep
        self.error_rate_source = error_rate_source
        self.on_sample = on_sample
        self.on_alarm = on_alarm
        self.rollback = rollback
        self.rules = rules or AlarmRules.from_config(config)  # [policy.alarms]
        self.duration_s = float(policy.watch_minutes * 60 if duration_s is None else duration_s)
        self.interval_s = float(policy.watch_interval_s if interval_s is None else interval_s)
        self.auto_rollback = policy.auto_rollback if auto_rollback is None else auto_rollback
        self.auto_rollback_source = auto_rollback_source  # who said to roll back by itself
        # Restarts count from the watch's start (a reload itself counts as one in pm2): the
        # workflow's post-DEPLOY counts if given, else the first round's.
        self.restarts_baseline = dict(restarts_baseline) if restarts_baseline else None
        self.host = _host(verifier)
        self.counter = LogErrorCounter(verifier.transport, config.logs.error_pattern)
        self.window = _Window()
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
        self._record(
            "note",
            f"watch started: {self.duration_s / 60:g} min, a sample every {self.interval_s:g} s;"
            f" {self.baseline.line()}; auto-rollback {'on' if self.auto_rollback else 'off'}",
            data={"duration_s": self.duration_s, "interval_s": self.interval_s,
                  "auto_rollback": self.auto_rollback, "baseline": self.baseline.to_json(),
                  "rules": self.rules.describe()},
        )  # fmt: skip

    async def run(self) -> WatchResult:
        """Sample until the window ends (or, with auto-rollback, until the first alarm).
        Cancelling the task that runs this ends the watch as "cancelled"."""
        self.start()
        self._task = asyncio.current_task()  # type: ignore[assignment]
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
        """One round: checks, numbers, journal event, rules, callbacks."""
        results = await self.verifier.run_all(restarts_baseline=self.restarts_baseline)
        elapsed = self.clock() - (self.started_at if self.started_at is not None else 0.0)
        restarts, memory = process_numbers(results)
        if self.restarts_baseline is None:
            self.restarts_baseline = dict(restarts)
        rate = await self._error_rate(results, elapsed)
        sample = self._make_sample(results, elapsed, restarts, memory, rate)
        self.window.samples.append(sample)
        self._record("check", sample.line(self.expected_samples), data=sample.to_json())
        if self.on_sample is not None:
            self.on_sample(sample)
        for alarm in judge(sample, self.baseline, self.rules, self._rule_state):
            await self._alarm(alarm)
            if self.state != RUNNING:
                break
        return sample

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
            win.memory.append((elapsed, mean_mem / (1024 * 1024)))
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

    async def _error_rate(self, results: list[Any], elapsed: float) -> float | None:
        """Errors per minute now: from the console's log follower when given, else from the
        growth of the log files since the previous round (errors in the last 60 s)."""
        if self.error_rate_source is not None:
            value = self.error_rate_source()
            if inspect.isawaitable(value):
                value = await value
            return None if value is None else float(value)
        errors = by_name(results).get(ERRORS)
        paths = list((errors.data.get("files") or {}).keys()) if errors is not None else []
        count = await self.counter.count(paths)
        if count is None:
            return None
        win = self.window.errors
        win.append((elapsed, count))
        while win and win[0][0] <= elapsed - 60.0:
            win.popleft()
        return float(sum(c for _, c in win))

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
                  "confirm_unlocked": state == CLEAN},
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


async def baseline_for_workflow(workflow: Any, **kwargs: Any) -> WatchBaseline:
    """Right after ``workflow.backup()`` (the old release is still live): sample the baseline,
    journal it, and keep it in the deployment's data so a restarted console finds it."""
    verifier = Verifier(workflow.config, workflow.transport)
    dep_id = workflow.deployment_id
    baseline = await sample_baseline(
        verifier, journal=workflow.journal, deployment_id=dep_id, **kwargs
    )
    if dep_id is not None:
        workflow.journal.update_deployment(dep_id, data={"watch_baseline": baseline.to_json()})
    return baseline


def watch_for_workflow(workflow: Any, **kwargs: Any) -> Watch:
    """The watch of the workflow's open deployment, after DEPLOY (and VERIFY): the baseline
    from BACKUP, restarts counted from the end of DEPLOY, and the workflow's own rollback.
    ``kwargs`` go to ``Watch`` (on_sample, on_alarm, error_rate_source, duration_s, ...)."""
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
