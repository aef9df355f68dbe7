"""VERIFY: run the verification checks (tui.core.health) and journal each as a ``check`` event."""

from __future__ import annotations

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


async def run_verify(run: HostRun, step: str) -> list[str]:
    """Record one ``check`` event per result on ``run``'s host; return the names of the checks
    that FAILED."""
    from tui.core.health import Verifier  # httpx and friends load when VERIFY first runs

    verifier = Verifier(run.config, run.transport)
    baseline = _baseline(run.state.get("restarts_baseline"))
    results = await verifier.run_all(restarts_baseline=baseline)
    failed = []
    for r in results:
        run.record("check", step, r.line, data=r.event_data())
        if r.status == "FAIL":
            failed.append(r.name)
    return failed
