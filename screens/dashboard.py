"""The dashboard: checklist, monitor, logs and timeline panes under the host bar."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, TypeVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid
from textual.geometry import Size
from textual.screen import Screen
from textual.widget import Widget

from tui.messages import HostStateChanged, JournalEventPosted
from widgets.checklist_pane import ChecklistPane
from widgets.host_bar import HostBar
from widgets.key_footer import KeyFooter
from widgets.logs_pane import LogsPane
from widgets.process_table import ProcessTable
from widgets.step_keys import step_bindings
from widgets.timeline import Timeline
from widgets.visibility import after_first_frame, seen_by_user

if TYPE_CHECKING:  # the monitor service (pm2, /proc sampling) loads when first used
    from tui.core.metrics_service import MonitorService
    from tui.messages import MonitorUpdated

W = TypeVar("W", bound=Widget)

#: How many journal events the timeline loads when the screen opens.
TIMELINE_BACKLOG = 500


def _framed(pane: W, title: str) -> W:
    pane.border_title = title
    return pane


class DashboardScreen(Screen[None]):
    # The Footer shows these in this order; R is in the keys panel (?) with the rest.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "open_deploy", "Deploy", id="deploy.open",
                tooltip="The deploy screen: step bar, command output, this deployment's events"),
        *step_bindings(summary=True),
        Binding("m", "open_monitor", "Monitor", id="monitor.open",
                tooltip="Live monitor: processes, host resources, charts, process actions"),
        Binding("L", "app.push_screen('logs')", "Logs", id="logs.open",
                tooltip="All hosts' logs full-screen: filter, search, save, copy"),
        Binding("exclamation_mark", "open_emergency", "Emergency", id="emergency.open",
                tooltip="Emergency triage for the primary host"),
    ]  # fmt: skip

    def __init__(self, poll_processes: bool = True) -> None:
        super().__init__(id="dashboard")
        self.poll_processes = poll_processes
        self.monitor: MonitorService | None = None
        self._monitor_stale: set[str] = set()

    def compose(self) -> ComposeResult:
        ctx = self.app.ctx  # type: ignore[attr-defined]
        config = ctx.config
        yield HostBar(
            config.app.name,
            config.app.environment,
            read_only=self.app.read_only,  # type: ignore[attr-defined]
            id="host-bar",
        )
        # Each pane draws its own frame (.pane): no container around it to style, lay out and
        # paint (four widgets fewer before the first frame).
        with Grid(id="panes"):
            yield _framed(ChecklistPane(id="checklist", classes="pane"), "Checklist")
            yield _framed(ProcessTable(id="processes", classes="pane"), "Monitor")
            yield _framed(
                LogsPane(max_lines=config.logs.initial_lines * 10, id="logs", classes="pane"),
                "Logs",
            )
            yield _framed(Timeline(id="timeline", classes="pane"), "Timeline")
        # Compact: the keys fit 120 columns; and each key is styled once, not three times.
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        ctx = self.app.ctx  # type: ignore[attr-defined]
        bar = self.query_one(HostBar)
        for state in ctx.pool.states():
            bar.set_state(state)
        events = ctx.journal.events()[-TIMELINE_BACKLOG:]
        self.query_one(Timeline).add_events(events)
        # The pm2 poll and the log followers start right after the first frame: their first
        # steps (asyncssh's import, node discovery, psutil's first sample) ran synchronously
        # before it otherwise. The panes look the same either way: empty until the first
        # jlist / first lines arrive.
        if self.poll_processes:
            after_first_frame(self, self._start_services)

    def _start_services(self) -> None:
        self.poll_pm2()
        self.query_one(LogsPane).follow_hosts()

    def on_journal_event_posted(self, message: JournalEventPosted) -> None:
        self.query_one(Timeline).add_events([message.event])

    def on_host_state_changed(self, message: HostStateChanged) -> None:
        self.query_one(HostBar).set_state(message.state)

    # -- the monitor service: one /proc channel per host, jlist at the slow cadence --------------

    def _service(self) -> MonitorService:
        if self.monitor is None:
            from tui.core.metrics_service import MonitorService
            from tui.messages import MonitorUpdated

            ctx = self.app.ctx  # type: ignore[attr-defined]
            self.monitor = MonitorService(ctx.pool, ctx.config, ctx.journal)
            self.monitor.add_listener(lambda host: self.post_message(MonitorUpdated(host)))
        return self.monitor

    @work(exclusive=True, group="pm2-poll", exit_on_error=False)
    async def poll_pm2(self) -> None:
        await self._service().run()

    def on_monitor_updated(self, message: MonitorUpdated) -> None:
        # Under another screen, a redraw here makes Textual repaint the WHOLE top screen (the
        # screen below the top one counts as a background screen): ~60 ms a second on the
        # monitor. So wait, and catch up on resume.
        if not seen_by_user(self):
            self._monitor_stale.add(message.host)
            return
        self._show_monitor_host(message.host)

    def _compositor_refresh(self) -> None:
        # Textual counts the screen right under the top one as visible even when the top one
        # is opaque, and turns any redraw here (host bar, logs status, ...) into a repaint of
        # the WHOLE top screen: measured ~5 % of a core with the monitor on top. While an
        # opaque screen covers this one, drop the redraw: on resume Textual repaints it all.
        if not seen_by_user(self):
            self._compositor._dirty_regions.clear()
            self._dirty_widgets.clear()
            return
        super()._compositor_refresh()

    def _screen_resized(self, size: Size) -> None:
        # Textual hands the screen every Resize the app gets, also ones with the size it is
        # already laid out at: at start-up the dashboard got three for 120x40 (the driver's, the
        # app's first, and the one after its own first layout), each a full layout and repaint
        # of all four panes before the console took its first key. Same size, nothing moves:
        # skip. (A pending layout still happens on the next idle, as always.)
        if size == self._compositor.size:
            return
        super()._screen_resized(size)

    def on_screen_resume(self) -> None:
        for host in sorted(self._monitor_stale):
            self._show_monitor_host(host)
        self._monitor_stale.clear()

    def _show_monitor_host(self, host: str) -> None:
        view = self._service().views.get(host)
        if view is None:
            return
        self.query_one(ProcessTable).show_view(view, now=self.app.ctx.clock())  # type: ignore[attr-defined]

    # Keys 1-5 and R work from here too: they open the deploy screen and act there.
    def action_open_deploy(self) -> None:
        self.app.show_deploy()  # type: ignore[attr-defined]

    def action_step(self, step: str) -> None:
        self.app.show_deploy(step)  # type: ignore[attr-defined]

    def action_rollback(self) -> None:
        self.app.show_deploy(rollback=True)  # type: ignore[attr-defined]

    def action_open_monitor(self) -> None:
        from screens.monitor import MonitorScreen  # charts and plotext load when first opened

        self.app.push_screen(MonitorScreen(self._service(), clock=self.app.ctx.clock))  # type: ignore[attr-defined]

    def action_open_emergency(self) -> None:
        ctx = self.app.ctx  # type: ignore[attr-defined]
        from screens.emergency import EmergencyScreen

        host = ctx.pool.primary.host.name
        self.app.push_screen(EmergencyScreen(self._service(), host, clock=ctx.clock))
