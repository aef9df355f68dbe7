"""VERIFY: run the verification checks (tui.core.health) and journal each as a ``check`` event."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui.core.workflow_host import HostRun


def _baseline(raw: Any) -> dict[int, int] | None:
    if not isinstance(raw, dict):
        return None
    try:
        return {int(k): int(v) for k, v in raw.items()}
    except (TypeError, ValueError):
        return None


# A process that dies within a second of starting (a crash loop) is often online, with no new
# restart yet, when VERIFY runs right after DEPLOY: VERIFY judges the processes only once the
# new ones have had this long to fail.
SETTLE_S = 3.0


async def run_verify(run: HostRun, step: str) -> list[str]:
    """Record one ``check`` event per result on ``run``'s host; return the names of the checks
    that FAILED."""
    from tui.core.health import Verifier  # httpx and friends load when VERIFY first runs

    deployed_at = run.state.get("deployed_at")
    if isinstance(deployed_at, int | float):
        await asyncio.sleep(min(SETTLE_S, max(0.0, deployed_at + SETTLE_S - time.time())))

    verifier = Verifier(run.config, run.transport)
    baseline = _baseline(run.state.get("restarts_baseline"))
    results = await verifier.run_all(restarts_baseline=baseline)
    failed = []
    for r in results:
        run.record("check", step, r.line, data=r.event_data())
        if r.status == "FAIL":
            failed.append(r.name)
    return failed
