"""The data side of a deployment, once per deployment on its lead host: the database's dump
inside BACKUP, and inside ROLLBACK (after every host's code is back) the operator's choice:
nothing, the bad release's down-migration, or the dump restored (``DataRollback``).

Rules: the data never goes back unless asked (an automatic rollback is CODE_ONLY); a failed
down-migration is not raised (the code going back comes first) but told in the outcome.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tui.core.journal import Deployment
from tui.core.lines import one_line
from tui.core.transport import TransportError
from tui.core.workflow_steps import BACKUP, ROLLBACK, DataRollback, WorkflowError, substitute

if TYPE_CHECKING:
    from tui.core.workflow import Workflow

# What the outcome says was NOT done to the database when the chosen way did not happen.
NOT_DONE = {
    DataRollback.CODE_ONLY: "rolled back",
    DataRollback.MIGRATE_DOWN: "migrated down",
    DataRollback.RESTORE: "restored",
}


class DeploymentData:
    """``wf.database`` (a ``tui.core.database.Database``, or None) as the workflow uses it."""

    def __init__(self, wf: Workflow) -> None:
        self.wf = wf

    @property
    def database(self) -> Any:
        return self.wf.database

    def _no_database(self, what: str) -> str:
        if not self.wf.config.database.enabled:
            return "database: not configured"
        return f"database: {what} (this workflow was given no database hooks)"

    async def backup(self, deployment: Deployment) -> None:
        """BACKUP's dump (a DatabaseError fails BACKUP, so DEPLOY never runs without one)."""
        if self.database is None:
            self.wf._record("note", BACKUP, self._no_database("not dumped"))
            return
        await self.database.backup_for(deployment)

    async def leave(self, deployment: Deployment) -> None:
        """A rollback that leaves the data as it is (journals where the dump is)."""
        if self.database is None:
            self.wf._record("note", ROLLBACK, self._no_database("left as it is"))
            return
        self.database.leave(deployment)

    async def restore(self, deployment: Deployment) -> str:
        """The dump back in place; why not, when there is no database to restore."""
        if self.database is None:
            problem = self._no_database("not restored")
            self.wf._record("note", ROLLBACK, problem)
            return problem
        await self.database.restore_for(deployment)
        return ""

    async def migrate_down(self, directory: str | None, choice: DataRollback) -> str:
        """``[steps.rollback] migrate_down`` in ``directory`` (the release whose migrations to
        undo; None: there is none) when the operator chose MIGRATE_DOWN. Returns why it did not
        happen, or ""."""
        if choice != DataRollback.MIGRATE_DOWN:
            return ""
        wf = self.wf
        argv = list(wf.config.steps.rollback.migrate_down)
        if directory is None or not argv:
            problem = ("[steps.rollback] migrate_down is empty" if not argv
                       else "no release of this rollback to run it in")  # fmt: skip
            wf._record("note", ROLLBACK, problem)
            return problem
        timeout = wf.config.steps.rollback.timeout_s
        args = substitute(argv, wf.lead.values(directory))
        try:
            result = await wf.cmd.run(args, step=ROLLBACK, cwd=directory, timeout=timeout)
        except (WorkflowError, TransportError) as err:
            problem = one_line(err)
            wf._record("note", ROLLBACK, f"down-migration failed: {problem}")
            return problem
        took = f"{result.duration:.1f}s"
        wf._record("note", ROLLBACK, f"down-migration ran in {directory} ({took})")
        return ""
