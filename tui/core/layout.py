"""Where an app's code lives on a host: the ``DeployLayout`` protocol and what it answers with.

Two layouts implement it: releases (releases.py: a directory per release, a `current` link) and
in-place (inplace.py: one git checkout, copied before each deploy). The workflow asks a layout
only through this protocol, never which layout it has. Every command goes through the step's
``Commander`` (journaled); a layout journals its own notes with ``cmd.note``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tui.core.config import Config
    from tui.core.workflow_steps import Commander

#: A host's part of the deployment's data as a layout reads it: "release" (the id BUILD made,
#: releases only), "built", "switched", "backup" (in place), "code_changed" (in place).
State = Mapping[str, Any]


@dataclass(frozen=True)
class LiveCode:
    """What is live on the host: the release id (None in place, or when nothing is live) and
    its directory (None when there is none)."""

    release: str | None
    directory: str | None


@dataclass(frozen=True)
class NewCode:
    """Where BUILD puts the new code, and what the deployment records before fetching it."""

    directory: str
    release: str | None  # the release id (None in place: the live directory itself)
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RollbackPlan:
    """How a host goes back. ``never_live``: the built release never went live, so nothing is
    put back (``discard`` drops it); otherwise ``go_back`` puts the code of ``source`` back and
    the backend serves it from ``serve_dir``."""

    never_live: bool = False
    source: str = ""  # the code to go back to (its version is read there, before going back)
    serve_dir: str = ""  # where the processes run it from afterwards
    done: str = ""  # for the outcome: "rolled back to release X" / "restored /backup/x"
    # The bad release's directory (its down-migrations, its version); None when there is none.
    bad_directory: str | None = None
    # In place the bad code goes away with the restore: its down-migrations must run first.
    migrate_first: bool = False
    data: Mapping[str, Any] = field(default_factory=dict)  # recorded when the host is back
    # The layout's own: which release or backup, which bad release, what is live now.
    release: str | None = None
    backup: str | None = None
    bad: str | None = None
    live: str | None = None
    built: bool = False


class DeployLayout(Protocol):
    """Everything the workflow asks of the place an app's code lives on one host."""

    name: str  # "releases" | "in-place": recorded in the deployment's data

    @property
    def lock_path(self) -> str:
        """The deploy lock's directory on the host (never inside what a rollback replaces)."""

    @property
    def changelog_path(self) -> str:
        """The file CONFIRM appends its changelog line to."""

    def ecosystem(self, ecosystem: str) -> str:
        """The path of the (pm2) ecosystem file as the live code has it: ``[app] ecosystem``,
        relative to the live code unless absolute."""

    def release_dir(self, release: str | None) -> str:
        """The directory of the code BUILD made (DEPLOY serves it); OrderError when none was."""

    async def live(self, cmd: Commander, step: str) -> LiveCode:
        """What is live now."""

    async def releases(self, cmd: Commander, step: str) -> list[Any] | None:
        """The releases on the host, oldest first (``releases.Release``: id and state "good",
        "failed" or "unknown"); None when the layout keeps none (in place)."""

    async def version(self, cmd: Commander, step: str, directory: str) -> str:
        """The version of the code in ``directory`` ("" when it cannot be read)."""

    async def backup(self, cmd: Commander, step: str, live: LiveCode) -> dict[str, Any]:
        """Keep the live code for a rollback (in place: a copy; releases: it stays as it is).
        Returns what to record in the deployment's data."""

    def prepare(self, deployment_id: int, release: str | None, repo: str) -> NewCode:
        """Where this deployment's new code goes (``release``: the id an earlier, interrupted
        BUILD chose). WorkflowError when the layout cannot build from ``repo``."""

    async def fetch(
        self, cmd: Commander, step: str, new: NewCode, repo: str, ref: str, timeout: float
    ) -> None:
        """Put ``ref`` of ``repo`` at ``new.directory``."""

    async def switch(self, cmd: Commander, step: str, release: str | None, tag: str) -> None:
        """Make the built code live (releases: the `current` link; in place it already is)."""

    async def mark(self, cmd: Commander, step: str, release: str | None, state: str) -> None:
        """Mark the code "good" (confirmed) or "failed"."""

    async def after_failed_build(self, cmd: Commander, step: str, state: State, tag: str) -> None:
        """Clean up after a failed BUILD so the live code is as it was."""

    async def prune(self, cmd: Commander, step: str) -> list[str]:
        """Apply retention; returns what was removed."""

    async def rollback_plan(self, cmd: Commander, step: str, state: State) -> RollbackPlan:
        """What a rollback of this host does; WorkflowError when there is nothing to go back to."""

    async def discard(self, cmd: Commander, step: str, plan: RollbackPlan) -> str:
        """Drop a release that never went live; returns what the outcome says."""

    async def go_back(self, cmd: Commander, step: str, plan: RollbackPlan, tag: str) -> None:
        """Put the code of ``plan.source`` back live (journaling what was done)."""


async def read_version(cmd: Commander, step: str, directory: str) -> str:
    """The ``version`` of ``directory/package.json`` on the host ("" when there is none)."""
    result = await cmd.run(["cat", f"{directory}/package.json"], step=step, check=False, quiet=True)
    if not result.ok:
        return ""
    try:
        return str(json.loads(result.stdout).get("version") or "")
    except (ValueError, AttributeError):
        return ""


def make_layout(config: Config) -> DeployLayout:
    """The layout ``[app] layout`` names."""
    app = config.app
    if app.layout == "in-place":
        from tui.core.inplace import InPlaceLayout

        return InPlaceLayout(app.root, app.backup_dir, app.name)
    from tui.core.releases import ReleasesLayout

    return ReleasesLayout(app.root, app.keep_releases)
