"""The `in-place` layout (the seed's): the live directory is a git checkout updated in place.

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

from tui.core.releases import is_commit
from tui.core.workflow_steps import Commander


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

    async def backup(self, cmd: Commander, step: str, now: datetime | None = None) -> str:
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

    async def fetch(self, cmd: Commander, step: str, repo: str, ref: str, timeout: float) -> None:
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
