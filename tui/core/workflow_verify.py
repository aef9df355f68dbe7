"""VERIFY: run the verification checks (tui.core.health) and journal each as a ``check`` event.

health.py is imported lazily so the workflow still loads where it is missing; then a minimal
built-in pair of checks (processes online, served version) stands in and says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tui.core.workflow_prove import prove_paths, wait_for_version

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
    try:
        from tui.core.health import Verifier
    except ImportError:
        return await _basic_checks(wf, step)
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


async def _basic_checks(wf: Workflow, step: str) -> list[str]:
    wf.journal.record(
        kind="note", host=wf.host.name, step=step, deployment_id=wf.deployment_id,
        message="tui.core.health is not available: basic checks only",
    )  # fmt: skip
    failed = []
    paths, _ = await prove_paths(wf.cmd, wf.config, step, wf._release_dir())
    expected = wf.deployment.to_version if wf.deployment else ""
    ok, detail = (
        await wait_for_version(wf.transport, wf.config, expected, deadline_s=5, consecutive=2)
        if expected else (True, "no version to compare")
    )  # fmt: skip
    for name, passed, text in (("Processes", paths.ok, paths.detail), ("API Status", ok, detail)):
        status = "PASS" if passed else "FAIL"
        wf.journal.record(
            kind="check", host=wf.host.name, step=step, deployment_id=wf.deployment_id,
            message=f"{name}: {status} {text}", data={"name": name, "status": status,
                                                      "detail": text},
        )  # fmt: skip
        if not passed:
            failed.append(name)
    return failed
