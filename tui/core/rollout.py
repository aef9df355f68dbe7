"""A rollout: one step of a deployment run over its hosts, and the deploy lock on all of them.

Rules: each host's part of a step journals its own ``step.start`` / ``step.ok`` / ``step.fail``
(with its host), so the journal says per host how far the deployment got; the step failed when
any host's part did. The lock is taken on every host before anything changes (all or none) and
released on all. Hosts run their part together, or batch after batch (``batch_size``): a failed
batch stops the step before the next batch is touched.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, replace
from typing import TYPE_CHECKING

from tui.core.journal import Journal
from tui.core.lines import one_line
from tui.core.pm2 import Pm2Error
from tui.core.transport import TransportError
from tui.core.workflow_steps import (
    BACKUP,
    BUILD,
    DEPLOY,
    ROLLBACK,
    VERIFY,
    StepFailed,
    WorkflowError,
)

if TYPE_CHECKING:
    from tui.core.workflow_host import HostRun

#: Steps every host runs its own part of; the others (CONFIRM) run once, on the lead host.
PER_HOST = (BACKUP, BUILD, DEPLOY, VERIFY, ROLLBACK)
_STATES = {"step.start": "running", "step.ok": "ok", "step.fail": "failed"}
# Expected failures (commands, transport, pm2) and bugs alike end as a journaled step.fail.
_KNOWN = (WorkflowError, TransportError, Pm2Error, OSError, ValueError)

Body = Callable[["HostRun"], Awaitable[None]]


class Rollout:
    def __init__(self, runs: Sequence[HostRun], batch_size: int = 1) -> None:
        if not runs:
            raise ValueError("a rollout needs at least one host")
        self.runs = list(runs)
        self.batch_size = max(0, batch_size)  # 0: all hosts at once

    @property
    def lead(self) -> HostRun:
        """The first host: it runs the once-per-deployment parts (and names the deployment)."""
        return self.runs[0]

    # -- state, from the journal ----------------------------------------------------------------

    def host_states(self, journal: Journal, deployment_id: int) -> dict[str, dict[str, str]]:
        """host -> step -> "running" | "ok" | "failed". An event without a host speaks for the
        whole deployment (every host)."""
        states: dict[str, dict[str, str]] = {r.name: {} for r in self.runs}
        for ev in journal.events(deployment_id=deployment_id, kinds=_STATES):
            if not ev.step:
                continue
            for name, steps in states.items():
                if ev.host in (name, ""):
                    steps[ev.step] = _STATES[ev.kind]
        return states

    def step_states(self, journal: Journal, deployment_id: int) -> dict[str, str]:
        """step -> state of the deployment: a per-host step is ok when it is ok on every host,
        failed when it failed on one, else running; a once-only step is its own state."""
        per_host = self.host_states(journal, deployment_id)
        order: list[str] = []
        for steps in per_host.values():
            order += [s for s in steps if s not in order]
        out: dict[str, str] = {}
        for step in order:
            seen = [steps[step] for steps in per_host.values() if step in steps]
            if step not in PER_HOST and seen:
                out[step] = seen[0]
            elif "failed" in seen:
                out[step] = "failed"
            elif len(seen) == len(per_host) and all(s == "ok" for s in seen):
                out[step] = "ok"
            else:
                out[step] = "running"
        return out

    def pending(self, step: str, journal: Journal, deployment_id: int) -> list[HostRun]:
        """The hosts to run ``step`` on: those where it is not ok yet (a resume finishes a step
        that stopped halfway), or all of them when it is ok everywhere (asked again)."""
        states = self.host_states(journal, deployment_id)
        todo = [r for r in self.runs if states[r.name].get(step) != "ok"]
        return todo or list(self.runs)

    # -- running a step ---------------------------------------------------------------------------

    async def run(
        self,
        step: str,
        title: str,
        body: Body,
        hosts: Sequence[HostRun] | None = None,
        *,
        batch_size: int | None = None,
        keep_going: bool = False,
    ) -> None:
        """``body(host)`` on each host inside that host's step events; StepFailed (the first
        failed host's message) when any failed, after its batch (``keep_going``: after all
        batches). Cancellation reaches every host's part."""
        runs = list(self.runs if hosts is None else hosts)
        size = self.batch_size if batch_size is None else batch_size
        size = size or len(runs)
        failed: list[BaseException] = []
        for start in range(0, len(runs), size):
            batch = runs[start : start + size]
            if len(batch) == 1:
                results: list[BaseException | None] = [None]
                try:
                    await self._one(batch[0], step, title, body)
                except StepFailed as err:
                    results = [err]
            else:
                results = await asyncio.gather(
                    *(self._one(r, step, title, body) for r in batch), return_exceptions=True
                )
            for result in results:  # a cancelled part first: the deployment is interrupted
                if isinstance(result, asyncio.CancelledError | KeyboardInterrupt):
                    raise result
            failed += [r for r in results if isinstance(r, BaseException)]
            if failed and not keep_going:
                break
        if not failed:
            return
        first = failed[0]
        if not isinstance(first, StepFailed) or len(failed) == 1:
            raise first
        raise StepFailed(step, f"{first} (and {len(failed) - 1} more host(s))")

    async def _one(self, run: HostRun, step: str, title: str, body: Body) -> None:
        run.record("step.start", step, title)
        t0 = time.monotonic()
        try:
            await body(run)
        except (asyncio.CancelledError, KeyboardInterrupt):
            took = round(time.monotonic() - t0, 3)
            run.record("step.fail", step, f"{step.upper()} interrupted", duration=took)
            raise
        except Exception as err:
            message = str(err) if isinstance(err, WorkflowError) else one_line(err)
            if not isinstance(err, _KNOWN):
                message = f"internal error ({type(err).__name__}): {message}"
            took = round(time.monotonic() - t0, 3)
            said = f"{step.upper()} failed: "
            message = message.removeprefix(said)  # a StepFailed from inside says it already
            run.record("step.fail", step, said + message, duration=took)
            raise StepFailed(step, said + message) from err
        run.record("step.ok", step, f"{step.upper()} ok", duration=round(time.monotonic() - t0, 3))

    # -- the deploy lock, on every host ------------------------------------------------------

    async def acquire(self, *, action: str, take_over: int | None = None) -> None:
        """Take the lock on every host, in order; when one refuses (LockedError), give back the
        ones taken and raise."""
        taken: list[HostRun] = []
        try:
            for run in self.runs:
                await run.lock.acquire(run.cmd, action=action, take_over=take_over)
                taken.append(run)
        except BaseException:
            await self.release(taken)
            raise

    async def write_owner(self, deployment_id: int) -> None:
        """Name the deployment in each lock's owner.json (a resume takes over its own lock)."""
        for run in self.runs:
            owner = run.lock.owner
            if owner is None:
                continue
            run.lock.owner = replace(owner, deployment_id=deployment_id)
            await run.cmd.run(
                ["tee", run.lock.owner_file], step="lock", quiet=True,
                stdin=json.dumps(asdict(run.lock.owner)),
            )  # fmt: skip

    def holds(self) -> bool:
        return any(r.lock.owner is not None for r in self.runs)

    async def release(self, runs: Sequence[HostRun] | None = None) -> None:
        """Give the lock back on every host that holds it; a host that cannot is journaled."""
        for run in self.runs if runs is None else runs:
            if run.lock.owner is None:
                continue
            try:
                # Shielded: a cancelled deploy must still give the lock back.
                await asyncio.shield(run.lock.release(run.cmd))
            except (TransportError, WorkflowError) as err:
                run.record("lock", "lock", f"could not release the lock: {err}")
