"""The `releases` layout (a ``DeployLayout``): `<root>/releases/<id>/` and a `current` link.

- A release is built in its own new directory; `current` is switched only to a fully built one.
- The switch is `ln -sfn releases/<id> current.tmp-<n>` then `mv -T current.tmp-<n> current`:
  rename(2) replaces the link in one step, so a reader sees the old or the new target, never none.
- Markers: `.shipdeck-good` (confirmed) and `.shipdeck-failed` (failed build, failed deploy or
  rolled back). Retention keeps `keep` releases, never the live one or the last good ones, and
  lets failed releases go first so they never push a good one out.
- Rollback is a switch back plus a reload: its cost does not depend on the app's size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tui.core.layout import LiveCode, NewCode, RollbackPlan, State, read_version
from tui.core.lock import LOCK_NAME
from tui.core.workflow_steps import Commander, OrderError, WorkflowError

GOOD_MARKER = ".shipdeck-good"
FAILED_MARKER = ".shipdeck-failed"
_ID_OK = re.compile(r"[A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Release:
    id: str
    state: str  # "good" | "failed" | "unknown"

    @property
    def sort_key(self) -> tuple[str, str]:
        # Ids start with a UTC timestamp, with or without dashes (rig: 20261126163412,
        # shipdeck: 20261126-163412-7): compare the first 14 digits, then the whole id.
        return (re.sub(r"\D", "", self.id)[:14], self.id)


def new_release_id(deployment_id: int, now: datetime | None = None) -> str:
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{deployment_id}"


def check_release_id(release_id: str) -> str:
    if not _ID_OK.fullmatch(release_id) or release_id in (".", ".."):
        raise ValueError(f"not a release id: {release_id!r}")
    return release_id


def parse_listing(text: str) -> list[Release]:
    """Lines of `find releases -mindepth 1 -maxdepth 2 -printf '%d %y %P\\n'`, oldest first."""
    dirs: list[str] = []
    marks: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(" ", 2)
        if len(parts) != 3:
            continue
        depth, kind, rel = parts
        if depth == "1" and kind == "d":
            dirs.append(rel)
        elif depth == "2":
            rid, _, name = rel.partition("/")
            if name == FAILED_MARKER:
                marks[rid] = "failed"  # failed wins: a rolled-back release may still say good
            elif name == GOOD_MARKER and marks.get(rid) != "failed":
                marks[rid] = "good"
    releases = [Release(d, marks.get(d, "unknown")) for d in dirs if _ID_OK.fullmatch(d)]
    return sorted(releases, key=lambda r: r.sort_key)


def plan_retention(
    releases: list[Release], keep: int, live: str | None, protect: tuple[str, ...] = ()
) -> list[str]:
    """Ids to delete so at most ``keep`` releases stay (more if protection demands).

    Always kept: the live release, the newest good ones up to two (the live one and the one a
    rollback would go back to), and ``protect`` (e.g. a release being built). Then the rest fills
    up by preference: good, then unmarked, then failed, newest first within each.
    """
    newest_first = sorted(releases, key=lambda r: r.sort_key, reverse=True)
    kept: list[str] = []
    for r in newest_first:
        if r.id == live or r.id in protect:
            kept.append(r.id)
    goods = [r.id for r in newest_first if r.state == "good"]
    for rid in goods[:2]:
        if rid not in kept:
            kept.append(rid)
    rank = {"good": 0, "unknown": 1, "failed": 2}
    for r in sorted(newest_first, key=lambda r: rank[r.state]):  # stable: newest first per rank
        if len(kept) >= keep:
            break
        if r.id not in kept:
            kept.append(r.id)
    return [r.id for r in newest_first if r.id not in kept]


class ReleasesLayout:
    name = "releases"

    def __init__(self, root: str, keep: int) -> None:
        self.root = root.rstrip("/") or "/"
        self.keep = keep

    @property
    def releases_dir(self) -> str:
        return f"{self.root}/releases"

    @property
    def current(self) -> str:
        return f"{self.root}/current"

    def path(self, release_id: str) -> str:
        return f"{self.releases_dir}/{check_release_id(release_id)}"

    # -- DeployLayout ----------------------------------------------------------------------

    @property
    def lock_path(self) -> str:
        return f"{self.root}/{LOCK_NAME}"

    @property
    def changelog_path(self) -> str:
        return f"{self.root}/shipdeck-changelog.log"

    def ecosystem(self, ecosystem: str) -> str:
        return ecosystem if ecosystem.startswith("/") else f"{self.current}/{ecosystem}"

    def release_dir(self, release: str | None) -> str:
        if not release:
            raise OrderError("no release was built for this deployment")
        return self.path(release)

    async def live(self, cmd: Commander, step: str) -> LiveCode:
        release = await self.live_id(cmd, step)
        return LiveCode(release, self.path(release) if release else None)

    async def releases(self, cmd: Commander, step: str) -> list[Release]:
        return await self.list(cmd, step)

    async def version(self, cmd: Commander, step: str, directory: str) -> str:
        return await read_version(cmd, step, directory)

    async def backup(self, cmd: Commander, step: str, live: LiveCode) -> dict[str, Any]:
        if live.release:
            cmd.note(step, f"release {live.release} stays as it is: nothing to copy")
        return {}

    def prepare(self, deployment_id: int, release: str | None, repo: str) -> NewCode:
        if not repo:
            raise WorkflowError("app.repo is empty: the releases layout clones from it")
        rid = release or new_release_id(deployment_id)
        return NewCode(self.path(rid), rid, {"release": rid, "built": False})

    async def switch(self, cmd: Commander, step: str, release: str | None, tag: str) -> None:
        rid = self.release_dir(release).rsplit("/", 1)[-1]
        await self.link(cmd, step, rid, tag)
        cmd.note(step, f"current -> releases/{rid}")

    async def mark(self, cmd: Commander, step: str, release: str | None, state: str) -> None:
        path = self.release_dir(release)
        if state == "good":
            await cmd.run(["rm", "-f", f"{path}/{FAILED_MARKER}"], step=step)
            await cmd.run(["touch", f"{path}/{GOOD_MARKER}"], step=step)
        else:
            await cmd.run(["touch", f"{path}/{FAILED_MARKER}"], step=step)

    async def after_failed_build(self, cmd: Commander, step: str, state: State, tag: str) -> None:
        rid = state.get("release")
        if rid:
            await self.mark(cmd, step, str(rid), "failed")
            cmd.note(step, f"release {rid} marked failed; current untouched")

    async def rollback_plan(self, cmd: Commander, step: str, state: State) -> RollbackPlan:
        releases = await self.list(cmd, step)
        live = await self.live_id(cmd, step)
        built = state.get("release")
        if built and not state.get("switched") and live != built:
            # BUILD runs the migrations, so a release that never went live may have changed
            # the schema all the same: its directory is where they are undone.
            return RollbackPlan(
                never_live=True, bad_directory=self.path(str(built)), bad=str(built), live=live,
                built=bool(state.get("built")),
            )  # fmt: skip
        bad = str(built) if built else live
        target = None
        wanted = state.get("from_release")
        by_id = {r.id: r for r in releases}
        if wanted and wanted != bad and wanted in by_id and by_id[wanted].state != "failed":
            target = by_id[wanted]
        if target is None:
            target = self.rollback_target(releases, live, exclude=(bad,) if bad else ())
        if target is None:
            raise WorkflowError("no previous good release to roll back to")
        path = self.path(target.id)
        return RollbackPlan(
            source=path, serve_dir=path, done=f"rolled back to release {target.id}",
            bad_directory=self.path(bad) if bad else None, release=target.id, bad=bad,
            data={"rolled_back_to": target.id},
        )  # fmt: skip

    async def discard(self, cmd: Commander, step: str, plan: RollbackPlan) -> str:
        built = str(plan.bad)
        if plan.built:
            await self.mark(cmd, step, built, "failed")
            done = f"marked {built} failed"
        else:  # half-built (interrupted BUILD): nothing in it is worth keeping
            await cmd.run(["rm", "-rf", self.path(built)], step=step)
            done = f"removed the unfinished {built}"
        return f"release {built} was never live; {plan.live} still is ({done})"

    async def go_back(self, cmd: Commander, step: str, plan: RollbackPlan, tag: str) -> None:
        assert plan.release is not None
        await self.link(cmd, step, plan.release, f"rb{tag}")
        cmd.note(step, f"current -> releases/{plan.release}")
        if plan.bad and plan.bad != plan.release:
            await self.mark(cmd, step, plan.bad, "failed")

    # -- the releases themselves ------------------------------------------------------------

    async def live_id(self, cmd: Commander, step: str) -> str | None:
        """The release id `current` points to, or None when there is no `current`."""
        result = await cmd.run(["readlink", self.current], step=step, check=False, quiet=True)
        target = result.stdout.strip()
        if not result.ok or not target:
            return None
        return target.rstrip("/").rsplit("/", 1)[-1]

    async def list(self, cmd: Commander, step: str) -> list[Release]:
        result = await cmd.run(
            ["find", self.releases_dir, "-mindepth", "1", "-maxdepth", "2",
             "-printf", "%d %y %P\\n"],
            step=step, check=False, quiet=True,
        )  # fmt: skip
        return parse_listing(result.stdout) if result.ok else []

    async def fetch(
        self, cmd: Commander, step: str, new: NewCode, repo: str, ref: str, timeout: float
    ) -> None:
        """Clone ``ref`` of ``repo`` into a new release dir (removing a half-built one first)."""
        path = new.directory
        await cmd.run(["mkdir", "-p", self.releases_dir], step=step)
        await cmd.run(["rm", "-rf", path], step=step)
        if is_commit(ref):
            # --branch takes names only; a commit needs the whole history fetched.
            await cmd.run(["git", "clone", "--quiet", repo, path], step=step, timeout=timeout)
            await cmd.run(
                ["git", "-c", "advice.detachedHead=false", "checkout", "--quiet", ref],
                step=step, cwd=path, timeout=timeout,
            )  # fmt: skip
        else:
            # A repository given as a path is cloned with git's local shortcut, which ignores
            # --depth and says so in a warning on every BUILD; --no-local takes the normal way.
            local = ["--no-local"] if repo.startswith("/") else []
            await cmd.run(
                ["git", "-c", "advice.detachedHead=false", "clone", "--quiet", *local,
                 "--depth", "1", "--branch", ref, repo, path],
                step=step, timeout=timeout,
            )  # fmt: skip

    async def link(self, cmd: Commander, step: str, release_id: str, tag: str) -> None:
        """Point `current` at ``release_id`` in one rename."""
        self.path(release_id)  # validates the id
        tmp = f"{self.root}/.current.tmp-{tag}"
        await cmd.run(["ln", "-sfn", f"releases/{release_id}", tmp], step=step)
        await cmd.run(["mv", "-T", tmp, self.current], step=step)

    async def prune(self, cmd: Commander, step: str, protect: tuple[str, ...] = ()) -> list[str]:
        releases = await self.list(cmd, step)
        live = await self.live_id(cmd, step)
        doomed = plan_retention(releases, self.keep, live, protect)
        for rid in doomed:
            await cmd.run(["rm", "-rf", self.path(rid)], step=step)
        return doomed

    def rollback_target(
        self, releases: list[Release], live: str | None, exclude: tuple[str, ...] = ()
    ) -> Release | None:
        """The newest good release that is neither live nor excluded."""
        for r in sorted(releases, key=lambda r: r.sort_key, reverse=True):
            if r.state == "good" and r.id != live and r.id not in exclude:
                return r
        return None


def is_commit(ref: str) -> bool:
    return bool(re.fullmatch(r"[0-9a-f]{7,40}", ref))
