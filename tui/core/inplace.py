"""The `in-place` layout (a ``DeployLayout``; the seed's): one git checkout updated in place.

- BACKUP copies the live directory to `<backup_dir>/<app>-YYYYmmdd-HHMMSS`, through a hidden
  `.partial` name renamed at the end, so a half-finished copy never counts as a backup.
- BUILD fetches the ref and checks it out in the live directory, then installs and builds there.
- ROLLBACK restores the newest backup into a SIBLING directory first and then swaps it with the
  live one by two renames, so the live path is never an empty or half-copied directory (it is
  absent only between the two renames; running processes keep their open directory).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from tui.core.layout import LiveCode, NewCode, RollbackPlan, State, read_version
from tui.core.lock import LOCK_NAME
from tui.core.releases import is_commit
from tui.core.workflow_steps import Commander, WorkflowError

GOOD_MARKER = ".shipdeck-good"


class InPlaceLayout:
    name = "in-place"

    def __init__(self, root: str, backup_dir: str, app: str) -> None:
        self.root = root.rstrip("/") or "/"
        self.backup_dir = backup_dir.rstrip("/") or "/"
        self.app = app

    @property
    def parent(self) -> str:
        return self.root.rsplit("/", 1)[0] or "/"

    def _prefix(self) -> str:
        return f"{self.app}-"

    # -- DeployLayout ----------------------------------------------------------------------
    # The lock and the changelog are siblings of the root: a rollback swaps the root away.

    @property
    def lock_path(self) -> str:
        return f"{self.root}{LOCK_NAME}"

    @property
    def changelog_path(self) -> str:
        return f"{self.root}.shipdeck-changelog.log"

    def ecosystem(self, ecosystem: str) -> str:
        return ecosystem if ecosystem.startswith("/") else f"{self.root}/{ecosystem}"

    def release_dir(self, release: str | None) -> str:
        return self.root

    async def live(self, cmd: Commander, step: str) -> LiveCode:
        return LiveCode(None, self.root)

    async def releases(self, cmd: Commander, step: str) -> None:
        return None  # one checkout, no releases

    async def version(self, cmd: Commander, step: str, directory: str) -> str:
        return await read_version(cmd, step, directory)

    async def backup(self, cmd: Commander, step: str, live: LiveCode) -> dict[str, Any]:
        path = await self.copy(cmd, step)
        cmd.note(step, f"live directory copied to {path}")
        return {"backup": path}

    def prepare(self, deployment_id: int, release: str | None, repo: str) -> NewCode:
        return NewCode(self.root, None, {"code_changed": True, "built": False})

    async def switch(self, cmd: Commander, step: str, release: str | None, tag: str) -> None:
        return None  # the built code is live already

    async def mark(self, cmd: Commander, step: str, release: str | None, state: str) -> None:
        if state == "good":
            await cmd.run(["touch", f"{self.root}/{GOOD_MARKER}"], step=step)

    async def after_failed_build(self, cmd: Commander, step: str, state: State, tag: str) -> None:
        backup = state.get("backup")
        if state.get("code_changed") and backup:
            # The checkout already changed: put the backed-up copy back.
            await self.restore(cmd, step, str(backup), tag)
            cmd.note(step, f"live directory restored from {backup}")

    async def prune(self, cmd: Commander, step: str) -> list[str]:
        return []  # backups are kept: their retention is the operator's

    async def rollback_plan(self, cmd: Commander, step: str, state: State) -> RollbackPlan:
        backup = state.get("backup")
        if not backup:
            backups = await self.backups(cmd, step)
            if not backups:
                raise WorkflowError(f"no backup of {self.app} to restore")
            backup = backups[-1]
        # In place, restoring the backup removes the bad code and its down-migrations with it:
        # they are undone first, while they are still live.
        return RollbackPlan(
            source=str(backup), serve_dir=self.root, done=f"restored {backup}",
            bad_directory=self.root, migrate_first=True, backup=str(backup),
        )  # fmt: skip

    async def discard(self, cmd: Commander, step: str, plan: RollbackPlan) -> str:
        raise WorkflowError("in place, every built release is live")  # never planned

    async def go_back(self, cmd: Commander, step: str, plan: RollbackPlan, tag: str) -> None:
        assert plan.backup is not None
        await self.restore(cmd, step, plan.backup, tag)
        cmd.note(step, f"live directory restored from {plan.backup}")

    # -- backups, fetch, restore --------------------------------------------------------------

    async def copy(self, cmd: Commander, step: str, now: datetime | None = None) -> str:
        """Copy the live directory to a new backup (through a `.partial` name); its path."""
        stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
        final = f"{self.backup_dir}/{self._prefix()}{stamp}"
        partial = f"{self.backup_dir}/.{self._prefix()}{stamp}.partial"
        await cmd.run(["mkdir", "-p", self.backup_dir], step=step)
        await cmd.run(["rm", "-rf", partial], step=step)
        await cmd.run(["cp", "-a", self.root, partial], step=step, timeout=3600)
        await cmd.run(["mv", "-T", partial, final], step=step)
        return final

    async def backups(self, cmd: Commander, step: str) -> list[str]:
        """Backup paths of this app, oldest first."""
        result = await cmd.run(
            ["find", self.backup_dir, "-mindepth", "1", "-maxdepth", "1", "-type", "d",
             "-name", f"{self._prefix()}*", "-printf", "%f\\n"],
            step=step, check=False, quiet=True,
        )  # fmt: skip
        pattern = re.compile(re.escape(self._prefix()) + r"\d{8}-\d{6}")
        names = sorted(n for n in result.stdout.split() if pattern.fullmatch(n))
        return [f"{self.backup_dir}/{n}" for n in names]

    async def fetch(
        self, cmd: Commander, step: str, new: NewCode, repo: str, ref: str, timeout: float
    ) -> None:
        source = repo or "origin"
        await cmd.run(
            ["git", "fetch", "--quiet", "--tags", source, ref],
            step=step, cwd=self.root, timeout=timeout,
        )  # fmt: skip
        target = ref if is_commit(ref) else "FETCH_HEAD"
        await cmd.run(
            ["git", "-c", "advice.detachedHead=false", "checkout", "--quiet", "--force",
             "--detach", target],
            step=step, cwd=self.root, timeout=timeout,
        )  # fmt: skip

    async def restore(self, cmd: Commander, step: str, backup: str, tag: str) -> None:
        """Copy ``backup`` next to the live dir, then swap the two (old copy removed last)."""
        name = self.root.rsplit("/", 1)[-1]
        staged = f"{self.parent}/.{name}.restore-{tag}"
        old = f"{self.parent}/.{name}.old-{tag}"
        await cmd.run(["rm", "-rf", staged, old], step=step)
        await cmd.run(["cp", "-a", backup, staged], step=step, timeout=3600)
        await cmd.run(["mv", "-T", self.root, old], step=step)
        try:
            await cmd.run(["mv", "-T", staged, self.root], step=step)
        except BaseException:
            await cmd.run(["mv", "-T", old, self.root], step=step, check=False)
            raise
        await cmd.run(["rm", "-rf", old], step=step, timeout=3600)
