"""The deploy lock: owner text, staleness, take-over by a resume, never removing another's."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tui.core.journal import Journal, local_identity
from tui.core.lock import DeployLock, LockedError, LockOwner, is_stale
from tui.core.transport import LocalTransport
from tui.core.workflow_steps import Commander


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


NOW = 1_795_687_200.0  # a fixed moment: lock ages are computed against it, not the clock


def owner(**kw: object) -> LockOwner:
    user, host = local_identity()
    base: dict[str, object] = dict(
        local_user=user, jump_host=host, ssh_user="deploy", pid=1, started_at=NOW
    )
    base.update(kw)
    return LockOwner(**base)  # type: ignore[arg-type]


def test_describe_names_owner_time_and_age() -> None:
    o = owner(local_user="ann", jump_host="jump1", started_at=NOW - 7 * 60 - 5)
    text = o.describe(now=NOW)
    assert text.startswith("locked by ann@jump1 since ") and text.endswith("(7 min ago)")


def test_from_json_survives_garbage() -> None:
    o = LockOwner.from_json("{not json", fallback_started=123.0)
    assert (o.who, o.pid, o.started_at) == ("?@?", 0, 123.0)
    o = LockOwner.from_json(json.dumps({"local_user": "bo", "jump_host": "j", "pid": "42"}), 1.0)
    assert (o.who, o.pid) == ("bo@j", 42)


def test_staleness() -> None:
    assert not is_stale(owner(pid=__import__("os").getpid()), 120, now=NOW)
    assert is_stale(owner(pid=_dead_pid()), 120, now=NOW)  # same jump host, process gone
    assert not is_stale(owner(pid=_dead_pid(), jump_host="elsewhere"), 120, now=NOW)  # can't tell
    assert is_stale(owner(jump_host="elsewhere", started_at=NOW - 3 * 3600), 120, now=NOW)


@pytest.fixture
def cmd() -> Commander:
    return Commander(Journal(":memory:"), LocalTransport())


async def test_acquire_refuse_take_over_and_release(tmp_path: Path, cmd: Commander) -> None:
    path = str(tmp_path / "root" / ".shipdeck-lock")
    mine = DeployLock(path, ssh_user="deploy")
    dep = cmd.journal.start_deployment("x", "main").id
    await mine.acquire(cmd, deployment_id=dep)
    theirs = DeployLock(path)
    with pytest.raises(LockedError) as err:
        await theirs.acquire(cmd)
    assert not err.value.stale and err.value.owner.deployment_id == dep
    # The holder dies: the lock is stale, refused to others but taken over by its resume.
    data = json.loads(Path(path, "owner.json").read_text())
    data["pid"] = _dead_pid()
    Path(path, "owner.json").write_text(json.dumps(data))
    with pytest.raises(LockedError, match="stale"):
        await theirs.acquire(cmd, take_over=dep + 1)
    await theirs.acquire(cmd, take_over=dep)
    assert await mine.release(cmd) is False  # no longer ours: left alone
    assert Path(path).is_dir()
    assert await theirs.release(cmd) is True
    assert not Path(path).exists()
    kinds = [e.message for e in cmd.journal.events(kinds=["lock"])]
    assert any(m.startswith("lock broken") for m in kinds)


async def test_a_lock_without_owner_file_still_counts(tmp_path: Path, cmd: Commander) -> None:
    path = tmp_path / ".shipdeck-lock"
    path.mkdir()
    with pytest.raises(LockedError, match=r"locked by \?@\?"):
        await DeployLock(str(path)).acquire(cmd)
