"""pm2 actions: the argv they run, the journal event with the outcome, the daemon guard.

A stand-in `pm2` executable records its argv (unit level; the real pm2 is exercised in
tests/integration/test_monitor.py against the rig).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tui.core.journal import Journal
from tui.core.pm2 import Pm2Backend, Pm2Error, Pm2NotRunning, describe_action, parse_jlist
from tui.core.transport import LocalTransport

FIXTURES = Path(__file__).parent / "fixtures"

FAKE_PM2 = """#!/bin/sh
printf '%s\\n' "$*" >> "$(dirname "$0")/calls.log"
case "$1" in
  stop) echo "[PM2][ERROR] Process or Namespace $2 not found" >&2; exit 1;;
  jlist) cat "$(dirname "$0")/jlist.json";;
esac
exit 0
"""


@pytest.fixture
def fake(tmp_path: Path) -> tuple[Pm2Backend, Journal, Path]:
    pm2 = tmp_path / "pm2"
    pm2.write_text(FAKE_PM2)
    pm2.chmod(0o755)
    (tmp_path / "jlist.json").write_text((FIXTURES / "jlist-rig.json").read_text())
    home = tmp_path / "home"
    home.mkdir()
    journal = Journal(tmp_path / "j.sqlite3")
    backend = Pm2Backend(LocalTransport(), str(pm2), str(home), journal=journal)
    return backend, journal, tmp_path


def calls(tmp: Path) -> list[str]:
    return (tmp / "calls.log").read_text().splitlines()


async def test_actions_run_pm2_and_journal_the_outcome(fake) -> None:  # type: ignore[no-untyped-def]
    backend, journal, tmp = fake
    assert (await backend.restart("demo")).ok
    assert (await backend.reload(1)).ok
    assert (await backend.scale("demo", "+1")).ok
    assert (await backend.scale("demo", 2)).ok
    assert (await backend.start("demo", ecosystem="/srv/current/eco.js")).ok
    assert (await backend.save()).ok
    assert (await backend.delete("demo")).ok
    failed = await backend.stop("nosuch")
    assert not failed.ok
    assert calls(tmp) == [
        "restart demo", "reload 1", "scale demo +1", "scale demo 2",
        "start /srv/current/eco.js --only demo", "save", "delete demo", "stop nosuch",
    ]  # fmt: skip
    events = [e for e in journal.events() if e.kind == "action"]
    assert [e.data["action"] for e in events] == [
        "restart", "reload", "scale", "scale", "start", "save", "delete", "stop",
    ]  # fmt: skip
    assert events[0].message == "pm2 restart demo: ok" and events[0].exit_status == 0
    assert events[-1].data["outcome"] == "failed"
    assert "not found" in events[-1].message
    with pytest.raises(ValueError):
        await backend.scale("demo", "4; rm -rf /")


async def test_jlist_guard_never_starts_a_daemon(fake) -> None:  # type: ignore[no-untyped-def]
    backend, _, tmp = fake
    with pytest.raises(Pm2NotRunning):
        await backend.jlist_if_running()
    assert not (tmp / "calls.log").exists()  # pm2 itself was never run
    # A live "daemon": our own pid in the pid file.
    (Path(backend.pm2_home) / "pm2.pid").write_text(f"{os.getpid()}\n")
    procs = await backend.jlist_if_running()
    assert [p.pm_id for p in procs] == [0, 1]
    missing = Pm2Backend(LocalTransport(), str(tmp / "nope"), backend.pm2_home)
    with pytest.raises(Pm2Error, match="not installed"):
        await missing.jlist_if_running()


def test_real_captured_jlist_from_the_rig() -> None:
    text = (FIXTURES / "jlist-rig.json").read_text()
    raw = json.loads(text)
    procs = parse_jlist(text)
    assert [(p.name, p.mode, p.status) for p in procs] == [("demo", "cluster", "online")] * 2
    assert [p.pid for p in procs] == [r["pid"] for r in raw]
    first = procs[0]
    assert first.out_log.endswith(".log") and first.err_log.endswith(".log")
    assert "PM2_HOME" in first.env_names and first.cwd.endswith("/current")
    # Values never leave the parser.
    assert "/home/deploy" not in repr(first)


def test_describe_action_says_what_will_happen() -> None:
    assert "zero-downtime" in describe_action("reload", "demo")
    assert "scale demo to 0" in describe_action("scale", "demo", 0)
