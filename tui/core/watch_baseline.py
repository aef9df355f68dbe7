"""The pre-deploy baseline the watch compares the new release against: how the live (old)
release behaves, sampled during BACKUP.

Rule: sampling never raises for host trouble; what cannot be read is left out and said so in
the baseline's detail, and the baseline is journaled (and kept in the deployment's data).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, timezone
from typing import Any

from tui.core.health import Verifier, log_streams
from tui.core.journal import Journal
from tui.core.log_drift import DriftWatch, TemplateBaseline
from tui.core.log_filter import Classifier
from tui.core.pm2 import Pm2Error
from tui.core.redact import Redactor
from tui.core.transport import Transport, TransportError
from tui.core.transport_errors import one_line
from tui.core.verify_checks import app_processes, log_files
from tui.core.watch_logs import COMMAND_TIMEOUT_S, LogErrorCounter
from tui.core.watch_rules import (
    TailedFile,
    WatchBaseline,
    errors_from_timestamps,
    parse_offset,
)
from tui.core.workflow_steps import WorkflowError

__all__ = [
    "STEP",
    "baseline_before_deploy",
    "baseline_for_workflow",
    "host_name",
    "sample_baseline",
    "sample_latencies",
]

STEP = "watch"  # the journal step of what the watch records (its baseline's own notes too)

# How much of the logs the baseline reads (per file), and over how long a span it averages.
# Log drift needs 2 minutes of the old release's lines: at 50 lines/s that is 6,000 lines.
BASELINE_LINES = 10000
BASELINE_WINDOW_S = 600.0
# Without timestamps in the logs the baseline measures for this long instead.
BASELINE_SAMPLE_S = 10.0
# Health probes of the old release for the latency rule (it needs 20: watch_stats), this far
# apart, for at most this long (alone: nothing else of ours runs meanwhile, as in the watch).
BASELINE_PROBES = 30
BASELINE_PROBE_GAP_S = 0.2
BASELINE_PROBE_MAX_S = 15.0


# The host's time and UTC offset (for log stamps without a zone), then per file a tag line with
# the number of lines it gave (-1: unreadable) and those last lines.
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
    transport: Transport, paths: Sequence[str], lines: int, streams: Mapping[str, str]
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
    chunks = re.split(rf"(?m)^{re.escape(tag)} (-?\d+) (.*)\n", rest)
    files = []
    for i in range(1, len(chunks) - 2, 3):
        count, path, body = int(chunks[i]), chunks[i + 1], chunks[i + 2]
        if count < 0:
            continue
        files.append(
            TailedFile(tuple(body.splitlines()), complete=count < lines, path=path,
                       stream=streams.get(path, "out"))
        )  # fmt: skip
    return now, tz, files


async def sample_latencies(
    verifier: Verifier,
    *,
    probes: int = BASELINE_PROBES,
    gap_s: float = BASELINE_PROBE_GAP_S,
    max_s: float = BASELINE_PROBE_MAX_S,
) -> tuple[float, ...]:
    """Latencies (ms) of up to ``probes`` health probes of the live release, ``gap_s`` apart,
    for at most ``max_s``: what the watch's latency rule compares the new release's probes
    with. The first probe is left out (it may open the SSH forward); failed probes too."""
    found: list[float] = []

    async def probe_all() -> None:
        for i in range(probes + 1):
            result = await verifier.check_health()
            value = result.data.get("latency_ms")
            if i > 0 and not result.failed and isinstance(value, int | float):
                found.append(float(value))
            await asyncio.sleep(gap_s)

    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max_s):
            await probe_all()
    return tuple(found)


async def sample_baseline(
    verifier: Verifier,
    *,
    journal: Journal | None = None,
    deployment_id: int | None = None,
    step: str = "backup",
    lines: int = BASELINE_LINES,
    window_s: float = BASELINE_WINDOW_S,
    sample_s: float = BASELINE_SAMPLE_S,
    probes: int = BASELINE_PROBES,
    probe_gap_s: float = BASELINE_PROBE_GAP_S,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> WatchBaseline:
    """How the live (old) release behaves, for the watch to compare against. Call it during
    BACKUP. Never raises for host trouble: what cannot be read is left out and said so.

    Error rate: from the timestamps of the last ``lines`` lines of each log file (errors per
    minute over up to ``window_s``, and that span); logs without timestamps are measured for
    ``sample_s`` instead. An error is a line the Classifier of ``[logs]`` puts at ERROR.
    Restarts and memory: per pm2 process of the app, from one ``pm2 jlist``. Latencies: up to
    ``probes`` health probes ``probe_gap_s`` apart (``sample_latencies``), alone at the end.
    Log templates: the tails mined into a ``TemplateBaseline`` (log_drift), in ``templates``.
    """
    config, transport = verifier.config, verifier.transport
    try:
        snap = await verifier.snapshot()
    except (Pm2Error, TransportError) as err:
        baseline = WatchBaseline(
            detail=f"pm2 not readable: {one_line(err)}",
            latencies_ms=await sample_latencies(verifier, probes=probes, gap_s=probe_gap_s),
        )
        _journal_baseline(journal, verifier, deployment_id, step, baseline)
        return baseline
    classifier = Classifier.from_config(config.logs)
    mine = app_processes(snap.processes, config.app.name)
    restarts = {p.pm_id: p.restarts for p in mine}
    memory = {p.pm_id: p.memory_bytes for p in mine if p.status == "online" and p.memory_bytes}
    paths = log_files(mine)
    streams = log_streams(mine)
    rate, source, detail, span = 0.0, "none", "no log files", 0.0
    templates: dict[str, Any] | None = None
    if paths:
        tailed = await _tail_files(transport, paths, lines, streams)
        found = None
        if tailed is not None:
            now, tz, files = tailed
            found = errors_from_timestamps(files, classifier, now, window_s=window_s, default_tz=tz)
            templates = _templates(files, classifier, journal, config, now, tz, window_s)
        if found is not None:
            errors, span, detail = found
            rate, source = errors * 60.0 / span, "timestamps"
        else:
            counter = LogErrorCounter(transport, classifier, streams=streams)
            await counter.count(paths)
            t0 = time.monotonic()
            await sleep(sample_s)
            errors = await counter.count(paths)
            if errors is None:
                detail = "logs not readable"
            else:
                span = max(float(sample_s), time.monotonic() - t0)
                rate, source = errors * 60.0 / span, "sample"
                detail = f"{errors} error line(s) in a {span:.0f} s sample"
    # Last, alone: the watch's probes are taken alone too (Verifier.run_all(health_first=True)).
    lat = await sample_latencies(verifier, probes=probes, gap_s=probe_gap_s)
    if not lat:
        detail += "; no health-probe latencies (the latency rule gives no verdict)"
    baseline = WatchBaseline(rate, restarts, memory, source, detail, span, lat, templates)
    _journal_baseline(journal, verifier, deployment_id, step, baseline)
    return baseline


def _templates(
    files: Sequence[TailedFile],
    classifier: Classifier,
    journal: Journal | None,
    config: Any,
    now: float,
    tz: timezone,
    window_s: float,
) -> dict[str, Any]:
    """The old release's log templates over the last ``window_s`` of the tails (log_drift), as
    JSON; examples are redacted (the journal's redactor, else one from the config)."""
    redact = journal.redactor if journal is not None else Redactor.from_config(config)
    drift = DriftWatch(classifier, redact=redact, tz=tz)
    for f in files:
        drift.learn(f.lines, stream=f.stream, complete=f.complete)
    return drift.freeze(now=now, window_s=window_s).to_json()


def _journal_baseline(
    journal: Journal | None,
    verifier: Verifier,
    deployment_id: int | None,
    step: str,
    baseline: WatchBaseline,
) -> None:
    if journal is None:
        return
    message = f"watch {baseline.line()}" + (f"; {baseline.detail}" if baseline.detail else "")
    if baseline.templates is not None:
        message += "; " + TemplateBaseline.from_json(baseline.templates).line()
    journal.record(
        kind="check", host=host_name(verifier), step=step, deployment_id=deployment_id,
        message=message, data={"watch_baseline": baseline.to_json()},
    )  # fmt: skip


def host_name(verifier: Verifier) -> str:
    """The name of the host the verifier reads ("" when its transport has none)."""
    host = getattr(verifier.transport, "host", None)
    return str(getattr(host, "name", "") or "")


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


async def baseline_before_deploy(workflow: Any) -> WatchBaseline | None:
    """Right after BACKUP, for the console and the headless deploy alike: sample the baseline
    (``baseline_for_workflow``) unless the watch is off (``[policy] watch_minutes`` = 0). A
    failure is journaled as a note and None returned, not raised: without a baseline the watch
    still runs, judging against an empty one."""
    if workflow.config.policy.watch_minutes <= 0:
        return None
    try:
        return await baseline_for_workflow(workflow)
    except (WorkflowError, TransportError, OSError, ValueError) as err:
        workflow.journal.record(
            kind="note", step=STEP, deployment_id=workflow.deployment_id,
            message=f"watch baseline not sampled: {err}",
        )  # fmt: skip
        return None
