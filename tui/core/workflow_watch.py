"""The post-deploy watch for ``run_to_end`` (no console), with the console's engine
(``tui.core.watch.Watch``): the baseline is sampled after BACKUP, while the old release is live
(kept in the deployment's data, so a resumed run finds it); the watch runs before CONFIRM for
``[policy] watch_minutes`` (0 = none).

Rules: with no operator to decide, the first alarm rolls the CODE back (never the data) and the
run ends with the alarm's cause; skipping the watch needs a typed reason, journaled like the
console's override. A clean watch or an override already journaled lets CONFIRM go ahead; an
interrupted watch runs again from the start on resume.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tui.core.watch import (
    CLEAN,
    STEP,
    Alarm,
    Watch,
    WatchSample,
    confirm_gate,
    override_watch,
    watch_for_workflow,
)
from tui.core.watch_baseline import baseline_before_deploy

__all__ = ["WorkflowWatch"]

# Who rolls back when the headless watch alarms (journaled with the auto-rollback action).
HEADLESS_ROLLBACK = "headless deploy: no operator to decide"


class WorkflowWatch:
    """Hooks for ``Workflow.run_to_end(ref, watch=...)``; the callbacks show progress."""

    def __init__(
        self,
        *,
        skip_reason: str | None = None,
        on_sample: Callable[[Watch, WatchSample], None] | None = None,
        on_alarm: Callable[[Watch, Alarm], None] | None = None,
        **watch_kwargs: Any,
    ) -> None:
        reason = (skip_reason or "").strip()
        if skip_reason is not None and not reason:
            raise ValueError("skipping the watch needs a reason (it goes into the journal)")
        self.skip_reason = reason or None
        self.on_sample = on_sample
        self.on_alarm = on_alarm
        self.watch_kwargs = watch_kwargs  # for Watch (duration_s, interval_s, clock, ...)
        self.watch: Watch | None = None
        self.rollback_message = ""

    def _minutes(self, workflow: Any) -> float:
        return float(workflow.config.policy.watch_minutes)

    async def after_backup(self, workflow: Any) -> None:
        """Sample the baseline while the old release is live. A failure is noted, not fatal:
        the watch then judges against an empty baseline (as the console does)."""
        if not self.skip_reason:
            await baseline_before_deploy(workflow)

    async def before_confirm(self, workflow: Any) -> Any:
        """Run the watch (or record the skip). Returns None when CONFIRM may go ahead, else the
        workflow's ``Outcome`` of the alarm (rolled back, or failed when the rollback failed)."""
        from tui.core.workflow import Outcome

        dep_id = workflow.deployment_id
        if dep_id is None or self._minutes(workflow) <= 0:
            return None
        if self.skip_reason:
            override_watch(workflow.journal, dep_id, self.skip_reason)
            return None
        if confirm_gate(workflow.journal, dep_id).unlocked:
            return None  # a clean watch (or an override) is already in the journal
        # The deployment's step reads "watch" (status: "interrupted during watch").
        workflow.deployment = workflow.journal.update_deployment(dep_id, step=STEP)
        outcomes: list[Any] = []

        async def rollback(reason: str) -> None:
            outcomes.append(await workflow.rollback(reason))

        kwargs = dict(self.watch_kwargs)
        kwargs.setdefault("auto_rollback", True)
        kwargs.setdefault("auto_rollback_source", HEADLESS_ROLLBACK)
        watch = watch_for_workflow(
            workflow,
            rollback=rollback,
            on_sample=(lambda s: self.on_sample(watch, s)) if self.on_sample else None,
            on_alarm=(lambda a: self.on_alarm(watch, a)) if self.on_alarm else None,
            **kwargs,
        )
        self.watch = watch
        result = await watch.run()
        if result.state == CLEAN:
            return None
        causes = "; ".join(a.cause for a in result.alarms) or result.message
        if result.rolled_back and outcomes:
            return Outcome(False, "rolled_back", f"watch alarm: {causes}; {outcomes[-1].message}")
        if result.rollback_error:
            return Outcome(
                False, "failed", f"watch alarm: {causes}; rollback failed: {result.rollback_error}"
            )
        # Alarmed without a rollback (auto_rollback turned off by the caller): stay open.
        return Outcome(False, "alarmed", f"watch alarm: {causes}; CONFIRM not done")
