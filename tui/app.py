"""ShipdeckApp: screens, bindings, keymap, the console's services, and the bridge from core events
to messages.

The app makes the services of its context (log hub, notification bridge, monitor service), runs
them and closes them on quit; screens and widgets reach them through ``context_of(self)``. It also
opens every screen: screens and widgets post an ``Open*`` message (tui.messages) or name a screen
of SCREENS, so that no screen imports another and no widget imports a screen. The heavy screens
(deploy, monitor, emergency) are imported when first opened, not before the first frame.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from screens.dashboard import DashboardScreen
from tui.context import AppContext
from tui.core.hosts import HostState
from tui.core.journal import Event
from tui.messages import (
    HostStateChanged,
    JournalEventPosted,
    MonitorUpdated,
    OpenChecklistDetail,
    OpenDeploy,
    OpenEmergency,
    OpenMonitor,
)
from widgets.step_keys import is_steps_summary, steps_key_display

if TYPE_CHECKING:
    from tui.core.metrics_service import MonitorService


def _logs_screen() -> Screen[Any]:
    # Imported when the screen is first opened (L), not before the first frame.
    from screens.logs import LogsScreen

    return LogsScreen()


class ShipdeckApp(App[int]):
    # Absolute, so subclasses defined elsewhere (tests, benchmarks) still find the stylesheet.
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "shipdeck"
    #: Screens opened by name (``app.push_screen('logs')``): made when first opened, then kept.
    SCREENS: ClassVar[dict[str, Callable[[], Screen[Any]]]] = {"logs": _logs_screen}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "q",
            "quit",
            "Quit",
            id="quit",
            tooltip="Leave the console (a running step keeps its journal)",
        ),
        Binding(
            "question_mark",
            "toggle_keys",
            "Keys",
            id="app.keys",
            tooltip="Show or hide every key of this screen, with what it does",
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
        ctx.read_only = read_only
        self.connect_on_start = connect_on_start
        self.poll_processes = poll_processes
        self.title = f"shipdeck · {ctx.config.app.name}"
        self._first_frame_shown = False
        self._after_first_frame: list[Callable[[], object]] = []
        self._monitor_forwarded = False
        # The log hub before any view of it: the panes read its store when they mount (making
        # it does no I/O; its followers start after the first frame).
        ctx.log_hub()
        self.dashboard = DashboardScreen()

    @property
    def read_only(self) -> bool:
        return self.ctx.read_only

    def get_default_screen(self) -> Screen[Any]:
        # The dashboard IS the console's first screen, not a screen pushed over a blank one:
        # the first frame Textual paints is the dashboard's (a blank screen was composed, laid
        # out and painted first before).
        return self.dashboard

    def get_key_display(self, binding: Binding) -> str:
        if is_steps_summary(binding):  # the dashboard's one Footer entry for keys 1-5
            return steps_key_display(self.ctx.config.keymap, self._display_key)
        return super().get_key_display(binding)

    def _display_key(self, key: str) -> str:
        return super().get_key_display(Binding(key, ""))

    def action_toggle_keys(self) -> None:
        """The keys panel (Textual's help panel): every binding of the focused widget, the
        screen and the app, with its tooltip. The Footer shows only the main ones."""
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def after_first_frame(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` once the first frame is shown and the Footer has its keys: start-up
        work that the first frame does not show (services, the checklist runner, hidden
        widgets) waits for it instead of delaying it."""
        if self._first_frame_shown:
            self.call_after_refresh(callback)
        else:
            self._after_first_frame.append(callback)

    def on_ready(self) -> None:
        # Textual's Ready: the first frame is painted. The Footer's keys come one refresh later
        # (already scheduled), then what waited for the first frame, then the freeze.
        self._first_frame_shown = True
        for callback in self._after_first_frame:
            self.call_after_refresh(callback)
        self._after_first_frame.clear()
        # Move everything built during start-up (widgets, styles, imports) out of the
        # collector's view: full collections over it were the worst event-loop stalls while
        # logs streamed (75-108 ms -> ~14 ms measured with bench/logs.py).
        self.call_after_refresh(gc.freeze)

    def on_mount(self) -> None:
        if self.ctx.config.keymap:
            self.set_keymap(dict(self.ctx.config.keymap))
        # Journal and pool call back synchronously; post_message is safe from any thread.
        self.ctx.journal.add_listener(self._on_journal_event)
        self.ctx.pool.add_listener(self._on_host_state)
        # Team webhooks follow the journal for as long as the console runs (when configured).
        self.ctx.attach_notifications()
        if self.connect_on_start:
            # After the first frame: connecting imports asyncssh and does the handshakes; the
            # host bar shows each host as idle/connecting until its state changes.
            self.after_first_frame(self.connect_hosts)
        if self.poll_processes:
            # The pm2 poll and the log followers start right after the first frame: their first
            # steps (asyncssh's import, node discovery, psutil's first sample) ran synchronously
            # before it otherwise.
            self.after_first_frame(self._start_services)

    async def on_unmount(self) -> None:
        # Every way out ends here (q, an error, the test harness): notifications still on their
        # way (a rollback's "finished", an alarm) get their bounded time, as in the headless
        # commands, instead of dying with the event loop.
        await self.ctx.drain_notifications()

    # -- the services -----------------------------------------------------------------------------

    def _start_services(self) -> None:
        self.poll_pm2()
        self.follow_logs()

    def monitor_service(self) -> MonitorService:
        """The console's monitor service (made on first use: after the first frame, or when
        the monitor or emergency screen opens first); the dashboard's pane follows it."""
        service = self.ctx.monitor_service()
        if not self._monitor_forwarded:
            self._monitor_forwarded = True
            service.add_listener(lambda host: self.dashboard.post_message(MonitorUpdated(host)))
        return service

    @work(exclusive=True, group="pm2-poll", exit_on_error=False)
    async def poll_pm2(self) -> None:
        await self.monitor_service().run()

    def follow_logs(self) -> None:
        """Start following every host's logs into the shared store (once per app)."""
        hub = self.ctx.log_hub()
        if not hub.running:
            hub.running = True
            self._follow_logs()

    @work(exclusive=True, group="logs-follow", exit_on_error=False)
    async def _follow_logs(self) -> None:
        hub = self.ctx.log_hub()
        try:
            await hub.run()
        finally:
            hub.running = False

    # Posted to the screens that show the journal, not to whichever screen is on top: a modal
    # must not make a timeline miss an event.
    def _journal_views(self) -> list[Screen[None]]:
        views: list[Screen[None]] = [self.dashboard]
        if self.is_screen_installed("deploy"):
            views.append(self.get_screen("deploy"))
        return views

    def _on_journal_event(self, event: Event) -> None:
        for view in self._journal_views():
            view.post_message(JournalEventPosted(event))

    def _on_host_state(self, state: HostState) -> None:
        for view in self._journal_views():
            view.post_message(HostStateChanged(state))

    # -- opening screens ---------------------------------------------------------------------------

    def on_open_deploy(self, message: OpenDeploy) -> None:
        self.show_deploy(message.step, rollback=message.rollback)

    def on_open_monitor(self, message: OpenMonitor) -> None:
        from screens.monitor import MonitorScreen  # charts and plotext load when first opened

        self.push_screen(MonitorScreen(self.monitor_service(), clock=self.ctx.clock))

    def on_open_emergency(self, message: OpenEmergency) -> None:
        from screens.emergency import EmergencyScreen

        host = message.host or self.ctx.pool.primary.host.name
        self.push_screen(EmergencyScreen(self.monitor_service(), host, clock=self.ctx.clock))

    def on_open_checklist_detail(self, message: OpenChecklistDetail) -> None:
        from screens.checklist_detail import ChecklistDetailScreen

        self.push_screen(ChecklistDetailScreen(message.item, message.result, message.line))

    def show_deploy(self, step: str | None = None, *, rollback: bool = False) -> None:
        """Open the deploy screen (one per console, so its worker and state survive leaving
        it) and optionally start a step or the rollback there."""
        if not self.is_screen_installed("deploy"):
            # Imported here: the workflow engine, the watch and httpx are not needed for the
            # first frame.
            from screens.deploy import DeployScreen

            self.install_screen(DeployScreen(), "deploy")
        screen = self.get_screen("deploy")
        if self.screen is not screen:
            self.push_screen("deploy")
        if rollback:
            self.call_after_refresh(screen.action_rollback)
        elif step is not None:
            self.call_after_refresh(screen.action_step, step)

    @work(exclusive=True, group="connect", exit_on_error=False)
    async def connect_hosts(self) -> None:
        await self.ctx.pool.connect_all()

    async def action_quit(self) -> None:
        workflow = self.ctx.open_workflow()
        if workflow is not None:
            from widgets.confirm_modal import ConfirmModal

            dep = workflow.deployment
            self.push_screen(
                ConfirmModal(
                    f"Deployment #{dep.id} is still open",
                    "Quit anyway? It is marked interrupted and the deploy lock is released; "
                    "the next console (or `shipdeck deploy --resume`) can resume or roll back.",
                    confirm_label="Quit",
                ),
                self._quit_confirmed,
            )
            return
        await self._leave()

    async def _quit_confirmed(self, ok: bool | None) -> None:
        if ok:
            await self._leave()

    async def _leave(self) -> None:
        workflow = self.ctx.open_workflow()
        if workflow is not None:
            await workflow.close()
        await self.ctx.pool.close()
        self.exit(0)
