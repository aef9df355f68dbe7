"""The Communication and Safety checks that read the journal instead of running a command
(checklist.JOURNAL_ITEMS): the team notification, this deployment's BACKUP and live version,
and whether a console is watching."""

from __future__ import annotations

from tui.core.checklist import ChecklistItem, ItemState
from tui.core.checklist_context import CheckContext, Verdict
from tui.core.notify import LABELS, delivered_notifications


async def check_team_notified(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    if not ctx.config.notify.webhooks:
        return Verdict(
            ItemState.PENDING, "no [notify] webhooks: sign off once the team was told",
            signable=True,
        )  # fmt: skip
    if ctx.scope.deployment_id is None:
        return Verdict(ItemState.PENDING, "sent when the deployment starts")
    sent = delivered_notifications(ctx.journal, ctx.scope.deployment_id)
    ok = [d for d in sent if d.get("delivered")]
    if ok:
        last = ok[-1]
        label = LABELS.get(str(last.get("notify")), str(last.get("notify")))
        return Verdict(ItemState.PASS, f"'{label}' delivered to {last.get('target')}")
    if sent:
        last = sent[-1]
        return Verdict(ItemState.FAIL, f"not delivered: {last.get('error') or 'failed'}")
    return Verdict(ItemState.PENDING, "no notification sent for this deployment yet")


def _backup_state(ctx: CheckContext) -> str | None:
    if ctx.scope.deployment_id is None:
        return None
    return ctx.journal.step_states(ctx.scope.deployment_id).get("backup")


async def check_db_backup(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    state = _backup_state(ctx)
    if state == "ok":
        what = "app and database" if ctx.config.database.enabled else "app (no database)"
        return Verdict(ItemState.PASS, f"BACKUP of deployment {ctx.scope.deployment_id} ok: {what}")
    if state == "failed":
        return Verdict(ItemState.FAIL, "this deployment's BACKUP step failed")
    if state == "running":
        return Verdict(ItemState.RUNNING, "BACKUP running")
    return Verdict(ItemState.PENDING, "satisfied by this deployment's BACKUP step")


async def check_version_noted(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    state = _backup_state(ctx)
    if state != "ok":
        return await check_db_backup(ctx, item)
    assert ctx.scope.deployment_id is not None
    dep = ctx.journal.deployment(ctx.scope.deployment_id)
    version = dep.from_version if dep else ""
    git = str(dep.data.get("from_git") or "") if dep else ""
    if version or git:
        return Verdict(
            ItemState.PASS, f"live version {version or '?'}" + (f" ({git})" if git else "")
        )
    return Verdict(ItemState.WARNING, "BACKUP found no live version (a first deploy?)")


async def check_monitoring(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    if ctx.console:
        return Verdict(ItemState.PASS, "this console")
    return Verdict(ItemState.WARNING, "headless: no dashboard open (watch with `shipdeck`)")
