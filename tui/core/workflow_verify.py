"""VERIFY: run the verification checks (tui.core.health) and journal each as a ``check`` event."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui.core.workflow import Workflow


def _baseline(raw: Any) -> dict[int, int] | None:
    if not isinstance(raw, dict):
        return None
    try:
        return {int(k): int(v) for k, v in raw.items()}
    except (TypeError, ValueError):
        return None


async def run_verify(wf: Workflow, step: str) -> list[str]:
    """Record one ``check`` event per result; return the names of the checks that FAILED."""
    from tui.core.health import Verifier  # httpx and friends load when VERIFY first runs

    verifier = Verifier(wf.config, wf.transport)
    results = await verifier.run_all(restarts_baseline=_baseline(wf.data.get("restarts_baseline")))
    failed = []
    for r in results:
        wf.journal.record(
            kind="check", host=wf.host.name, step=step, deployment_id=wf.deployment_id,
            message=r.line, data={"name": r.name, "status": r.status, "detail": r.detail},
        )  # fmt: skip
        if r.status == "FAIL":
            failed.append(r.name)
    return failed
