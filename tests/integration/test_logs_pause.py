"""Pause the logs pane for 10 s while the rig's app keeps logging; resume shows every line, in
order (real sshd, pm2 and app; a Pilot-driven pane)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from textual.app import App, ComposeResult

from tests.rigenv import RigEnv
from tui.core.config import load_config
from tui.core.logs import LogHub
from tui.core.transport import make_transport
from widgets.logs_pane import LogsPane


class PaneApp(App[None]):
    def __init__(self, hub: LogHub) -> None:
        super().__init__()
        self.hub = hub

    def compose(self) -> ComposeResult:
        yield LogsPane(max_lines=10_000, store=self.hub.store, hosts=["rig"])


async def test_pause_ten_seconds_then_resume_shows_every_line_in_order(rig: RigEnv) -> None:
    config = load_config(rig.config)
    transports = [make_transport(h) for h in config.hosts]
    hub = LogHub(config, transports)
    tag = f"/pause-{uuid.uuid4().hex[:8]}"
    app = PaneApp(hub)
    async with app.run_test(size=(120, 40)) as pilot:
        task = asyncio.create_task(hub.run())
        loop = asyncio.get_running_loop()

        async def until(cond, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
            deadline = loop.time() + timeout
            while not cond():
                assert loop.time() < deadline, "condition not met before the deadline"
                await pilot.pause(0.05)

        try:
            pane = app.query_one(LogsPane)
            await until(lambda: hub.followers["rig"].state == "following")
            pane.view.focus()
            await pilot.press("space")
            assert pane.paused
            frozen = list(pane.view.lines)
            async with httpx.AsyncClient(timeout=10) as client:
                # Ten seconds of traffic while paused: two requests a second.
                start = loop.time()
                for i in range(20):
                    await client.get(f"{rig.app_url}{tag}/{i}")
                    await asyncio.sleep(max(0.0, start + (i + 1) * 0.5 - loop.time()))
            await until(lambda: sum(tag in ln[6] for ln in hub.store.buffer) == 20)
            await until(lambda: pane.new_while_paused >= 20)
            assert list(pane.view.lines) == frozen, "the paused view did not move"
            assert f"+{pane.new_while_paused:,} new" in pane.status_text().plain
            await pilot.press("space")
            assert not pane.paused
            shown = [ln for ln in pane.view.lines if tag in ln]
            numbers = [int(ln.split(tag + "/")[1].split()[0]) for ln in shown]
            assert numbers == list(range(20))
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            for t in transports:
                await t.close()
