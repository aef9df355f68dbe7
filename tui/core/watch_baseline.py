"""The pre-deploy baseline the watch compares the new release against: how the live (old)
release behaves, sampled during BACKUP.

Rule: sampling never raises for host trouble; what cannot be read is left out and said so in
the baseline's detail, and the baseline is journaled (and kept in the deployment's data).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, timezone
from typing import Any

from tui.core.health import Verifier
from tui.core.journal import Journal
from tui.core.pm2 import Pm2Error
from tui.core.transport import Transport, TransportError
from tui.core.transport_errors import one_line
from tui.core.verify_checks import app_processes, log_files
from tui.core.watch_logs import COMMAND_TIMEOUT_S, LogErrorCounter
from tui.core.watch_rules import TailedFile, WatchBaseline, parse_offset, rate_from_timestamps
from tui.core.workflow_steps import WorkflowError

__all__ = [
    "STEP",
    "baseline_before_deploy",
    "baseline_for_workflow",
    "host_name",
    "sample_baseline",
]

STEP = "watch"  # the journal step of what the watch records (its baseline's own notes too)

# How much of the logs the baseline reads (per file), and over how long a span it averages.
BASELINE_LINES = 1000
BASELINE_WINDOW_S = 600.0
# Without timestamps in the logs the baseline measures for this long instead.
BASELINE_SAMPLE_S = 10.0


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
        kind="check", host=host_name(verifier), step=step, deployment_id=deployment_id,
        message=f"watch {baseline.line()}" + (f"; {baseline.detail}" if baseline.detail else ""),
        data={"watch_baseline": baseline.to_json()},
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
