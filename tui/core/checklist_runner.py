"""Runs the checklist: automated checks concurrently (each with its timeout), sign-offs, the gate.

One runner serves one deployment's checklist (or the pre-flight one, ``deployment_id=None``).
Results are journaled as ``check`` events before they are shown (``on_update`` is called after),
so the state survives a restart. ``gate_for_deploy`` is what the workflow calls before DEPLOY.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from tui.core.checklist import (
    CHECK_STEP,
    IAC_ITEM_ID,
    JOURNAL_ITEMS,
    ChecklistItem,
    ItemKind,
    ItemResult,
    ItemState,
    build_items,
    item_line,
)
from tui.core.checklist_checks import (
    CHECKS,
    CheckAbort,
    CheckContext,
    Site,
    Verdict,
    check_custom,
    check_iac_plan,
)
from tui.core.checklist_gate import (
    Gate,
    GateDecision,
    carry_overrides,
    gate_overrides,
    override_gate,
)
from tui.core.checklist_state import Scope, current_deployment, load_results, scope_for
from tui.core.config import Config
from tui.core.hosts import HostPool
from tui.core.journal import Journal, Override
from tui.core.policy import commits_ahead, commits_warning, window_violations
from tui.core.transport import LocalTransport, Transport
from tui.core.transport_errors import one_line

# Build-dependent items: running one of them runs the build too.
_NEEDS_BUILD = frozenset({"bundle_size", "build_warnings"})
# Items that run in the checkout (their detail says which one).
_SITE_ITEMS = frozenset({"tests", "lint", "typescript", "console_log", "build", "bundle_size",
                         "build_warnings", "migrations", IAC_ITEM_ID})  # fmt: skip

UpdateHook = Callable[[str, ItemResult], None]


class ChecklistRunner:
    def __init__(
        self,
        config: Config,
        journal: Journal,
        pool: HostPool | None = None,
        *,
        deployment_id: int | None = None,
        workdir: str | Path | None = None,
        clock: Callable[[], float] = time.time,
        console: bool = False,
        on_update: UpdateHook | None = None,
        allow_destroy: bool | None = None,
    ) -> None:
        self.config = config
        self.journal = journal
        self.pool = pool
        self.deployment_id = deployment_id
        # --workdir, else [checklist] workdir (relative to the config file's folder)
        configured = config.checklist.workdir
        base = config.source.parent
        chosen = Path(workdir).expanduser() if workdir else None
        if chosen is None and configured:
            chosen = base / Path(configured).expanduser()
        self.workdir = str(chosen.resolve()) if chosen is not None else None
        self.clock = clock
        self.console = console
        self.on_update = on_update
        self.allow_destroy = (
            config.checklist.iac_allow_destroy if allow_destroy is None else allow_destroy
        )
        self.items: tuple[ChecklistItem, ...] = build_items(config)
        self.by_id = {i.id: i for i in self.items}
        self.scope: Scope = scope_for(journal, config.app.name, deployment_id)
        self.results: dict[str, ItemResult] = {}
        self._signed: dict[str, ItemResult] = {}
        self.running: set[str] = set()
        self.reload()

    @classmethod
    def for_current(cls, config: Config, journal: Journal, pool: HostPool | None = None,
                    **kw: object) -> ChecklistRunner:  # fmt: skip
        """The runner of the app's open deployment, or the pre-flight one when none is open."""
        dep = current_deployment(journal, config.app.name)
        return cls(config, journal, pool, deployment_id=dep.id if dep else None, **kw)  # type: ignore[arg-type]

    # -- state ---------------------------------------------------------------------------------

    def reload(self) -> None:
        """Re-read results, sign-offs and the journal-derived items from the journal."""
        recorded = load_results(self.journal, self.scope)
        self._signed = {k: r for k, r in recorded.items() if r.state == ItemState.SIGNED}
        self.results = {k: r for k, r in recorded.items() if k in self.by_id}
        for item_id in self.running:
            self.results[item_id] = ItemResult(item_id, ItemState.RUNNING, "running")

    async def refresh_journal_items(self) -> None:
        """The items read from the journal (backup, version, notification, console)."""
        ctx = self._context(site=None, problem="")
        for item in self.items:
            if item.id in JOURNAL_ITEMS and not item.custom:
                verdict = await CHECKS[item.id](ctx, item)
                self._set(item.id, self._result(item, verdict, None))

    def _result(self, item: ChecklistItem, verdict: Verdict, duration: float | None) -> ItemResult:
        return ItemResult(
            item.id, verdict.state, summary=verdict.summary,
            detail=self.journal.redactor(verdict.detail), ts=self.clock(), duration=duration,
            signable=verdict.signable, data=dict(verdict.data),
        )  # fmt: skip

    def _set(self, item_id: str, result: ItemResult) -> None:
        signed = self._signed.get(item_id)
        if signed is not None and result.signable and result.state == ItemState.PENDING:
            result = signed  # a person signed what no machine can check here
        self.results[item_id] = result
        if self.on_update is not None:
            self.on_update(item_id, result)

    def result(self, item_id: str) -> ItemResult | None:
        return self.results.get(item_id)

    def line(self, item_id: str) -> str:
        return item_line(self.by_id[item_id], self.results.get(item_id))

    def lines(self) -> list[str]:
        return [self.line(i.id) for i in self.items]

    def can_sign(self, item_id: str) -> bool:
        item = self.by_id.get(item_id)
        if item is None:
            return False
        result = self.results.get(item_id)
        return (
            item.kind == ItemKind.SIGNED
            or bool(result and result.signable)
            or self._no_check_possible(item)
        )

    def _no_check_possible(self, item: ChecklistItem) -> bool:
        """Automated items that nothing can check with this config: a person signs them."""
        return not item.custom and item.id == "team_notified" and not self.config.notify.webhooks

    # -- where checks run ----------------------------------------------------------------------

    def _release_dir(self) -> str | None:
        if self.deployment_id is None:
            return None
        dep = self.journal.deployment(self.deployment_id)
        if dep is None:
            return None
        root = self.config.app.root.rstrip("/")
        if self.config.app.layout == "in-place":
            return root if dep.data.get("built") else None
        rid = dep.data.get("release")
        return f"{root}/releases/{rid}" if rid and dep.data.get("built") else None

    def target_dir(self) -> str:
        root = self.config.app.root.rstrip("/")
        live = root if self.config.app.layout == "in-place" else f"{root}/current"
        return self._release_dir() or live

    def site(self) -> tuple[Site | None, str]:
        """Where code checks run: --workdir, else the release this deployment built on the
        target, else the current directory if it is a Node project checkout."""
        local = LocalTransport()
        if self.workdir:
            if not Path(self.workdir).is_dir():
                return None, f"no checkout to check: {self.workdir} is not a directory"
            return Site(local, self.workdir, f"jump host {self.workdir}"), ""
        release = self._release_dir()
        if release and self.pool is not None:
            primary = self.pool.primary
            return Site(primary, release, f"{primary.host.name}:{release}"), ""
        cwd = os.getcwd()
        if Path(cwd, "package.json").is_file():
            return Site(local, cwd, f"jump host {cwd}"), ""
        return None, (
            "no checkout to check: run from the project's checkout (or give --workdir), "
            "or BUILD this deployment first"
        )

    def _target(self) -> Transport | None:
        return self.pool.primary if self.pool is not None else None

    def _context(self, site: Site | None, problem: str) -> CheckContext:
        return CheckContext(
            config=self.config, journal=self.journal, scope=self.scope, site=site,
            site_problem=problem, target=self._target(), target_dir=self.target_dir(),
            clock=self.clock, console=self.console,
        )  # fmt: skip

    # -- running -------------------------------------------------------------------------------

    def automated(self) -> list[str]:
        return [i.id for i in self.items if i.kind == ItemKind.AUTOMATED]

    async def run(self, ids: Iterable[str] | None = None) -> dict[str, ItemResult]:
        """Run the given automated items (all by default) concurrently; journal each result."""
        wanted = [i for i in (ids if ids is not None else self.automated()) if i in self.by_id]
        wanted = [i for i in wanted if self.by_id[i].kind == ItemKind.AUTOMATED]
        needs_build = any(i in _NEEDS_BUILD for i in wanted)
        if needs_build and "build" in self.by_id and "build" not in wanted:
            wanted.append("build")
        site, problem = self.site()
        ctx = self._context(site, problem)
        wanted = [i for i in wanted if i not in self.running]
        for item_id in wanted:
            self.running.add(item_id)
            self._set(item_id, ItemResult(item_id, ItemState.RUNNING, "running"))
        try:
            await asyncio.gather(*(self._run_one(ctx, self.by_id[i]) for i in wanted))
        finally:
            self.running.difference_update(wanted)
        return {i: self.results[i] for i in wanted if i in self.results}

    async def run_one(self, item_id: str) -> ItemResult | None:
        await self.run([item_id])
        return self.results.get(item_id)

    async def _run_one(self, ctx: CheckContext, item: ChecklistItem) -> None:
        t0 = time.monotonic()
        try:
            verdict = await self._check(ctx, item)
        except CheckAbort as err:
            verdict = err.verdict
        except asyncio.CancelledError:
            self.running.discard(item.id)
            self._set(item.id, ItemResult(item.id, ItemState.PENDING, "cancelled"))
            raise
        except Exception as err:  # a broken check is a failed item, never a crash of the pane
            why = f"check crashed: {type(err).__name__}: {one_line(err)}"
            verdict = Verdict(ItemState.FAIL, why)
        duration = round(time.monotonic() - t0, 3)
        self.running.discard(item.id)
        if ctx.site is not None and item.id in _SITE_ITEMS:
            verdict = replace(verdict, data={**verdict.data, "where": ctx.site.where})
        result = self._result(item, verdict, duration)
        if item.id not in JOURNAL_ITEMS or item.custom:
            self._record(item, result, ctx)
        self._set(item.id, result)

    async def _check(self, ctx: CheckContext, item: ChecklistItem) -> Verdict:
        if item.id == IAC_ITEM_ID and item.command:
            return await check_iac_plan(ctx, item, self.allow_destroy)
        if item.custom and item.command:
            hosts = list(self.pool) if self.pool is not None else [LocalTransport()]
            return await check_custom(ctx, item, hosts)
        check = CHECKS.get(item.id)
        if check is None:
            return Verdict(ItemState.PENDING, "no check for this item: sign off", signable=True)
        return await check(ctx, item)

    def _record(self, item: ChecklistItem, result: ItemResult, ctx: CheckContext) -> None:
        host = ctx.site.transport.host.name if ctx.site is not None else ""
        self.journal.record(
            kind="check", step=CHECK_STEP, host=host, deployment_id=self.deployment_id,
            message=item_line(item, result), output_tail=result.detail, duration=result.duration,
            data={**result.data, "item": item.id, "state": str(result.state),
                  "summary": result.summary, "signable": result.signable},
        )  # fmt: skip

    # -- people --------------------------------------------------------------------------------

    def sign(self, item_id: str, *, note: str = "", link: str = "") -> ItemResult:
        """The local user signs an item off (a signed item, or one nothing can check here)."""
        if not self.can_sign(item_id):
            raise ValueError(f"{item_id} is checked automatically; it cannot be signed off")
        so = self.journal.sign_off(self.deployment_id, item_id, note=note, link=link)
        self.journal.record(
            kind="note", step=CHECK_STEP, deployment_id=self.deployment_id,
            message=f"signed off: {self.by_id[item_id].label} by {so.who}"
            + (f" ({so.note})" if so.note else ""),
            data={"item": item_id, "sign_off": so.id},
        )  # fmt: skip
        result = ItemResult(item_id, ItemState.SIGNED, ts=so.ts, who=so.who, note=so.note,
                            link=so.link)  # fmt: skip
        self._signed[item_id] = result
        self._set(item_id, result)
        return result

    def revoke(self, item_id: str) -> None:
        self.journal.sign_off(self.deployment_id, item_id, state="revoked")
        self._signed.pop(item_id, None)
        self._set(item_id, ItemResult(item_id, ItemState.PENDING, "sign-off revoked"))

    def override(self, gate: str, reason: str, blocking: Iterable[str] = ()) -> Override:
        return override_gate(self.journal, self.deployment_id, gate, reason,
                             blocking=list(blocking))  # fmt: skip

    # -- the gate ------------------------------------------------------------------------------

    def decision(
        self, policy_violations: Iterable[str] = (), warnings: Iterable[str] = ()
    ) -> GateDecision:
        return Gate.evaluate(
            self.items, self.results, deployment_id=self.deployment_id,
            policy_violations=policy_violations, warnings=warnings,
            overrides=gate_overrides(self.journal, self.scope),
        )  # fmt: skip

    async def policy(self, *, tz: object = None) -> tuple[list[str], list[str]]:
        """(violations, warnings) of the deploy policy right now."""
        violations = window_violations(self.config.policy, self.clock, tz)  # type: ignore[arg-type]
        warnings: list[str] = []
        warning = await self._commits_warning()
        if warning:
            warnings.append(warning)
        return violations, warnings

    async def _commits_warning(self) -> str:
        repo = self.config.app.repo
        if self.pool is None or self.deployment_id is None or not repo.startswith("/"):
            return ""
        dep = self.journal.deployment(self.deployment_id)
        if dep is None:
            return ""
        from_git = str(dep.data.get("from_git") or "").split(" ")[0]
        count, _ = await commits_ahead(self.pool.primary, repo, from_git, dep.ref)
        return commits_warning(count, self.config.policy, from_git, dep.ref)


async def gate_for_deploy(
    config: Config,
    journal: Journal,
    deployment_id: int | None,
    *,
    clock: Callable[[], float] = time.time,
    pool: HostPool | None = None,
    run_missing: bool = False,
    console: bool = False,
) -> GateDecision:
    """The gate before DEPLOY for a deployment, from what the journal holds.

    With ``pool`` and ``run_missing=True`` the automated items without a result yet are run
    first (a headless deploy). The decision is journaled as a ``check`` event of step
    "checklist"; overrides made pre-flight are copied onto the deployment."""
    runner = ChecklistRunner(config, journal, pool, deployment_id=deployment_id, clock=clock,
                             console=console)  # fmt: skip
    await runner.refresh_journal_items()
    if run_missing and pool is not None:
        # Only items that can block: optional ones never hold a deploy up, so a headless
        # deploy does not pay for running them.
        missing = [i for i in runner.automated()
                   if i not in JOURNAL_ITEMS and i not in runner.results
                   and not runner.by_id[i].optional]  # fmt: skip
        if missing:
            await runner.run(missing)
    carry_overrides(journal, runner.scope)
    violations, warnings = await runner.policy()
    decision = runner.decision(violations, warnings)
    journal.record(
        kind="check", step=CHECK_STEP, deployment_id=deployment_id,
        message=decision.message(), data={"gate": True, **decision.to_json()},
    )  # fmt: skip
    return decision
