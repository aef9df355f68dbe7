"""The `releases` layout on a host: `<root>/releases/<id>/` plus a `current` symlink.

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

from tui.core.workflow_steps import Commander

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

    async def live(self, cmd: Commander, step: str) -> str | None:
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
        self, cmd: Commander, step: str, release_id: str, repo: str, ref: str, timeout: float
    ) -> str:
        """Clone ``ref`` of ``repo`` into a new release dir (removing a half-built one first)."""
        path = self.path(release_id)
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
            await cmd.run(
                ["git", "-c", "advice.detachedHead=false", "clone", "--quiet", "--depth", "1",
                 "--branch", ref, repo, path],
                step=step, timeout=timeout,
            )  # fmt: skip
        return path

    async def switch(self, cmd: Commander, step: str, release_id: str, tag: str) -> None:
        self.path(release_id)  # validates the id
        tmp = f"{self.root}/.current.tmp-{tag}"
        await cmd.run(["ln", "-sfn", f"releases/{release_id}", tmp], step=step)
        await cmd.run(["mv", "-T", tmp, self.current], step=step)

    async def mark(self, cmd: Commander, step: str, release_id: str, state: str) -> None:
        path = self.path(release_id)
        if state == "good":
            await cmd.run(["rm", "-f", f"{path}/{FAILED_MARKER}"], step=step)
            await cmd.run(["touch", f"{path}/{GOOD_MARKER}"], step=step)
        else:
            await cmd.run(["touch", f"{path}/{FAILED_MARKER}"], step=step)

    async def prune(self, cmd: Commander, step: str, protect: tuple[str, ...] = ()) -> list[str]:
        releases = await self.list(cmd, step)
        live = await self.live(cmd, step)
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
