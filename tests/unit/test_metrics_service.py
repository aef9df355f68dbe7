"""The monitor service's reactions, with a scripted stand-in transport (unit level).

What the real /proc loop and pm2 do is covered by test_metrics.py (loop run locally) and
tests/integration/test_monitor.py (the rig); here: a host that drops shows "disconnected since"
and recovers by itself, a vanished worker brings a fresh jlist at once, a crash is an alarm.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tests.helpers import until
from tui.core.config import load_config
from tui.core.journal import Journal
from tui.core.metrics_service import HostMonitor
from tui.core.pm2 import Pm2Backend
from tui.core.transport import ConnectionLostError, Result

CONFIG = """
[app]
name = "demo"
root = "/srv/demo"
[monitor]
interval_s = 0.05
jlist_interval_s = 0.2
[[hosts]]
name = "web1"
address = "10.0.0.1"
"""


def jlist(*procs: tuple[int, int, int]) -> str:
    return json.dumps([
        {"name": "demo", "pm_id": i, "pid": pid,
         "pm2_env": {"status": "online", "restart_time": r, "exec_mode": "cluster_mode"}}
        for i, pid, r in procs
    ])  # fmt: skip


def sample_lines(pids: list[int], gone: list[int], daemon: str) -> list[str]:
    lines = [
        "T 100.0 1.0",
        "C cpu 10 0 10 80 0 0 0 0",
        "M MemTotal:1000 MemAvailable:500 SwapTotal:0 SwapFree:0",
        "L 0.1 0.1 0.1 1/1 1",
        f"K {daemon}",
    ]
    stat = "({}) S 1 1 1 0 -1 0 0 0 0 0 5 5 0 0 20 0 1 0 77 1 2"
    lines += [f"P {p} 100 50 0 0 0 0 0|{p} {stat.format('node')}" for p in pids]
    lines += [f"X {p}" for p in gone]
    return [*lines, "E"]


class Stream:
    def __init__(self, source: Callable[[], list[str]], fail: Callable[[], bool]) -> None:
        self.source, self.fail = source, fail

    async def __aenter__(self) -> Stream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass

    def __aiter__(self) -> Any:
        return self._lines()

    async def _lines(self) -> Any:
        while True:
            if self.fail():
                raise ConnectionLostError("web1: connection lost", host="web1")
            for line in self.source():
                yield "stdout", line
            await asyncio.sleep(0.05)


class ScriptedHost:
    """Answers jlist from ``self.jlist`` and streams samples for ``self.pids``."""

    def __init__(self) -> None:
        self.host = SimpleNamespace(name="web1", transport="ssh")
        self.jlist = jlist((0, 100, 0), (1, 101, 0))
        self.pids = [100, 101]
        self.gone: list[int] = []
        self.down = False
        self.jlists = 0

    async def run(self, argv: Any, **kw: Any) -> Result:
        if self.down:
            raise ConnectionLostError("web1: connection lost", host="web1")
        self.jlists += 1
        return Result(tuple(argv), 0, self.jlist, "", 0.01)

    def stream(self, argv: Any, **kw: Any) -> Stream:
        return Stream(
            lambda: sample_lines(self.pids, self.gone, "9 " + " ".join(map(str, self.pids))),
            lambda: self.down,
        )


async def test_drop_recover_crash_alarm(tmp_path: Path) -> None:
    path = tmp_path / "shipdeck.toml"
    path.write_text(CONFIG)
    config = load_config(path)
    journal = Journal(tmp_path / "j.sqlite3")
    host = ScriptedHost()
    backend = Pm2Backend(host, journal=journal)  # type: ignore[arg-type]
    monitor = HostMonitor(host, backend, config, lambda view: None, journal)  # type: ignore[arg-type]
    task = asyncio.create_task(monitor.run())
    try:
        view = monitor.view
        await until(lambda: set(view.samples) == {100, 101})
        assert [p.pid for p in view.processes] == [100, 101]

        # A worker dies and pm2 restarts it as 102: the loop's children change, jlist follows.
        host.jlist = jlist((0, 102, 1), (1, 101, 0))
        host.pids = [102, 101]
        await until(lambda: [p.pid for p in view.processes] == [102, 101])
        await until(lambda: set(view.samples) == {101, 102})
        alarms = [e.message for e in journal.events() if e.kind == "alarm"]
        assert alarms == ["demo#0 restarted by pm2 (restarts 0 → 1, pid 102, online)"]

        # The link drops: the view says so (no live-looking rows), then recovers by itself.
        host.down = True
        await until(lambda: view.disconnected_since is not None)
        assert view.note.startswith("disconnected since ")
        host.down = False
        await until(lambda: view.disconnected_since is None and view.note == "", timeout=10)
        assert [p.pid for p in view.processes] == [102, 101]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        journal.close()
