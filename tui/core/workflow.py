"""The deploy workflow: one deployment of the app, BACKUP -> BUILD -> DEPLOY -> VERIFY ->
CONFIRM, or ROLLBACK, over a list of hosts (by default the primary host alone).

Rules: every step is journaled (``step.*`` per host, a ``command`` per command) before anything
shows it, and its order is enforced from the journal, so it survives a restart. Once per
deployment: the deploy lock (on every host, before anything changes; rollout.py), the
pre-deploy gate, the database's dump and restore, CONFIRM and its changelog line. Per host
(workflow_host.py): the app's backup, BUILD, DEPLOY, VERIFY and the code's rollback.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tui.core.config import Config
from tui.core.hosts import HostPool
from tui.core.journal import Deployment, Journal, local_identity
from tui.core.lock import LockedError, pid_alive
from tui.core.releases import new_release_id
from tui.core.rollout import Body, Rollout
from tui.core.workflow_data import NOT_DONE, DeploymentData
from tui.core.workflow_host import HostRun
from tui.core.workflow_steps import (
    BACKUP,
    BUILD,
    CONFIRM,
    DEPLOY,
    ROLLBACK,
    STEPS,
    VERIFY,
    DataRollback,
    GateClosed,
    OrderError,
    OutputHook,
    StepFailed,
    WorkflowError,
)

__all__ = [
    "STEPS",
    "DataRollback",
    "GateClosed",
    "LockedError",
    "OrderError",
    "Outcome",
    "StepFailed",
    "Workflow",
    "WorkflowError",
    "mark_interrupted",
]

DbHook = Callable[[Deployment], Awaitable[None]]


@dataclass(frozen=True)
class Outcome:
    """What ``run_to_end`` / ``rollback`` ended with, for the headless printer."""

    ok: bool
    state: str
    message: str


def mark_interrupted(journal: Journal, app: str) -> list[Deployment]:
    """Unfinished deployments of ``app``; those marked running whose console process is gone
    (on this jump host) become "interrupted". Newest first."""
    _, here = local_identity()
    found = []
    for dep in journal.unfinished_deployments(app):
        if dep.state == "running" and dep.jump_host == here and not pid_alive(dep.pid):
            dep = journal.update_deployment(dep.id, state="interrupted")
            journal.record(
                kind="note", step=dep.step, deployment_id=dep.id,
                message=f"deployment {dep.id} was interrupted during {dep.step or 'start'}"
                f" (console pid {dep.pid} is gone): resume or roll back",
            )  # fmt: skip
        found.append(dep)
    return found


class Workflow:
    """The console's keys 1-5 and R call the step methods; the headless CLI ``run_to_end``.
    Each raises OrderError (refused, nothing done), LockedError (someone else deploys) or
    StepFailed (journaled); all one line. A failure before anything live changed ends the
    deployment "failed"; after the switch it stays open (``needs_decision``)."""

    def __init__(
        self,
        config: Config,
        journal: Journal,
        pool: HostPool,
        *,
        hosts: Sequence[str] | None = None,
        host_configs: dict[str, Config] | None = None,
        batch_size: int = 1,
        on_output: OutputHook | None = None,
        database: Any = None,
        database_backup: DbHook | None = None,
        database_rollback: DbHook | None = None,
        run_missing_checks: bool = False,
        gate_clock: Callable[[], float] = time.time,
    ) -> None:
        """``hosts``: the [[hosts]] names to deploy to, the lead first (default: the primary);
        ``host_configs``: a host's own config where its app differs (root, pm2, URLs);
        ``batch_size``: hosts DEPLOY switches at once (0: all); ``database``: the app's
        ``tui.core.database.Database`` (dumped at BACKUP, restored on request); the
        ``database_*`` hooks are the older way to give it (deprecated)."""
        self.config = config
        self.journal = journal
        self.pool = pool
        self.deployment: Deployment | None = None
        self.last_deployment: Deployment | None = None  # the one that ended last
        by_name = {h.name: h for h in config.hosts}
        names = list(hosts) if hosts else [config.primary_host.name]
        runs = [
            HostRun(self, by_name[n], pool[n], (host_configs or {}).get(n, config), on_output)
            for n in names
        ]
        self.rollout = Rollout(runs, batch_size)
        # The pre-deploy gate: the headless deploy runs automated checklist items that have no
        # result yet; the console leaves that to the operator (key c) and shows the gate.
        self.run_missing_checks = run_missing_checks
        self.gate_clock = gate_clock
        self.database = database
        self.data_side = DeploymentData(self)
        self.database_backup: DbHook = database_backup or self.data_side.backup
        self.database_rollback: DbHook = database_rollback or self.data_side.leave

    @classmethod
    def from_context(cls, ctx: Any, **kwargs: Any) -> Workflow:
        """The console's and the headless commands' workflow: with the app's database."""
        if "database" not in kwargs:
            from tui.core.database import database_for

            kwargs["database"] = database_for(ctx.config, ctx.pool, ctx.journal)
        return cls(ctx.config, ctx.journal, ctx.pool, **kwargs)

    # -- the lead host (with one host: the host) -------------------------------------------------

    @property
    def runs(self) -> list[HostRun]:
        return self.rollout.runs

    @property
    def lead(self) -> HostRun:
        return self.rollout.lead

    @property
    def host(self) -> Any:
        return self.lead.host

    @property
    def transport(self) -> Any:
        return self.lead.transport

    @property
    def cmd(self) -> Any:
        return self.lead.cmd

    @property
    def layout(self) -> Any:
        return self.lead.layout

    @property
    def backend(self) -> Any:
        return self.lead.backend

    @property
    def lock(self) -> Any:
        return self.lead.lock

    async def read_version(self, directory: str, step: str) -> str:
        return await self.lead.layout.version(self.lead.cmd, step, directory)

    async def _reload(self, step: str, reload: Sequence[str], release_dir: str) -> None:
        await self.lead.backend.reload_command(step, reload, release_dir)

    # -- state ------------------------------------------------------------------------------

    @property
    def deployment_id(self) -> int | None:
        return self.deployment.id if self.deployment is not None else None

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.deployment.data) if self.deployment is not None else {}

    def step_states(self) -> dict[str, str]:
        """step -> "running" | "ok" | "failed" for the open deployment, over all its hosts."""
        if self.deployment is None:
            return {}
        return self.rollout.step_states(self.journal, self.deployment.id)

    def host_states(self) -> dict[str, dict[str, str]]:
        """host -> step -> state for the open deployment (empty when none)."""
        if self.deployment is None:
            return {}
        return self.rollout.host_states(self.journal, self.deployment.id)

    def next_step(self) -> str | None:
        """The first of the five steps not yet ok (None when all are)."""
        states = self.step_states()
        return next((s for s in STEPS if states.get(s) != "ok"), None)

    @property
    def needs_decision(self) -> bool:
        """Something live changed and the deployment is neither confirmed nor rolled back."""
        return self.deployment is not None and any(r.state.get("switched") for r in self.runs)

    def _update(self, **fields: Any) -> None:
        assert self.deployment is not None
        self.deployment = self.journal.update_deployment(self.deployment.id, **fields)

    def _record(self, kind: str, step: str, message: str, **extra: Any) -> None:
        self.journal.record(
            kind=kind, host=self.host.name, step=step, deployment_id=self.deployment_id,
            message=message, **extra,
        )  # fmt: skip

    def _require(self, step: str, *needed: str) -> None:
        if self.deployment is None:
            raise OrderError(f"{step.upper()} refused: no deployment in progress (run BACKUP)")
        states = self.step_states()
        missing = [s.upper() for s in needed if states.get(s) != "ok"]
        if missing:
            raise OrderError(
                f"{step.upper()} refused: {' and '.join(missing)} must succeed first "
                f"(deployment {self.deployment.id})"
            )

    # -- starting, resuming, ending ----------------------------------------------------------

    async def begin(self, ref: str | None = None) -> Deployment:
        """Take the lock (every host) and open a new deployment (BACKUP does this when none is
        open)."""
        if self.deployment is not None:
            raise OrderError(f"deployment {self.deployment.id} is still open: confirm or roll back")
        for dep in mark_interrupted(self.journal, self.config.app.name):
            if dep.state == "interrupted":
                raise OrderError(
                    f"deployment {dep.id} was interrupted during {dep.step or 'start'}: "
                    "resume it (deploy --resume) or roll it back first"
                )
        await self._open(ref or self.config.app.ref, {}, "deploy")
        assert self.deployment is not None
        return self.deployment

    async def _open(self, ref: str, data: dict[str, Any], action: str) -> None:
        await self.rollout.acquire(action=action)
        try:
            self.deployment = self.journal.start_deployment(
                self.config.app.name, ref, ssh_user=self.host.user,
                data={**data, "layout": self.layout.name, "host": self.host.name,
                      "hosts": {r.name: {} for r in self.runs}},
            )  # fmt: skip
            await self.rollout.write_owner(self.deployment.id)
            if action == "deploy":
                self._record("deploy.start", "", f"deploy of {self.deployment.ref} started")
        except BaseException:
            await self._release_lock()
            raise

    async def resume(self, deployment_id: int, purpose: str = "resume") -> str | None:
        """Attach to an interrupted deployment and take the lock (breaking the stale lock it
        left). Returns the step to run next; ``run_to_end`` continues from there."""
        dep = self.journal.deployment(deployment_id)
        if dep is None:
            raise OrderError(f"no deployment {deployment_id} in the journal")
        if dep.finished:
            raise OrderError(f"deployment {dep.id} is already {dep.state}")
        hosts = dep.data.get("hosts")
        if isinstance(hosts, dict) and sorted(hosts) != sorted(r.name for r in self.runs):
            raise OrderError(
                f"deployment {dep.id} ran on {', '.join(hosts)}: resume it with those hosts"
            )
        _, here = local_identity()
        alive = dep.jump_host != here or pid_alive(dep.pid)
        if dep.state == "running" and alive and dep.pid != os.getpid():
            raise OrderError(
                f"deployment {dep.id} is still running (pid {dep.pid} on {dep.jump_host})"
            )
        await self.rollout.acquire(action=purpose, take_over=dep.id)
        self.deployment = dep
        try:
            self._update(state="running", pid=os.getpid())
            await self.rollout.write_owner(dep.id)
            nxt = self.next_step()
            what = f"at {nxt or 'the end'}" if purpose == "resume" else f"to {purpose}"
            self._record("action", nxt or "", f"taking up deployment {dep.id} {what}")
            if dep.step == DEPLOY:
                for run in self.runs:
                    await run.backend.wait_idle(dep.step)
        except BaseException:
            await self._release_lock()
            raise
        return nxt

    async def close(self) -> None:
        """Leave: an open deployment becomes "interrupted" (resumable) and the lock is freed."""
        if self.deployment is not None and not self.deployment.finished:
            self._update(state="interrupted")
            self._record("note", "", "console closed with the deployment open: interrupted")
        self.deployment = None
        await self._release_lock()

    async def _release_lock(self) -> None:
        await self.rollout.release()

    async def _end(self, state: str, message: str) -> None:
        if self.deployment is not None:
            self._update(state=state)
            self._record("deploy.end", "", message, data={"state": state})
            self.last_deployment = self.deployment
        self.deployment = None
        await self._release_lock()

    async def _failed_before_live(self, err: StepFailed) -> None:
        await self._end("failed", f"{err}; live release untouched")

    async def _run(self, step: str, title: str, body: Body, **kwargs: Any) -> None:
        """``body`` on the hosts (``Rollout.run``); interrupted, the deployment becomes
        "interrupted" and the lock is given back."""
        self._update(step=step)
        try:
            await self.rollout.run(step, title, body, **kwargs)
        except (asyncio.CancelledError, KeyboardInterrupt):
            if self.deployment is not None:
                self._update(state="interrupted")
            self.deployment = None
            await self._release_lock()
            raise

    def _pending(self, step: str) -> list[HostRun]:
        assert self.deployment is not None
        return self.rollout.pending(step, self.journal, self.deployment.id)

    # -- 1 BACKUP -------------------------------------------------------------------------------

    async def backup(self, ref: str | None = None) -> None:
        if self.deployment is None:
            await self.begin(ref)
        else:
            states = self.step_states()
            if any(states.get(s) == "ok" for s in (BUILD, DEPLOY)):
                raise OrderError(f"deployment {self.deployment_id} is past BACKUP")

        async def body(run: HostRun) -> None:
            await run.backup(BACKUP)
            if run.lead and self.config.database.enabled:
                assert self.deployment is not None
                await self.database_backup(self.deployment)

        try:
            await self._run(BACKUP, "BACKUP: note the live version, keep it", body,
                            hosts=self._pending(BACKUP), batch_size=0)  # fmt: skip
        except StepFailed as err:
            await self._failed_before_live(err)
            raise

    # -- 2 BUILD --------------------------------------------------------------------------------

    async def build(self, ref: str | None = None) -> None:
        self._require(BUILD, BACKUP)
        if ref:
            self._update(ref=ref)
        assert self.deployment is not None
        # One release id for every host: the releases layout names its directory by it.
        release = str(self.data.get("release") or new_release_id(self.deployment.id))
        try:
            await self._run(BUILD, f"BUILD: {self.deployment.ref}",
                            lambda run: run.build(BUILD, release),
                            hosts=self._pending(BUILD), batch_size=0)  # fmt: skip
        except StepFailed as err:
            for run in self.runs:
                await run.after_failed_build(BUILD)
            await self._failed_before_live(err)
            raise

    # -- 3 DEPLOY -------------------------------------------------------------------------------

    async def deploy(self) -> None:
        self._require(DEPLOY, BACKUP, BUILD)
        if not all(r.state.get("built") for r in self.runs):
            raise OrderError("DEPLOY refused: the release is not fully built")
        await self.check_gate()
        try:
            # Batch after batch (batch_size): a failure stops before the next hosts switch.
            await self._run(DEPLOY, "DEPLOY: switch and reload", lambda run: run.deploy(DEPLOY),
                            hosts=self._pending(DEPLOY))  # fmt: skip
        except StepFailed as err:
            if not self.needs_decision:
                await self._failed_before_live(err)
            raise

    async def check_gate(self) -> None:
        """Refuse DEPLOY unless every required checklist item passed or was signed and no
        deploy policy forbids it now, or an operator overrode that with a typed reason."""
        from tui.core.checklist_runner import gate_for_deploy

        decision = await gate_for_deploy(
            self.config, self.journal, self.deployment_id, clock=self.gate_clock,
            pool=self.pool, run_missing=self.run_missing_checks,
        )  # fmt: skip
        if not decision.open:
            raise GateClosed(decision)

    # -- 4 VERIFY -------------------------------------------------------------------------------

    async def verify(self) -> None:
        self._require(VERIFY, DEPLOY)

        async def body(run: HostRun) -> None:
            failed = await run.verify(VERIFY)
            if failed:
                raise WorkflowError(f"{len(failed)} check(s) failed: {', '.join(failed)}")

        await self._run(VERIFY, "VERIFY: checks", body, hosts=self._pending(VERIFY),
                        batch_size=0)  # fmt: skip

    # -- 5 CONFIRM ------------------------------------------------------------------------------

    async def confirm(self, override_reason: str | None = None) -> None:
        self._require(CONFIRM, DEPLOY)
        assert self.deployment is not None
        from tui.core.checklist_gate import changelog_overrides

        # Gate overrides (checklist, policy) made for this deployment go into the changelog.
        overrides = changelog_overrides(self.journal, self.deployment.id)
        if self.step_states().get(VERIFY) != "ok":
            if not override_reason or not override_reason.strip():
                raise OrderError("CONFIRM refused: VERIFY has not passed (override needs a reason)")
            self.journal.override(self.deployment.id, "verify", override_reason)
            overrides.append(f"verify: {override_reason.strip()}")
            self._record("action", CONFIRM, f"VERIFY overridden: {override_reason.strip()}")
        line = self._changelog_line(overrides)

        async def body(_lead: HostRun) -> None:
            for run in self.runs:
                await run.confirm(CONFIRM, line)
            assert self.deployment is not None
            self.journal.add_changelog(self.deployment.id, line, data={"overrides": overrides})

        # Once for the deployment (the lead host's step), every host marked good.
        await self._run(CONFIRM, "CONFIRM: mark good, write the changelog", body,
                        hosts=[self.lead])  # fmt: skip
        for run in self.runs:
            await run.prune(CONFIRM)  # still under the lock
        dep = self.deployment
        await self._end("succeeded", f"deployed {dep.from_version or '?'} -> {dep.to_version}")

    def _changelog_line(self, overrides: list[str]) -> str:
        dep = self.deployment
        assert dep is not None
        when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        where = ", ".join(f"{r.host.user or '?'}@{r.name}" for r in self.runs)
        line = (
            f"{when} {dep.who} as {where}: {dep.app} "
            f"{dep.from_version or '?'} -> {dep.to_version or '?'} ref={dep.ref} "
            f"deployment={dep.id}"
        )
        return line + (" overrides=" + json.dumps(overrides) if overrides else "")

    # -- ROLLBACK -------------------------------------------------------------------------------

    async def rollback(
        self,
        reason: str,
        data: DataRollback = DataRollback.CODE_ONLY,
        *,
        migrate_down: bool | None = None,
    ) -> Outcome:
        """Go back to the previous good release (or the newest backup, in place) on every host
        and prove it; then, once, the data as ``data`` says (the callers confirm the
        destructive ways). Works on the open deployment or, with none open, on what is live now
        (a deployment row of kind "rollback"). When the data way fails the code still went back
        and the outcome is not ok. ``migrate_down=True`` is the older spelling of
        ``data=DataRollback.MIGRATE_DOWN`` (deprecated)."""
        if migrate_down:
            data = DataRollback.MIGRATE_DOWN
        data = DataRollback(data)
        if self.deployment is None:
            await self._open("rollback", {"kind": "rollback"}, "rollback")
        elif not self.rollout.holds():
            await self.rollout.acquire(action="rollback", take_over=self.deployment_id)
            await self.rollout.write_owner(self.deployment.id)
        self._record("action", ROLLBACK, f"rollback: {reason}", data={"reason": reason})
        results: dict[str, tuple[str, str]] = {}

        async def body(run: HostRun) -> None:
            if not run.lead:
                results[run.name] = await run.rollback(ROLLBACK)
                return
            undo = self.data_side.migrate_down
            results[run.name] = await run.rollback(
                ROLLBACK, lambda directory: undo(directory, data), lambda: self._data(data)
            )

        try:
            # Host by host, the lead last: every host's code is back before the data goes.
            await self._run(ROLLBACK, f"ROLLBACK: {reason}", body, batch_size=1,
                            hosts=[*self.runs[1:], self.lead], keep_going=True)  # fmt: skip
        except StepFailed as err:
            await self._end("failed", f"{err}")
            raise
        message, problem = results[self.lead.name]
        if problem:
            message += f"; database NOT {NOT_DONE[data]}: {problem}"
        await self._end("rolled_back", message)
        return Outcome(not problem, "rolled_back", message)

    async def _data(self, data: DataRollback) -> str:
        assert self.deployment is not None
        if data == DataRollback.RESTORE:
            return await self.data_side.restore(self.deployment)
        await self.database_rollback(self.deployment)  # may be a caller's hook (deprecated)
        return ""

    # -- headless: all of it -----------------------------------------------------------------

    async def run_to_end(self, ref: str | None = None, *, watch: Any = None) -> Outcome:
        """Run every step not yet done (all five for a new deployment). On a failure after the
        switch, roll back. Returns how it ended; raises LockedError/OrderError when refused.

        ``watch`` (a ``workflow_watch.WorkflowWatch``) holds CONFIRM as the console does: its
        baseline is sampled after BACKUP and the post-deploy watch runs before CONFIRM; an
        alarm ends the run with the watch's outcome (rolled back)."""
        steps: dict[str, Callable[[], Awaitable[None]]] = {
            BACKUP: lambda: self.backup(ref),
            BUILD: self.build,
            DEPLOY: self.deploy,
            VERIFY: self.verify,
            CONFIRM: self.confirm,
        }
        if self.deployment is None:
            await self.backup(ref)
            if watch is not None:
                await watch.after_backup(self)
        try:
            while (step := self.next_step()) is not None and self.deployment is not None:
                if step == CONFIRM and watch is not None:
                    stopped = await watch.before_confirm(self)
                    if stopped is not None:
                        return stopped  # type: ignore[no-any-return]
                    if self.deployment is None:
                        break
                await steps[step]()
                if step == BACKUP and watch is not None:
                    await watch.after_backup(self)
        except StepFailed as err:
            if self.deployment is None:
                return Outcome(False, "failed", f"{err}; live release untouched")
            try:
                rolled = await self.rollback(f"{err}")
            except StepFailed as rb_err:
                return Outcome(False, "failed", f"{err}; rollback failed too: {rb_err}")
            return Outcome(False, "rolled_back", f"{err}; {rolled.message}")
        last = self.last_deployment
        if last is None or last.state != "succeeded":
            return Outcome(False, last.state if last else "failed", "the deployment did not end")
        return Outcome(
            True, "succeeded", f"deployed {last.from_version or '?'} -> {last.to_version or '?'}"
        )
