"""One host's part of a deployment: its command runner, layout, backend and lock, and what each
step does there. The workflow (workflow.py) runs these through a ``Rollout`` over its hosts.

Rules: a host only speaks through its layout (where the code is) and its backend (what serves
it), never by asking which ones it has; its part of the deployment's data is kept under
``data["hosts"][name]`` and, for the lead host, at the top level too (what single-host readers,
the checklist and the watch, read).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from tui.core.backend import Release, make_backend
from tui.core.config import Config, HostConfig
from tui.core.layout import LiveCode, make_layout
from tui.core.lock import DeployLock
from tui.core.transport import Transport, TransportError
from tui.core.workflow_steps import Commander, OutputHook, WorkflowError, substitute

if TYPE_CHECKING:
    from tui.core.workflow import Workflow


def _npm_run_script(argv: tuple[str, ...] | list[str]) -> str:
    """The script an `npm run <script>` (or `npm run-script`) command runs, else ""."""
    args = list(argv)
    if len(args) >= 3 and args[0].rsplit("/", 1)[-1] == "npm" and args[1] in ("run", "run-script"):
        return args[2] if not args[2].startswith("-") else ""
    return ""


class HostRun:
    def __init__(
        self,
        wf: Workflow,
        host: HostConfig,
        transport: Transport,
        config: Config,
        on_output: OutputHook | None = None,
    ) -> None:
        self.wf = wf
        self.host = host
        self.name = host.name
        self.transport = transport
        self.config = config  # the app as this host has it (a fleet's hosts may differ)
        self.cmd = Commander(
            wf.journal, transport, on_output=on_output, deployment_id=lambda: wf.deployment_id
        )
        self.layout = make_layout(config)
        self.backend = make_backend(config, self.cmd, self.layout.ecosystem(config.app.ecosystem))
        self.lock = DeployLock(
            self.layout.lock_path, ssh_user=host.user,
            stale_minutes=config.policy.lock_stale_minutes,
        )  # fmt: skip

    # -- this host's part of the deployment ------------------------------------------------------

    @property
    def lead(self) -> bool:
        return self.wf.rollout.lead is self

    @property
    def state(self) -> Mapping[str, Any]:
        """This host's part of the deployment's data (a deployment journaled before hosts had
        parts keeps it at the top level)."""
        data = self.wf.data
        hosts = data.get("hosts")
        if isinstance(hosts, dict) and isinstance(hosts.get(self.name), dict):
            return {"kind": data.get("kind"), **hosts[self.name]}
        return data if self.lead else {"kind": data.get("kind")}

    def set(self, **fields: Any) -> None:
        data = self.wf.data
        hosts = dict(data.get("hosts") or {})
        # A deployment journaled before hosts had parts: its top level is the lead's part.
        mine = hosts.get(self.name)
        hosts[self.name] = {**(mine if isinstance(mine, dict) else self.state), **fields}
        self.wf._update(data={"hosts": hosts, **(fields if self.lead else {})})

    def record(self, kind: str, step: str, message: str, **extra: Any) -> None:
        self.cmd.record(kind, step, message, **extra)

    def values(self, release_dir: str) -> dict[str, str]:
        """The placeholders of the configured commands."""
        app = self.config.app
        dep = self.wf.deployment
        return {
            "ecosystem": self.layout.ecosystem(app.ecosystem),
            "app": app.name,
            "release": release_dir,
            "ref": dep.ref if dep else app.ref,
        }

    def release(self, directory: str, version: str) -> Release:
        return Release(directory, version, self.values(directory))

    # -- BACKUP -------------------------------------------------------------------------------

    async def backup(self, step: str) -> None:
        """Note what is live (version, git, processes) and keep it for a rollback."""
        cfg, cmd = self.config, self.cmd
        procs = await self.backend.processes(step)
        live: LiveCode = await self.layout.live(cmd, step)
        git_line = ""
        if live.directory:
            # quiet: a release without git metadata makes `git log` say "fatal: not a git
            # repository"; the note below says "no git info", the screen needs no red line.
            res = await cmd.run(
                cfg.steps.backup.version_command, step=step, cwd=live.directory, check=False,
                timeout=cfg.steps.backup.timeout_s, quiet=True,
            )  # fmt: skip
            git_line = res.stdout.strip().splitlines()[0] if res.ok and res.stdout.strip() else ""
        version = (await self.layout.version(cmd, step, live.directory) if live.directory
                   else "") or (procs[0].version if procs else "")  # fmt: skip
        online = sum(p.status == "online" for p in procs)
        kind = self.backend.name
        self.record(
            "note", step,
            f"live: version {version or '?'} ({git_line or 'no git info'}); "
            f"{kind}: {online}/{len(procs)} {cfg.app.name} online",
            data={"version": version, "git": git_line, "release": live.release,
                  kind: [{"name": p.name, "pm_id": p.pm_id, "status": p.status,
                          "version": p.version} for p in procs]},
        )  # fmt: skip
        if self.lead:
            self.wf._update(from_version=version)
        self.set(from_release=live.release, from_git=git_line, from_version=version)
        kept = await self.layout.backup(cmd, step, live)
        if kept:
            self.set(**kept)

    # -- BUILD --------------------------------------------------------------------------------

    async def build(self, step: str, release: str | None) -> None:
        """Fetch the ref where the layout puts new code, install, build, migrate."""
        cfg, cmd, dep = self.config, self.cmd, self.wf.deployment
        assert dep is not None
        ref, timeout = dep.ref, cfg.steps.build.timeout_s
        new = self.layout.prepare(dep.id, release, cfg.app.repo)
        self.set(**new.data)
        await self.layout.fetch(cmd, step, new, cfg.app.repo, ref, timeout)
        values = self.values(new.directory)
        scripts = await self._npm_scripts(step, new.directory)
        for argv in (cfg.steps.build.install, cfg.steps.build.build, cfg.steps.build.migrate):
            # An app without a build script (most plain Node apps) has nothing to build.
            script = _npm_run_script(argv) if argv is cfg.steps.build.build else ""
            if script and scripts is not None and script not in scripts:
                self.record("note", step, f"no {script} script: skipped",
                            data={"argv": list(argv)})  # fmt: skip
                continue
            if argv:
                await cmd.run(substitute(argv, values), step=step, cwd=new.directory,
                              timeout=timeout)  # fmt: skip
        version = await self.layout.version(cmd, step, new.directory)
        head = await cmd.run(["git", "log", "-1", "--oneline"], step=step, cwd=new.directory,
                             check=False, quiet=True)  # fmt: skip
        if self.lead:
            self.wf._update(to_version=version)
        self.set(to_version=version, built=True, to_git=head.stdout.strip())
        self.record("note", step, f"built version {version or '?'} in {new.directory}")

    async def _npm_scripts(self, step: str, directory: str) -> set[str] | None:
        """The script names of ``directory/package.json`` (None when it cannot be read)."""
        res = await self.cmd.run(["cat", f"{directory}/package.json"], step=step, check=False,
                                 quiet=True, keep_output=False)  # fmt: skip
        try:
            scripts = json.loads(res.stdout).get("scripts") if res.ok else None
        except (ValueError, AttributeError):
            return None
        return {str(k) for k in scripts} if isinstance(scripts, dict) else (set() if res.ok
                                                                              else None)

    async def after_failed_build(self, step: str) -> None:
        try:
            await self.layout.after_failed_build(self.cmd, step, self.state, self.tag)
        except (TransportError, WorkflowError) as err:
            self.record("note", step, f"cleanup after the failed build failed: {err}")

    @property
    def tag(self) -> str:
        return str(self.wf.deployment_id)

    # -- DEPLOY -------------------------------------------------------------------------------

    async def deploy(self, step: str) -> None:
        """Switch to the built code, have the backend serve it (proven), note the restarts."""
        release = self.state.get("release")
        directory = self.layout.release_dir(str(release) if release else None)
        await self.layout.switch(self.cmd, step, str(release) if release else None, self.tag)
        self.set(switched=True)
        dep = self.wf.deployment
        version = str(self.state.get("to_version") or (dep.to_version if dep else ""))
        facts = await self.backend.reload(self.release(directory, version), step)
        if facts:
            self.set(**facts)
        procs = await self.backend.processes(step)
        self.set(
            restarts_baseline={str(p.pm_id): p.restarts for p in procs}, deployed_at=time.time()
        )

    # -- VERIFY -------------------------------------------------------------------------------

    async def verify(self, step: str) -> list[str]:
        """The verification checks on this host, one ``check`` event each; the FAILED ones."""
        from tui.core.workflow_verify import run_verify  # httpx loads when VERIFY first runs

        return await run_verify(self, step)

    # -- ROLLBACK -----------------------------------------------------------------------------

    async def rollback(
        self,
        step: str,
        undo: Callable[[str | None], Awaitable[str]] | None = None,
        data: Callable[[], Awaitable[str]] | None = None,
    ) -> tuple[str, str]:
        """Put this host's code back (the layout's plan) and have it served, proven. The lead
        host also runs ``undo`` (the bad release's down-migration, in its directory; in place
        before the restore takes that away) and then ``data``. Returns (what was done, why the
        chosen data way did not happen or "")."""
        cmd, layout = self.cmd, self.layout
        plan = await layout.rollback_plan(cmd, step, self.state)
        problem = ""
        if plan.never_live:  # nothing went live: no reload, the data stays
            if undo is not None:
                problem = await undo(plan.bad_directory)
            return await layout.discard(cmd, step, plan), problem
        version = await layout.version(cmd, step, plan.source)
        if self.lead and self.state.get("kind") == "rollback" and plan.bad_directory:
            bad_version = await layout.version(cmd, step, plan.bad_directory)
            self.wf._update(from_version=bad_version, to_version=version)
        if undo is not None and plan.migrate_first:
            problem = await undo(plan.bad_directory)
        await layout.go_back(cmd, step, plan, self.tag)
        facts = await self.backend.reload(self.release(plan.serve_dir, version), step)
        if facts:
            self.set(**facts)
        # The seed's order: code back first, then data. The bad release stays on disk (marked
        # failed), so its own down-migrations are still there to run.
        if undo is not None and not plan.migrate_first:
            problem = await undo(plan.bad_directory)
        if data is not None:
            problem = await data() or problem
        if plan.data:
            self.set(**plan.data)
        return f"{plan.done} (version {version or '?'})", problem

    # -- CONFIRM ------------------------------------------------------------------------------

    async def confirm(self, step: str, line: str) -> None:
        """Mark the release good and append the changelog line on this host."""
        release = self.state.get("release")
        await self.layout.mark(self.cmd, step, str(release) if release else None, "good")
        await self.cmd.run(["tee", "-a", self.layout.changelog_path], step=step,
                           stdin=line + "\n", quiet=True)  # fmt: skip

    async def prune(self, step: str) -> None:
        try:
            gone = await self.layout.prune(self.cmd, step)
        except (TransportError, WorkflowError, ValueError) as err:
            self.record("note", step, f"retention skipped: {err}")
            return
        if gone:
            self.record("note", step, f"retention removed {', '.join(gone)}")
