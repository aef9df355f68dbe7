"""The gate in front of DEPLOY: every required item passed or signed, and the policy window open.

Either half may be overridden by an operator with a typed reason (``override_gate``): the
reason goes to the journal's overrides table (gate "checklist" or "policy") and a ``note``
event, so the timeline shows it, and the changelog line (which lists the deployment's
overrides) carries it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from tui.core.checklist import (
    CHECK_STEP,
    SATISFIED,
    ChecklistItem,
    ItemResult,
    item_line,
)
from tui.core.checklist_state import Scope, overrides_in
from tui.core.journal import Journal, Override

CHECKLIST_GATE = "checklist"
POLICY_GATE = "policy"


@dataclass(frozen=True)
class GateDecision:
    open: bool
    blocking: list[str]  # one line per required item not passed or signed
    policy_violations: list[str]
    warnings: list[str] = field(default_factory=list)  # optional items, commits ahead, ...
    overridden: dict[str, str] = field(default_factory=dict)  # gate -> reason (the latest)

    @property
    def checklist_ok(self) -> bool:
        return not self.blocking or CHECKLIST_GATE in self.overridden

    @property
    def policy_ok(self) -> bool:
        return not self.policy_violations or POLICY_GATE in self.overridden

    def overrides(self) -> str:
        """The overrides in force as one line ("" when none)."""
        return "; ".join(f"{g} overridden: {r}" for g, r in self.overridden.items())

    def message(self) -> str:
        """One line for the operator."""
        if self.open:
            extra = self.overrides()
            return "gate open" + (f" ({extra})" if extra else "")
        parts = []
        if not self.checklist_ok:
            parts.append(f"{len(self.blocking)} checklist item(s) not passed or signed")
        if not self.policy_ok:
            parts.append("; ".join(self.policy_violations))
        return "DEPLOY refused: " + "; ".join(parts) + " (override with a typed reason)"

    def to_json(self) -> dict[str, object]:
        return {
            "open": self.open, "blocking": self.blocking,
            "policy_violations": self.policy_violations, "warnings": self.warnings,
            "overridden": self.overridden,
        }  # fmt: skip


class Gate:
    @staticmethod
    def evaluate(
        items: Sequence[ChecklistItem],
        results: Mapping[str, ItemResult],
        *,
        deployment_id: int | None,
        policy_violations: Iterable[str] = (),
        warnings: Iterable[str] = (),
        overrides: Iterable[Override] = (),
    ) -> GateDecision:
        blocking: list[str] = []
        notes = list(warnings)
        for item in items:
            result = results.get(item.id)
            if result is not None and result.state in SATISFIED:
                continue
            if item.by_deployment and deployment_id is None:
                continue  # pre-flight: the deployment's own steps will satisfy it
            (notes if item.optional else blocking).append(item_line(item, result))
        overridden = {o.gate: o.reason for o in overrides}
        violations = list(policy_violations)
        is_open = (not blocking or CHECKLIST_GATE in overridden) and (
            not violations or POLICY_GATE in overridden
        )
        return GateDecision(is_open, blocking, violations, notes, overridden)


def gate_overrides(journal: Journal, scope: Scope) -> list[Override]:
    return overrides_in(journal, scope, CHECKLIST_GATE) + overrides_in(journal, scope, POLICY_GATE)


def override_gate(
    journal: Journal,
    deployment_id: int | None,
    gate: str,
    reason: str,
    *,
    blocking: Sequence[str] = (),
) -> Override:
    """Record an operator's override of the "checklist" or "policy" gate. Raises ValueError
    without a reason."""
    if gate not in (CHECKLIST_GATE, POLICY_GATE):
        raise ValueError(f"unknown gate {gate!r}")
    override = journal.override(deployment_id, gate, reason, data={"blocking": list(blocking)})
    journal.record(
        kind="note", step=CHECK_STEP, deployment_id=deployment_id,
        message=f"{gate} gate overridden by {override.who}: {override.reason}",
        data={"override": gate, "reason": override.reason, "blocking": list(blocking)},
    )  # fmt: skip
    return override


def carry_overrides(journal: Journal, scope: Scope) -> None:
    """Pre-flight overrides that apply to a deployment are copied onto it, so its own
    overrides (what the changelog line lists) are complete."""
    if scope.deployment_id is None:
        return
    own = {(o.gate, o.reason) for o in journal.overrides(scope.deployment_id)}
    for o in gate_overrides(journal, scope):
        if o.deployment_id is None and (o.gate, o.reason) not in own:
            journal.override(scope.deployment_id, o.gate, o.reason,
                             data={**o.data, "carried_from": o.id})  # fmt: skip
            own.add((o.gate, o.reason))


def changelog_overrides(journal: Journal, deployment_id: int) -> list[str]:
    """The deployment's overrides as `gate: reason`, for the changelog line written on CONFIRM."""
    return [f"{o.gate}: {o.reason}" for o in journal.overrides(deployment_id)]
