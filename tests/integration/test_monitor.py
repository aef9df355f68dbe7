"""The live monitor against the real rig: pm2 (as user deploy, private PM2_HOME) over SSH.

Each test drives the console (Pilot) on the monitor screen and checks what it shows against
what pm2 itself says over a separate ssh. The app is always put back to 2 online instances.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from screens.monitor import MonitorScreen
from tests.helpers import wait_for as until
from tests.rigenv import RigEnv
from tui.app import ShipdeckApp
from tui.context import open_context
from tui.core.pm2 import Pm2Process, parse_jlist
from widgets.confirm_modal import ConfirmModal
from widgets.process_table import ProcessTable
from widgets.scale_prompt import ScalePrompt

SIZE = (120, 40)
HOST = "rig"


def pm2(rig: RigEnv, *args: str, timeout: float = 120) -> str:
    argv = rig.ssh_command("env", f"PM2_HOME={rig.pm2_home}", str(rig.pm2), *args)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"pm2 {' '.join(args)}: {done.stderr.strip()[-300:]}"
    return done.stdout


def app_procs(rig: RigEnv) -> list[Pm2Process]:
    return [p for p in parse_jlist(pm2(rig, "jlist")) if p.name == rig.app_name]


def wait_rig(cond: Callable[[list[Pm2Process]], bool], rig: RigEnv, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        procs = app_procs(rig)
        if cond(procs):
            return
        seen = [(p.pm_id, p.status) for p in procs]
        assert time.monotonic() < deadline, f"rig never got there: {seen}"
        time.sleep(0.5)


def restore(rig: RigEnv) -> None:
    """Back to 2 online instances, whatever a test left behind."""
    procs = app_procs(rig)
    if not procs:
        pm2(rig, "start", str(rig.app_root / "current" / "ecosystem.config.js"))
        procs = app_procs(rig)
    for proc in procs:
        if proc.status != "online":
            pm2(rig, "start", str(proc.pm_id))
    if len(procs) != 2:  # pm2 scale to the current count fails with "Nothing to do"
        pm2(rig, "scale", rig.app_name, "2")
    wait_rig(lambda ps: len(ps) == 2 and all(p.status == "online" and p.pid for p in ps), rig)


@pytest.fixture
def restored(rig: RigEnv) -> Iterator[RigEnv]:
    restore(rig)
    try:
        yield rig
    finally:
        restore(rig)


def shown(table: ProcessTable) -> dict[int, Pm2Process]:
    return {p.pm_id: p for p in table.processes(HOST)}


async def open_monitor(rig: RigEnv, tmp_path: Path):  # type: ignore[no-untyped-def]
    ctx = open_context(str(rig.config), str(tmp_path / "journal.sqlite3"))
    return ctx, ShipdeckApp(ctx)


async def confirm(app: ShipdeckApp, pilot) -> None:
    await until(lambda: isinstance(app.screen, ConfirmModal), pilot, 10, "confirm modal")
    await pilot.click("#confirm")


async def test_table_shows_real_pids_and_cancelled_stop_does_nothing(
    restored: RigEnv, tmp_path: Path
) -> None:
    rig = restored
    ctx, app = await open_monitor(rig, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("m")
        await until(lambda: isinstance(app.screen, MonitorScreen), pilot, 10)
        table = app.screen.query_one(ProcessTable)
        truth = {p.pm_id: p.pid for p in app_procs(rig)}
        await until(lambda: {i: p.pid for i, p in shown(table).items()} == truth, pilot, 30,
                    f"table pids == {truth}")
        # Live samples for those pids arrive through the one /proc channel.
        view = app.screen.service.views[HOST]
        await until(lambda: set(view.samples) == set(truth.values()), pilot, 15, "samples")
        assert all(s.rss_bytes > 10_000_000 for s in view.samples.values())
        assert view.host is not None and view.host.mem_total > 0

        await pilot.press("s")
        await until(lambda: isinstance(app.screen, ConfirmModal), pilot, 10, "confirm modal")
        assert app.screen.require_text == rig.app_name  # production: type the name
        await pilot.press("escape")
        await until(lambda: isinstance(app.screen, MonitorScreen), pilot, 10)
        await pilot.pause(1.0)
    assert [e for e in ctx.journal.events() if e.kind == "action"] == []
    ctx.close()
    after = app_procs(rig)
    assert [(p.pm_id, p.pid, p.status) for p in after] == [
        (i, pid, "online") for i, pid in sorted(truth.items())
    ]


async def test_restart_and_a_killed_worker_show_in_the_table(
    restored: RigEnv, tmp_path: Path
) -> None:
    rig = restored
    ctx, app = await open_monitor(rig, tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("m")
            table = app.screen.query_one(ProcessTable)
            await until(lambda: len(shown(table)) == 2, pilot, 30, "two rows")
            table.move_cursor(row=0)
            pm_id = table.selected()[1].pm_id
            before = shown(table)[pm_id]

            await pilot.press("r")  # production: even one process asks
            await confirm(app, pilot)
            await until(
                lambda: shown(table)[pm_id].restarts == before.restarts + 1
                and shown(table)[pm_id].pid not in (0, before.pid)
                and shown(table)[pm_id].status == "online",
                pilot, 60, "restart counted",
            )  # fmt: skip
            action = next(e for e in ctx.journal.events() if e.kind == "action")
            assert action.data == {"action": "restart", "target": str(pm_id), "outcome": "ok"}

            # A worker killed behind pm2's back: pm2 restarts it; the daemon's children change
            # and the console learns the new pid without waiting for the slow jlist.
            victim = shown(table)[pm_id]
            subprocess.run(rig.ssh_command("kill", "-9", str(victim.pid)), check=True, timeout=30)
            await until(
                lambda: shown(table)[pm_id].pid not in (0, victim.pid)
                and shown(table)[pm_id].restarts == victim.restarts + 1,
                pilot, 30, "kill noticed",
            )  # fmt: skip
            truth = {p.pm_id: p.pid for p in app_procs(rig)}
            assert shown(table)[pm_id].pid == truth[pm_id]
            alarms = [e for e in ctx.journal.events() if e.kind == "alarm"]
            assert any(f"#{pm_id} restarted by pm2" in e.message for e in alarms)
    finally:
        ctx.close()


async def test_scale_to_four_and_back(restored: RigEnv, tmp_path: Path) -> None:
    rig = restored
    ctx, app = await open_monitor(rig, tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("m")
            table = app.screen.query_one(ProcessTable)
            await until(lambda: len(shown(table)) == 2, pilot, 30, "two rows")

            await pilot.press("equals_sign")
            await until(lambda: isinstance(app.screen, ScalePrompt), pilot, 10, "prompt")
            await pilot.press("backspace", "4", "enter")
            online = lambda n: (  # noqa: E731
                len(shown(table)) == n
                and all(p.status == "online" and p.pid for p in shown(table).values())
            )
            await until(lambda: online(4), pilot, 60, "4 online in the table")
            assert sorted(p.pid for p in app_procs(rig)) == sorted(
                p.pid for p in shown(table).values()
            )

            await pilot.press("minus")  # 3
            await until(lambda: online(3), pilot, 60, "3 online")
            await pilot.press("minus")  # 2
            await until(lambda: online(2), pilot, 60, "back to 2")
            scales = [e.argv[-1] for e in ctx.journal.events() if e.kind == "action"]
            assert scales == ["4", "3", "2"]
    finally:
        ctx.close()
    wait_rig(lambda ps: len(ps) == 2, rig, 10)


def test_jlist_text_from_the_rig_parses(restored: RigEnv) -> None:
    raw = json.loads(pm2(restored, "jlist"))
    assert [p.pid for p in app_procs(restored)] == [
        r["pid"] for r in raw if r["name"] == restored.app_name
    ]
