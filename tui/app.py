"""ShipdeckApp: screens, bindings, keymap, and the bridge from core events to messages."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType

from screens.dashboard import DashboardScreen
from tui.context import AppContext
from tui.core.hosts import HostState
from tui.core.journal import Event
from tui.messages import HostStateChanged, JournalEventPosted


class ShipdeckApp(App[int]):
    # Absolute, so subclasses defined elsewhere (tests, benchmarks) still find the stylesheet.
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "shipdeck"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "q",
            "quit",
            "Quit",
            id="quit",
            tooltip="Leave the console (a running step keeps its journal)",
        ),
    ]

    def __init__(
        self,
        ctx: AppContext,
        *,
        read_only: bool = False,
        connect_on_start: bool = True,
        poll_processes: bool = True,
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.read_only = read_only
        self.connect_on_start = connect_on_start
        self.poll_processes = poll_processes
        self.title = f"shipdeck · {ctx.config.app.name}"

    def on_mount(self) -> None:
        if self.ctx.config.keymap:
            self.set_keymap(dict(self.ctx.config.keymap))
        # Journal and pool call back synchronously; post_message is safe from any thread.
        self.ctx.journal.add_listener(self._on_journal_event)
        self.ctx.pool.add_listener(self._on_host_state)
        self.dashboard = DashboardScreen(poll_processes=self.poll_processes)
        self.push_screen(self.dashboard)
        if self.connect_on_start:
            self.connect_hosts()

    # Posted to the dashboard, not to whichever screen is on top: a modal must not make the
    # timeline miss an event.
    def _on_journal_event(self, event: Event) -> None:
        self.dashboard.post_message(JournalEventPosted(event))

    def _on_host_state(self, state: HostState) -> None:
        self.dashboard.post_message(HostStateChanged(state))

    @work(exclusive=True, group="connect", exit_on_error=False)
    async def connect_hosts(self) -> None:
        await self.ctx.pool.connect_all()

    async def action_quit(self) -> None:
        await self.ctx.pool.close()
        self.exit(0)
