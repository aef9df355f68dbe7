"""The deploy workflow engine: BACKUP -> BUILD -> DEPLOY -> VERIFY -> CONFIRM, or ROLLBACK.

One ``Workflow`` drives one app (the config's) on its primary host. The console calls the step
methods from keys 1-5 and R; the headless CLI calls ``run_to_end``. Each step writes
``step.start`` / ``step.ok`` / ``step.fail``, one ``command`` event per command, and ``check`` /
``note`` / ``lock`` events to the journal before anything shows them: screens and the headless
printer are views of the journal (tail it with ``journal.add_listener`` or ``events(after_id)``).

Order is enforced from the journal (so it survives a restart): DEPLOY needs BACKUP and BUILD ok,
VERIFY needs DEPLOY ok, CONFIRM needs VERIFY ok unless given an override reason (recorded with
``journal.override``). The deploy lock is taken before BACKUP and released when the deployment
ends (confirmed, failed before anything live changed, rolled back, cancelled, or ``close()``).

Failure semantics of each step method: it raises ``StepFailed`` after journaling ``step.fail``.
If nothing live was changed yet (BACKUP, BUILD, or DEPLOY before the switch) the deployment is
then "failed" and the lock released. Once `current` was switched the deployment stays open
(``needs_decision``): the operator rolls back or confirms with an override; ``run_to_end`` rolls
back by itself.

Driving it from the console (keys 1-5, R), from an async worker on the app's loop::

    wf = Workflow.from_context(ctx, on_output=lambda host, line: ...)  # log pane
    for dep in mark_interrupted(ctx.journal, ctx.config.app.name):     # on start
        ...offer `await wf.resume(dep.id)` (then keys continue) or `await wf.rollback(why)`
    await wf.backup(ref)        # 1: takes the lock, opens the deployment
    await wf.build()            # 2
    await wf.deploy()           # 3: switch + reload + proof of the served version
    await wf.verify()           # 4: one `check` event per check
    await wf.confirm(override_reason=None)   # 5: OrderError unless VERIFY passed or a reason
    await wf.rollback(reason)   # R
    await wf.close()            # leaving: an open deployment becomes "interrupted"

``wf.step_states()`` / ``wf.next_step()`` / ``wf.needs_decision`` / ``wf.deployment`` give the
step bar its state; every method raises OrderError (refused, nothing done), LockedError (someone
else deploys: ``.owner``, ``.stale``) or StepFailed (journaled) — all one-line ``str()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from tui.core.config import Config
from tui.core.hosts import HostPool
from tui.core.inplace import InPlaceLayout
from tui.core.journal import Deployment, Journal, local_identity
from tui.core.lines import last_line, one_line
from tui.core.lock import LOCK_NAME, DeployLock, LockedError, pid_alive
from tui.core.pm2 import Pm2Error
from tui.core.releases import ReleasesLayout, new_release_id
from tui.core.transport import TransportError
from tui.core.transport_errors import describe_argv
from tui.core.workflow_prove import (
    jlist,
    pm2_argv,
    pm2_env,
    prove_paths,
    wait_for_version,
)
from tui.core.workflow_steps import (
    BACKUP,
    BUILD,
    CONFIRM,
    DEPLOY,
    ROLLBACK,
    STEPS,
    VERIFY,
    Commander,
    GateClosed,
    OrderError,
    OutputHook,
    StepFailed,
    WorkflowError,
    substitute,
)
from tui.core.workflow_verify import run_verify

__all__ = [
    "STEPS",
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
    def __init__(
        self,
        config: Config,
        journal: Journal,
        pool: HostPool,
        *,
        on_output: OutputHook | None = None,
        database_backup: DbHook | None = None,
        database_rollback: DbHook | None = None,
        run_missing_checks: bool = False,
        gate_clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.journal = journal
        self.pool = pool
        self.transport = pool.primary
        self.host = config.primary_host
        self.deployment: Deployment | None = None
        self.last_deployment: Deployment | None = None  # the one that ended last
        self.cmd = Commander(
            journal, self.transport, on_output=on_output, deployment_id=lambda: self.deployment_id
        )
        app = config.app
        if app.layout == "in-place":
            self.layout: ReleasesLayout | InPlaceLayout = InPlaceLayout(
                app.root, app.backup_dir, app.name
            )
            lock_path = f"{app.root.rstrip('/')}{LOCK_NAME}"  # a sibling: the root gets swapped
        else:
            self.layout = ReleasesLayout(app.root, app.keep_releases)
            lock_path = f"{app.root.rstrip('/')}/{LOCK_NAME}"
        self.lock = DeployLock(
            lock_path, ssh_user=self.host.user, stale_minutes=config.policy.lock_stale_minutes
        )
        # The pre-deploy gate: the headless deploy runs automated checklist items that have no
        # result yet; the console leaves that to the operator (key c) and shows the gate.
        self.run_missing_checks = run_missing_checks
        self.gate_clock = gate_clock
        self.database_backup: DbHook = database_backup or self._no_database_backup
        self.database_rollback: DbHook = database_rollback or self._no_database_rollback

    @classmethod
    def from_context(cls, ctx: Any, **kwargs: Any) -> Workflow:
        return cls(ctx.config, ctx.journal, ctx.pool, **kwargs)

    # -- state ------------------------------------------------------------------------------

    @property
    def deployment_id(self) -> int | None:
        return self.deployment.id if self.deployment is not None else None

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.deployment.data) if self.deployment is not None else {}

    def step_states(self) -> dict[str, str]:
        """step -> "running" | "ok" | "failed" for the open deployment (empty when none)."""
        if self.deployment is None:
            return {}
        return self.journal.step_states(self.deployment.id)

    def next_step(self) -> str | None:
        """The first of the five steps not yet ok (None when all are)."""
        states = self.step_states()
        return next((s for s in STEPS if states.get(s) != "ok"), None)

    @property
    def needs_decision(self) -> bool:
        """Something live changed and the deployment is neither confirmed nor rolled back."""
        return self.deployment is not None and bool(self.data.get("switched"))

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
        """Take the lock and open a new deployment (BACKUP does this when none is open)."""
        if self.deployment is not None:
            raise OrderError(f"deployment {self.deployment.id} is still open: confirm or roll back")
        for dep in mark_interrupted(self.journal, self.config.app.name):
            if dep.state == "interrupted":
                raise OrderError(
                    f"deployment {dep.id} was interrupted during {dep.step or 'start'}: "
                    "resume it (deploy --resume) or roll it back first"
                )
        await self.lock.acquire(self.cmd, action="deploy")
        try:
            self.deployment = self.journal.start_deployment(
                self.config.app.name, ref or self.config.app.ref, ssh_user=self.host.user,
                data={"layout": self.layout.name, "host": self.host.name},
            )  # fmt: skip
            await self._write_lock_owner()
            self._record("deploy.start", "", f"deploy of {self.deployment.ref} started")
        except BaseException:
            await self._release_lock()
            raise
        return self.deployment

    async def _write_lock_owner(self) -> None:
        owner = self.lock.owner
        if owner is None or self.deployment is None:
            return
        self.lock.owner = replace(owner, deployment_id=self.deployment.id)
        await self.cmd.run(
            ["tee", self.lock.owner_file], step="lock", quiet=True,
            stdin=json.dumps(asdict(self.lock.owner)),
        )  # fmt: skip

    async def resume(self, deployment_id: int, purpose: str = "resume") -> str | None:
        """Attach to an interrupted deployment and take the lock (breaking the stale lock it
        left). Returns the step to run next; ``run_to_end`` continues from there."""
        dep = self.journal.deployment(deployment_id)
        if dep is None:
            raise OrderError(f"no deployment {deployment_id} in the journal")
        if dep.finished:
            raise OrderError(f"deployment {dep.id} is already {dep.state}")
        _, here = local_identity()
        alive = dep.jump_host != here or pid_alive(dep.pid)
        if dep.state == "running" and alive and dep.pid != os.getpid():
            raise OrderError(
                f"deployment {dep.id} is still running (pid {dep.pid} on {dep.jump_host})"
            )
        await self.lock.acquire(self.cmd, action=purpose, take_over=dep.id)
        self.deployment = dep
        try:
            self._update(state="running", pid=os.getpid())
            await self._write_lock_owner()
            nxt = self.next_step()
            what = f"at {nxt or 'the end'}" if purpose == "resume" else f"to {purpose}"
            self._record("action", nxt or "", f"taking up deployment {dep.id} {what}")
            if dep.step == DEPLOY:
                await self._wait_for_orphan_reload(dep.step)
        except BaseException:
            await self._release_lock()
            raise
        return nxt

    async def _wait_for_orphan_reload(self, step: str, timeout_s: float = 120.0) -> None:
        """A console killed mid-DEPLOY leaves its reload running on the host (no PTY, so the
        process outlives the SSH session). Taking the deployment up on top of it makes two
        reloads race and VERIFY see workers restart after the proof: wait for it (bounded)."""
        pattern = "reload .*" + self._values("")["ecosystem"].replace(".", "[.]")
        user = ["-u", self.host.user] if self.host.user else []
        deadline = time.monotonic() + timeout_s
        waited = False
        while time.monotonic() < deadline:
            res = await self.cmd.run(
                ["pgrep", *user, "-f", "--", pattern], step=step, check=False, quiet=True
            )
            if res.exit_status != 0:
                return
            if not waited:
                self._record("note", step, "a reload from the interrupted console is still "
                             "running on the host: waiting for it to end")  # fmt: skip
                waited = True
            await asyncio.sleep(1.0)

    async def close(self) -> None:
        """Leave: an open deployment becomes "interrupted" (resumable) and the lock is freed."""
        if self.deployment is not None and not self.deployment.finished:
            self._update(state="interrupted")
            self._record("note", "", "console closed with the deployment open: interrupted")
        self.deployment = None
        await self._release_lock()

    async def _release_lock(self) -> None:
        if self.lock.owner is None:
            return
        try:
            # Shielded: a cancelled deploy must still give the lock back.
            await asyncio.shield(self.lock.release(self.cmd))
        except (TransportError, WorkflowError) as err:
            self._record("lock", "lock", f"could not release the lock: {err}")

    async def _end(self, state: str, message: str) -> None:
        if self.deployment is not None:
            self._update(state=state)
            self._record("deploy.end", "", message, data={"state": state})
            self.last_deployment = self.deployment
        self.deployment = None
        await self._release_lock()

    # -- the step wrapper ---------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _step(self, step: str, title: str) -> AsyncIterator[None]:
        self._update(step=step)
        self._record("step.start", step, title)
        t0 = time.monotonic()
        try:
            yield
        except (asyncio.CancelledError, KeyboardInterrupt):
            self._record(
                "step.fail", step, f"{step.upper()} interrupted",
                duration=round(time.monotonic() - t0, 3),
            )  # fmt: skip
            if self.deployment is not None:
                self._update(state="interrupted")
            self.deployment = None
            await self._release_lock()
            raise
        except Exception as err:
            # Expected failures (commands, transport, pm2) and bugs alike end as a journaled
            # step.fail, so the caller's failure handling (lock, markers, rollback) always runs.
            known = (WorkflowError, TransportError, Pm2Error, OSError, ValueError)
            message = str(err) if isinstance(err, WorkflowError) else one_line(err)
            if not isinstance(err, known):
                message = f"internal error ({type(err).__name__}): {message}"
            self._record(
                "step.fail", step, f"{step.upper()} failed: {message}",
                duration=round(time.monotonic() - t0, 3),
            )  # fmt: skip
            raise StepFailed(step, f"{step.upper()} failed: {message}") from err
        self._record(
            "step.ok", step, f"{step.upper()} ok", duration=round(time.monotonic() - t0, 3)
        )

    async def _failed_before_live(self, err: StepFailed) -> None:
        await self._end("failed", f"{err}; live release untouched")

    # -- helpers --------------------------------------------------------------------------------

    def _values(self, release_dir: str) -> dict[str, str]:
        app = self.config.app
        if app.ecosystem.startswith("/"):
            ecosystem = app.ecosystem
        elif isinstance(self.layout, ReleasesLayout):
            ecosystem = f"{self.layout.current}/{app.ecosystem}"
        else:
            ecosystem = f"{self.layout.root}/{app.ecosystem}"
        return {
            "ecosystem": ecosystem,
            "app": app.name,
            "release": release_dir,
            "ref": self.deployment.ref if self.deployment else app.ref,
        }

    def _release_dir(self) -> str:
        if isinstance(self.layout, ReleasesLayout):
            rid = self.data.get("release")
            if not rid:
                raise OrderError("no release was built for this deployment")
            return self.layout.path(str(rid))
        return self.layout.root

    async def read_version(self, directory: str, step: str) -> str:
        result = await self.cmd.run(
            ["cat", f"{directory}/package.json"], step=step, check=False, quiet=True
        )
        if not result.ok:
            return ""
        try:
            return str(json.loads(result.stdout).get("version") or "")
        except (ValueError, AttributeError):
            return ""

    # The defaults when no database hooks were given (tui.core.database.hooks_for gives none
    # when [database] is not enabled): say what is true, not that a feature is missing.
    def _no_database(self, what: str) -> str:
        if not self.config.database.enabled:
            return "database: not configured"
        return f"database: {what} (this workflow was given no database hooks)"

    async def _no_database_backup(self, deployment: Deployment) -> None:
        self._record("note", BACKUP, self._no_database("not dumped"))

    async def _no_database_rollback(self, deployment: Deployment) -> None:
        self._record("note", ROLLBACK, self._no_database("left as it is"))

    # -- 1 BACKUP -------------------------------------------------------------------------------

    async def backup(self, ref: str | None = None) -> None:
        if self.deployment is None:
            await self.begin(ref)
        else:
            states = self.step_states()
            if any(states.get(s) == "ok" for s in (BUILD, DEPLOY)):
                raise OrderError(f"deployment {self.deployment_id} is past BACKUP")
        try:
            async with self._step(BACKUP, "BACKUP: note the live version, keep it"):
                await self._backup_body()
        except StepFailed as err:
            await self._failed_before_live(err)
            raise

    async def _backup_body(self) -> None:
        cfg = self.config
        procs = [p for p in await jlist(self.cmd, cfg, BACKUP) if p.name == cfg.app.name]
        if isinstance(self.layout, ReleasesLayout):
            live = await self.layout.live(self.cmd, BACKUP)
            live_dir = self.layout.path(live) if live else None
        else:
            live, live_dir = None, self.layout.root
        git_line = ""
        if live_dir:
            res = await self.cmd.run(
                cfg.steps.backup.version_command, step=BACKUP, cwd=live_dir, check=False,
                timeout=cfg.steps.backup.timeout_s,
            )  # fmt: skip
            git_line = res.stdout.strip().splitlines()[0] if res.ok and res.stdout.strip() else ""
        version = (await self.read_version(live_dir, BACKUP) if live_dir else "") or (
            procs[0].version if procs else ""
        )
        online = sum(p.status == "online" for p in procs)
        self._record(
            "note", BACKUP,
            f"live: version {version or '?'} ({git_line or 'no git info'}); "
            f"pm2: {online}/{len(procs)} {cfg.app.name} online",
            data={"version": version, "git": git_line, "release": live,
                  "pm2": [{"name": p.name, "pm_id": p.pm_id, "status": p.status,
                           "version": p.version} for p in procs]},
        )  # fmt: skip
        self._update(from_version=version, data={"from_release": live, "from_git": git_line})
        if isinstance(self.layout, InPlaceLayout):
            path = await self.layout.backup(self.cmd, BACKUP)
            self._update(data={"backup": path})
            self._record("note", BACKUP, f"live directory copied to {path}")
        elif live:
            self._record("note", BACKUP, f"release {live} stays as it is: nothing to copy")
        if cfg.database.enabled:
            assert self.deployment is not None
            await self.database_backup(self.deployment)

    # -- 2 BUILD --------------------------------------------------------------------------------

    async def build(self, ref: str | None = None) -> None:
        self._require(BUILD, BACKUP)
        if ref:
            self._update(ref=ref)
        assert self.deployment is not None
        try:
            async with self._step(BUILD, f"BUILD: {self.deployment.ref}"):
                await self._build_body()
        except StepFailed as err:
            await self._after_build_failure()
            await self._failed_before_live(err)
            raise

    async def _build_body(self) -> None:
        cfg = self.config
        assert self.deployment is not None
        ref, timeout = self.deployment.ref, cfg.steps.build.timeout_s
        repo = cfg.app.repo
        if isinstance(self.layout, ReleasesLayout):
            if not repo:
                raise WorkflowError("app.repo is empty: the releases layout clones from it")
            rid = str(self.data.get("release") or new_release_id(self.deployment.id))
            self._update(data={"release": rid, "built": False})
            path = await self.layout.fetch(self.cmd, BUILD, rid, repo, ref, timeout)
        else:
            path = self.layout.root
            self._update(data={"code_changed": True, "built": False})
            await self.layout.fetch(self.cmd, BUILD, repo, ref, timeout)
        values = self._values(path)
        for argv in (cfg.steps.build.install, cfg.steps.build.build, cfg.steps.build.migrate):
            if argv:
                await self.cmd.run(substitute(argv, values), step=BUILD, cwd=path, timeout=timeout)
        version = await self.read_version(path, BUILD)
        head = await self.cmd.run(
            ["git", "log", "-1", "--oneline"], step=BUILD, cwd=path, check=False, quiet=True
        )
        self._update(to_version=version, data={"built": True, "to_git": head.stdout.strip()})
        self._record("note", BUILD, f"built version {version or '?'} in {path}")

    async def _after_build_failure(self) -> None:
        try:
            if isinstance(self.layout, ReleasesLayout):
                rid = self.data.get("release")
                if rid:
                    await self.layout.mark(self.cmd, BUILD, str(rid), "failed")
                    self._record("note", BUILD, f"release {rid} marked failed; current untouched")
            elif self.data.get("code_changed") and self.data.get("backup"):
                # In place, the checkout already changed: put the backed-up copy back.
                await self.layout.restore(
                    self.cmd, BUILD, str(self.data["backup"]), str(self.deployment_id)
                )
                self._record("note", BUILD, f"live directory restored from {self.data['backup']}")
        except (TransportError, WorkflowError) as err:
            self._record("note", BUILD, f"cleanup after the failed build failed: {err}")

    # -- 3 DEPLOY -------------------------------------------------------------------------------

    async def deploy(self) -> None:
        self._require(DEPLOY, BACKUP, BUILD)
        if not self.data.get("built"):
            raise OrderError("DEPLOY refused: the release is not fully built")
        await self.check_gate()
        try:
            async with self._step(DEPLOY, "DEPLOY: switch and reload"):
                await self._deploy_body()
        except StepFailed as err:
            if not self.data.get("switched"):
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

    async def _deploy_body(self) -> None:
        release_dir = self._release_dir()
        if isinstance(self.layout, ReleasesLayout):
            rid = str(self.data["release"])
            await self.layout.switch(self.cmd, DEPLOY, rid, str(self.deployment_id))
            self._record("note", DEPLOY, f"current -> releases/{rid}")
        self._update(data={"switched": True})
        await self._reload_and_prove(DEPLOY, release_dir, self._expected_version())
        procs = [p for p in await jlist(self.cmd, self.config, DEPLOY)
                 if p.name == self.config.app.name]  # fmt: skip
        self._update(data={"restarts_baseline": {str(p.pm_id): p.restarts for p in procs}})

    def _expected_version(self) -> str:
        return self.deployment.to_version if self.deployment else ""

    async def _reload_and_prove(self, step: str, release_dir: str, version: str) -> None:
        cfg = self.config
        values = self._values(release_dir)
        reload = pm2_argv(cfg, substitute(cfg.steps.deploy.reload, values))
        await self._reload(step, reload, release_dir)
        problem = await self._prove(step, release_dir, version)
        if problem is None:
            return
        # pm2 #1663/#5939: a reload kept the old paths. Start afresh from the release itself.
        self._record("note", step, f"reload did not take ({problem}): pm2 delete + start")
        env = pm2_env(cfg)
        # Keep what the configured reload puts before pm2 (e.g. `env PORT=...`) for the restart.
        prefix = reload[: next((i for i, a in enumerate(reload) if a == cfg.app.pm2_bin), 0)]
        await self.cmd.run(
            [*prefix, cfg.app.pm2_bin, "delete", cfg.app.name], step=step, env=env, check=False
        )
        eco = cfg.app.ecosystem
        eco_path = eco if eco.startswith("/") else f"{release_dir}/{eco}"
        await self.cmd.run(
            [*prefix, cfg.app.pm2_bin, "start", eco_path, "--update-env"], step=step, env=env,
            cwd=release_dir, timeout=cfg.steps.deploy.timeout_s,
        )  # fmt: skip
        self._update(data={"fallback_restart": True})
        problem = await self._prove(step, release_dir, version)
        if problem is not None:
            raise WorkflowError(f"pm2 does not serve the new release: {problem}")

    async def _reload(self, step: str, reload: tuple[str, ...], release_dir: str) -> None:
        """Run the reload; while pm2 says another reload holds its lock (e.g. one left running
        by a console that was killed mid-DEPLOY; pm2's lock lasts up to 30 s), retry."""
        cfg = self.config
        deadline = time.monotonic() + cfg.steps.deploy.timeout_s
        told = False
        while True:
            left = max(1.0, deadline - time.monotonic())
            result = await self.cmd.run(
                reload, step=step, env=pm2_env(cfg), cwd=release_dir, timeout=left, check=False
            )
            busy = "already in progress" in result.stdout + result.stderr
            if result.ok or not busy or time.monotonic() >= deadline:
                break
            if not told:
                self._record("note", step, "pm2: another reload is in progress; retrying")
                told = True
            await asyncio.sleep(1.0)
        if not result.ok:
            raise WorkflowError(
                f"{self.host.name}: {describe_argv(reload)} exited {result.exit_status}: "
                f"{last_line(result)}"
            )

    async def _prove(self, step: str, release_dir: str, version: str) -> str | None:
        paths, _ = await prove_paths(self.cmd, self.config, step, release_dir)
        if not paths.ok:
            self._record("check", step, f"process paths: {paths.detail}", data={"status": "FAIL"})
            return paths.detail
        self._record("check", step, f"process paths: {paths.detail}", data={"status": "PASS"})
        if not version:
            self._record("check", step, "served version: unknown (no package.json version)",
                         data={"status": "WARNING"})  # fmt: skip
            return None
        ok, detail = await wait_for_version(self.transport, self.config, version)
        self._record("check", step, f"served version: {detail}",
                     data={"status": "PASS" if ok else "FAIL", "version": version})  # fmt: skip
        return None if ok else detail

    # -- 4 VERIFY -------------------------------------------------------------------------------

    async def verify(self) -> None:
        self._require(VERIFY, DEPLOY)
        async with self._step(VERIFY, "VERIFY: checks"):
            failed = await run_verify(self, VERIFY)
            if failed:
                raise WorkflowError(f"{len(failed)} check(s) failed: {', '.join(failed)}")

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
        async with self._step(CONFIRM, "CONFIRM: mark good, write the changelog"):
            await self._confirm_body(overrides)
        await self._prune()  # still under the lock
        dep = self.deployment
        await self._end("succeeded", f"deployed {dep.from_version or '?'} -> {dep.to_version}")

    async def _confirm_body(self, overrides: list[str]) -> None:
        dep = self.deployment
        assert dep is not None
        if isinstance(self.layout, ReleasesLayout):
            await self.layout.mark(self.cmd, CONFIRM, str(self.data["release"]), "good")
            log_path = f"{self.layout.root}/shipdeck-changelog.log"
        else:
            await self.cmd.run(["touch", f"{self.layout.root}/.shipdeck-good"], step=CONFIRM)
            log_path = f"{self.layout.root}.shipdeck-changelog.log"
        when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        line = (
            f"{when} {dep.who} as {self.host.user or '?'}@{self.host.name}: {dep.app} "
            f"{dep.from_version or '?'} -> {dep.to_version or '?'} ref={dep.ref} "
            f"deployment={dep.id}"
        )
        if overrides:
            line += " overrides=" + json.dumps(overrides)
        await self.cmd.run(["tee", "-a", log_path], step=CONFIRM, stdin=line + "\n", quiet=True)
        self.journal.add_changelog(dep.id, line, data={"overrides": overrides})

    async def _prune(self) -> None:
        if not isinstance(self.layout, ReleasesLayout):
            return
        try:
            gone = await self.layout.prune(self.cmd, CONFIRM)
        except (TransportError, WorkflowError, ValueError) as err:
            self._record("note", CONFIRM, f"retention skipped: {err}")
            return
        if gone:
            self._record("note", CONFIRM, f"retention removed {', '.join(gone)}")

    # -- ROLLBACK -------------------------------------------------------------------------------

    async def rollback(self, reason: str, *, migrate_down: bool = False) -> Outcome:
        """Go back to the previous good release (or the newest backup, in place) and prove it.

        Works on the open deployment, or, with none open, on whatever is live now (a new
        deployment row of kind "rollback" records it). ``migrate_down`` also undoes the bad
        release's migrations with ``[steps.rollback] migrate_down`` (destructive: callers
        confirm); when that fails the code still goes back and the outcome is not ok."""
        if self.deployment is None:
            await self.lock.acquire(self.cmd, action="rollback")
            try:
                self.deployment = self.journal.start_deployment(
                    self.config.app.name, "rollback", ssh_user=self.host.user,
                    data={"kind": "rollback", "layout": self.layout.name},
                )  # fmt: skip
                await self._write_lock_owner()
            except BaseException:
                await self._release_lock()
                raise
        elif self.lock.owner is None:
            await self.lock.acquire(self.cmd, action="rollback", take_over=self.deployment_id)
            await self._write_lock_owner()
        self._record("action", ROLLBACK, f"rollback: {reason}", data={"reason": reason})
        try:
            async with self._step(ROLLBACK, f"ROLLBACK: {reason}"):
                message, problem = await self._rollback_body(migrate_down)
        except StepFailed as err:
            await self._end("failed", f"{err}")
            raise
        if problem:
            message += f"; database NOT migrated down: {problem}"
        await self._end("rolled_back", message)
        return Outcome(not problem, "rolled_back", message)

    async def _rollback_body(self, migrate_down: bool) -> tuple[str, str]:
        """(what was done, why the requested down-migration did not happen or "")."""
        assert self.deployment is not None
        if isinstance(self.layout, InPlaceLayout):
            return await self._rollback_in_place(migrate_down)
        layout = self.layout
        releases = await layout.list(self.cmd, ROLLBACK)
        live = await layout.live(self.cmd, ROLLBACK)
        built = self.data.get("release")
        if built and not self.data.get("switched") and live != built:
            # BUILD runs the migrations, so a release that never went live may have changed
            # the schema all the same.
            problem = await self._undo_migrations(layout.path(str(built)), migrate_down)
            if self.data.get("built"):
                await layout.mark(self.cmd, ROLLBACK, str(built), "failed")
                done = f"marked {built} failed"
            else:  # half-built (interrupted BUILD): nothing in it is worth keeping
                await self.cmd.run(["rm", "-rf", layout.path(str(built))], step=ROLLBACK)
                done = f"removed the unfinished {built}"
            return f"release {built} was never live; {live} still is ({done})", problem
        bad = str(built) if built else live
        target = None
        wanted = self.data.get("from_release")
        by_id = {r.id: r for r in releases}
        if wanted and wanted != bad and wanted in by_id and by_id[wanted].state != "failed":
            target = by_id[wanted]
        if target is None:
            target = layout.rollback_target(releases, live, exclude=(bad,) if bad else ())
        if target is None:
            raise WorkflowError("no previous good release to roll back to")
        target_dir = layout.path(target.id)
        version = await self.read_version(target_dir, ROLLBACK)
        if self.data.get("kind") == "rollback" and bad:
            bad_version = await self.read_version(layout.path(bad), ROLLBACK)
            self._update(from_version=bad_version, to_version=version)
        await layout.switch(self.cmd, ROLLBACK, target.id, f"rb{self.deployment_id}")
        self._record("note", ROLLBACK, f"current -> releases/{target.id}")
        if bad and bad != target.id:
            await layout.mark(self.cmd, ROLLBACK, bad, "failed")
        await self._reload_and_prove(ROLLBACK, target_dir, version)
        # The seed's order: code back first, then data. The bad release stays on disk (marked
        # failed), so its own down-migrations are still there to run.
        has_bad = bool(bad) and bad != target.id
        problem = await self._undo_migrations(layout.path(bad) if has_bad else None, migrate_down)
        await self.database_rollback(self.deployment)
        self._update(data={"rolled_back_to": target.id})
        return f"rolled back to release {target.id} (version {version or '?'})", problem

    async def _undo_migrations(self, directory: str | None, wanted: bool) -> str:
        """``[steps.rollback] migrate_down`` in ``directory`` (the release whose migrations to
        undo; None: there is none) when the operator asked for it. Returns why it did not
        happen, or "". A failure is not raised: putting the old code back comes first, and the
        outcome says the data was not reverted."""
        if not wanted:
            return ""
        argv = list(self.config.steps.rollback.migrate_down)
        if directory is None or not argv:
            problem = ("[steps.rollback] migrate_down is empty" if not argv
                       else "no release of this rollback to run it in")  # fmt: skip
            self._record("note", ROLLBACK, problem)
            return problem
        timeout = self.config.steps.rollback.timeout_s
        args = substitute(argv, self._values(directory))
        try:
            result = await self.cmd.run(args, step=ROLLBACK, cwd=directory, timeout=timeout)
        except (WorkflowError, TransportError) as err:
            problem = one_line(err)
            self._record("note", ROLLBACK, f"down-migration failed: {problem}")
            return problem
        took = f"{result.duration:.1f}s"
        self._record("note", ROLLBACK, f"down-migration ran in {directory} ({took})")
        return ""

    async def _rollback_in_place(self, migrate_down: bool) -> tuple[str, str]:
        assert isinstance(self.layout, InPlaceLayout) and self.deployment is not None
        backup = self.data.get("backup")
        if not backup:
            backups = await self.layout.backups(self.cmd, ROLLBACK)
            if not backups:
                raise WorkflowError(f"no backup of {self.config.app.name} to restore")
            backup = backups[-1]
        version = await self.read_version(str(backup), ROLLBACK)
        if self.data.get("kind") == "rollback":
            live_version = await self.read_version(self.layout.root, ROLLBACK)
            self._update(from_version=live_version, to_version=version)
        # In place, restoring the backup removes the bad code and its down-migrations with it:
        # undo them first, while they are still live.
        problem = await self._undo_migrations(self.layout.root, migrate_down)
        await self.layout.restore(self.cmd, ROLLBACK, str(backup), str(self.deployment_id))
        self._record("note", ROLLBACK, f"live directory restored from {backup}")
        await self._reload_and_prove(ROLLBACK, self.layout.root, version)
        await self.database_rollback(self.deployment)
        return f"restored {backup} (version {version or '?'})", problem

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
