"""The dashboard: checklist, monitor, logs and timeline panes under the host bar."""

from __future__ import annotations

import asyncio

from textual import work
from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from tui.core.pm2 import Pm2Backend, Pm2Error
from tui.core.transport import TransportError
from tui.messages import HostStateChanged, JournalEventPosted
from widgets.checklist_pane import ChecklistPane
from widgets.host_bar import HostBar
from widgets.logs_pane import LogsPane
from widgets.process_table import ProcessTable
from widgets.timeline import Timeline

#: How many journal events the timeline loads when the screen opens.
TIMELINE_BACKLOG = 500


class DashboardScreen(Screen[None]):
    def __init__(self, poll_processes: bool = True) -> None:
        super().__init__(id="dashboard")
        self.poll_processes = poll_processes

    def compose(self) -> ComposeResult:
        ctx = self.app.ctx  # type: ignore[attr-defined]
        config = ctx.config
        yield HostBar(
            config.app.name,
            config.app.environment,
            read_only=self.app.read_only,  # type: ignore[attr-defined]
            id="host-bar",
        )
        with Grid(id="panes"):
            with Vertical(id="checklist-box", classes="pane") as box:
                box.border_title = "Checklist"
                yield ChecklistPane(id="checklist")
            with Vertical(id="monitor-box", classes="pane") as box:
                box.border_title = "Monitor"
                yield ProcessTable(id="processes")
            with Vertical(id="logs-box", classes="pane") as box:
                box.border_title = "Logs"
                yield LogsPane(max_lines=config.logs.initial_lines * 10, id="logs")
            with Vertical(id="timeline-box", classes="pane") as box:
                box.border_title = "Timeline"
                yield Timeline(id="timeline")
        yield Footer()

    def on_mount(self) -> None:
        ctx = self.app.ctx  # type: ignore[attr-defined]
        bar = self.query_one(HostBar)
        for state in ctx.pool.states():
            bar.set_state(state)
        events = ctx.journal.events()[-TIMELINE_BACKLOG:]
        self.query_one(Timeline).add_events(events)
        if self.poll_processes:
            self.poll_pm2()

    def on_journal_event_posted(self, message: JournalEventPosted) -> None:
        self.query_one(Timeline).add_events([message.event])

    def on_host_state_changed(self, message: HostStateChanged) -> None:
        self.query_one(HostBar).set_state(message.state)

    @work(exclusive=True, group="pm2-poll", exit_on_error=False)
    async def poll_pm2(self) -> None:
        ctx = self.app.ctx  # type: ignore[attr-defined]
        app_cfg = ctx.config.app
        table = self.query_one(ProcessTable)
        backends = {
            t.host.name: Pm2Backend(t, app_cfg.pm2_bin, app_cfg.pm2_home) for t in ctx.pool
        }
        while True:
            # The next poll is scheduled only after this one finished: a slow host never
            # piles up jlist processes (each costs a Node start on the target).
            for name, backend in backends.items():
                try:
                    procs = await backend.jlist()
                except (Pm2Error, TransportError) as err:
                    table.show_note(name, str(err))
                    continue
                table.show_host(name, [p for p in procs if p.name == app_cfg.name] or procs)
            await asyncio.sleep(ctx.config.monitor.jlist_interval_s)
