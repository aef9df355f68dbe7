"""The deploy lock: a directory on the primary host, made with mkdir (atomic), plus owner.json.

Taken before BACKUP, released when the deployment ends however it ends. A second operator is
refused with `locked by USER@HOST since TIME (N min ago)`. A lock is stale when its owner
process is gone (checked only when the owner ran on this very jump host) or when it is older
than ``policy.lock_stale_minutes``; a stale lock is shown as such and broken only on request
(`shipdeck unlock`), or by a resume of the very deployment that left it.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from tui.core.journal import local_identity
from tui.core.workflow_steps import Commander, WorkflowError

LOCK_NAME = ".shipdeck-lock"


@dataclass(frozen=True)
class LockOwner:
    local_user: str
    jump_host: str
    ssh_user: str
    pid: int
    started_at: float
    token: str = ""
    deployment_id: int | None = None
    action: str = "deploy"

    @property
    def who(self) -> str:
        return f"{self.local_user}@{self.jump_host}"

    def describe(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        since = datetime.fromtimestamp(self.started_at).astimezone().strftime("%Y-%m-%d %H:%M %Z")
        minutes = max(0, int((now - self.started_at) // 60))
        return f"locked by {self.who} since {since} ({minutes} min ago)"

    @classmethod
    def from_json(cls, text: str, fallback_started: float) -> LockOwner:
        try:
            raw: Any = json.loads(text)
        except ValueError:
            raw = {}
        if not isinstance(raw, dict):
            raw = {}

        def num(key: str, default: float) -> float:
            try:
                return float(raw.get(key, default))
            except (TypeError, ValueError):
                return default

        dep = raw.get("deployment_id")
        return cls(
            local_user=str(raw.get("local_user") or "?"),
            jump_host=str(raw.get("jump_host") or "?"),
            ssh_user=str(raw.get("ssh_user") or ""),
            pid=int(num("pid", 0)),
            started_at=num("started_at", fallback_started),
            token=str(raw.get("token") or ""),
            deployment_id=int(dep) if isinstance(dep, int) else None,
            action=str(raw.get("action") or "deploy"),
        )


class LockedError(WorkflowError):
    """Someone else holds the deploy lock (exit code 3)."""

    def __init__(self, owner: LockOwner, stale: bool, path: str) -> None:
        text = owner.describe()
        if stale:
            text += "; the lock looks stale: break it with `shipdeck unlock`"
        super().__init__(text)
        self.owner = owner
        self.stale = stale
        self.path = path


def pid_alive(pid: int) -> bool:
    """A live process, not a zombie (PID 1 here reaps late; RIG-NOTES)."""
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
            state = fh.read().rsplit(")", 1)[-1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def is_stale(owner: LockOwner, stale_minutes: float, now: float | None = None) -> bool:
    now = time.time() if now is None else now
    if now - owner.started_at > stale_minutes * 60:
        return True
    _, here = local_identity()
    return owner.jump_host == here and not pid_alive(owner.pid)


class DeployLock:
    def __init__(self, path: str, *, ssh_user: str = "", stale_minutes: float = 120) -> None:
        self.path = path
        self.ssh_user = ssh_user
        self.stale_minutes = stale_minutes
        self.owner: LockOwner | None = None  # set while WE hold it

    @property
    def owner_file(self) -> str:
        return f"{self.path}/owner.json"

    async def read(self, cmd: Commander, step: str = "lock") -> LockOwner | None:
        """The current holder, or None when nobody holds the lock."""
        made = await cmd.run(["stat", "-c", "%Y", self.path], step=step, check=False, quiet=True)
        if not made.ok:
            return None
        try:
            fallback = float(made.stdout.strip())
        except ValueError:
            fallback = time.time()
        owner = await cmd.run(["cat", self.owner_file], step=step, check=False, quiet=True)
        # A lock whose owner.json is not written yet (or lost) still counts; its age is the dir's.
        return LockOwner.from_json(owner.stdout if owner.ok else "", fallback)

    async def acquire(
        self,
        cmd: Commander,
        *,
        deployment_id: int | None = None,
        action: str = "deploy",
        take_over: int | None = None,
        step: str = "lock",
    ) -> LockOwner:
        """Take the lock or raise LockedError. ``take_over=<deployment id>`` breaks a STALE
        lock left by that deployment (a resume picking up where a killed console stopped)."""
        user, host = local_identity()
        me = LockOwner(
            local_user=user, jump_host=host, ssh_user=self.ssh_user, pid=os.getpid(),
            started_at=time.time(), token=secrets.token_hex(8),
            deployment_id=deployment_id, action=action,
        )  # fmt: skip
        parent = self.path.rsplit("/", 1)[0] or "/"
        await cmd.run(["mkdir", "-p", parent], step=step, quiet=True)
        for _attempt in range(2):
            made = await cmd.run(["mkdir", self.path], step=step, check=False, quiet=True)
            if made.ok:
                await cmd.run(
                    ["tee", self.owner_file], step=step, stdin=json.dumps(asdict(me)), quiet=True
                )
                self.owner = me
                cmd.journal.record(
                    kind="lock", host=cmd.host, step=step, deployment_id=deployment_id,
                    message=f"lock taken: {self.path}", data=asdict(me),
                )  # fmt: skip
                return me
            holder = await self.read(cmd, step)
            if holder is None:
                continue  # released between our mkdir and our look: try once more
            stale = is_stale(holder, self.stale_minutes)
            if stale and take_over is not None and holder.deployment_id == take_over:
                await self.break_(cmd, step=step, reason=f"resume of deployment {take_over}")
                continue
            raise LockedError(holder, stale, self.path)
        holder = await self.read(cmd, step)
        if holder is None:
            raise WorkflowError(f"could not take the deploy lock {self.path}")
        raise LockedError(holder, is_stale(holder, self.stale_minutes), self.path)

    async def release(self, cmd: Commander, step: str = "lock") -> bool:
        """Remove the lock if it is still ours (never someone else's). True when removed."""
        me = self.owner
        if me is None:
            return False
        holder = await self.read(cmd, step)
        self.owner = None
        if holder is None or holder.token != me.token:
            cmd.journal.record(
                kind="lock", host=cmd.host, step=step, deployment_id=me.deployment_id,
                message="lock was no longer ours; left alone",
            )  # fmt: skip
            return False
        await cmd.run(["rm", "-rf", self.path], step=step, quiet=True)
        cmd.journal.record(
            kind="lock", host=cmd.host, step=step, deployment_id=me.deployment_id,
            message=f"lock released: {self.path}",
        )  # fmt: skip
        return True

    async def break_(self, cmd: Commander, *, step: str = "lock", reason: str = "") -> None:
        holder = await self.read(cmd, step)
        await cmd.run(["rm", "-rf", self.path], step=step, quiet=True)
        who = holder.describe() if holder else "no lock"
        cmd.journal.record(
            kind="lock", host=cmd.host, step=step,
            deployment_id=holder.deployment_id if holder else None,
            message=f"lock broken ({who}){': ' + reason if reason else ''}",
        )  # fmt: skip
