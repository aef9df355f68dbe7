"""The checklist's state rebuilt from the journal: check events, sign-offs and overrides.

A deployment's checklist is what was recorded for it, on top of what was recorded "pre-flight"
(deployment_id NULL: the pane before BACKUP, a headless `shipdeck check`) since the previous
deployment of the app ended. Older pre-flight rows are stale: they belong to an earlier deploy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tui.core.checklist import CHECK_STEP, ItemResult, ItemState
from tui.core.journal import Deployment, Journal, Override


@dataclass(frozen=True)
class Scope:
    """Which journal rows belong to a checklist: the deployment's, and pre-flight ones newer
    than ``since``."""

    deployment_id: int | None
    since: float


def current_deployment(journal: Journal, app: str) -> Deployment | None:
    """The app's newest unfinished deployment: the one the checklist belongs to right now."""
    found = journal.unfinished_deployments(app)
    return found[0] if found else None


def scope_for(journal: Journal, app: str, deployment_id: int | None) -> Scope:
    dep = journal.deployment(deployment_id) if deployment_id is not None else None
    before = dep.started_at if dep is not None else float("inf")
    since = 0.0
    for other in journal.deployments(app, limit=None):
        if other.id == deployment_id or other.ended_at is None:
            continue
        if other.ended_at <= before:
            since = max(since, other.ended_at)
    return Scope(deployment_id, since)


def _in_scope(scope: Scope, deployment_id: int | None, ts: float) -> bool:
    if deployment_id is None:
        return ts > scope.since
    return scope.deployment_id is not None and deployment_id == scope.deployment_id


def _rank(deployment_id: int | None, ts: float) -> tuple[int, float]:
    # The deployment's own rows win over pre-flight ones; newer wins within each.
    return (0 if deployment_id is None else 1, ts)


def load_results(journal: Journal, scope: Scope) -> dict[str, ItemResult]:
    """item id -> its latest recorded result (check events and sign-offs)."""
    best: dict[str, tuple[tuple[int, float], ItemResult]] = {}

    def offer(item_id: str, rank: tuple[int, float], result: ItemResult) -> None:
        if item_id not in best or rank >= best[item_id][0]:
            best[item_id] = (rank, result)

    for ev in journal.events(kinds=["check"]):
        if ev.step != CHECK_STEP or not _in_scope(scope, ev.deployment_id, ev.ts):
            continue
        data: Mapping[str, Any] = ev.data
        item_id = str(data.get("item") or "")
        try:
            state = ItemState(str(data.get("state")))
        except ValueError:
            continue
        if not item_id or state in (ItemState.RUNNING, ItemState.SIGNED):
            continue
        offer(item_id, _rank(ev.deployment_id, ev.ts), ItemResult(
            item_id, state, summary=str(data.get("summary") or ""), detail=ev.output_tail,
            ts=ev.ts, duration=ev.duration, signable=bool(data.get("signable")),
            data={k: v for k, v in data.items() if k not in ("item", "state", "summary")},
        ))  # fmt: skip
    signed: dict[str, ItemResult] = {}
    for so in _sign_off_rows(journal, scope):
        state = {"signed": ItemState.SIGNED, "skipped": ItemState.SKIPPED}.get(so.state)
        if state is None:  # revoked: back to pending, unless a newer check says otherwise
            why = f"sign-off revoked by {so.who}"
            result = ItemResult(so.item_id, ItemState.PENDING, summary=why)
        else:
            summary = so.note if state == ItemState.SKIPPED else ""
            result = ItemResult(
                so.item_id, state, summary=summary, ts=so.ts, who=so.who, note=so.note,
                link=so.link,
            )  # fmt: skip
        offer(so.item_id, _rank(so.deployment_id, so.ts), result)
        if state == ItemState.SIGNED:
            signed[so.item_id] = result
        else:
            signed.pop(so.item_id, None)
    found = {item_id: result for item_id, (_, result) in best.items()}
    for item_id, result in found.items():
        # A later run of a check that cannot judge the item does not undo a person's sign-off.
        if result.state == ItemState.PENDING and result.signable and item_id in signed:
            found[item_id] = signed[item_id]
    return found


def _sign_off_rows(journal: Journal, scope: Scope) -> list[Any]:
    rows = [s for s in journal.sign_offs(None) if s.ts > scope.since]
    if scope.deployment_id is not None:
        rows += journal.sign_offs(scope.deployment_id)
    return sorted(rows, key=lambda s: (s.deployment_id is not None, s.ts, s.id))


def overrides_in(journal: Journal, scope: Scope, gate: str) -> list[Override]:
    rows = [o for o in journal.overrides(None) if o.gate == gate and o.ts > scope.since]
    if scope.deployment_id is not None:
        rows += [o for o in journal.overrides(scope.deployment_id) if o.gate == gate]
    return rows
