"""The dashboard: checklist, monitor, logs and timeline panes under the host bar."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid
from textual.geometry import Size
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from tui.context import context_of
from tui.messages import (
    HostStateChanged,
    JournalEventPosted,
    MonitorUpdated,
    OpenDeploy,
    OpenEmergency,
    OpenMonitor,
)
from widgets.checklist_pane import ChecklistPane
from widgets.host_bar import HostBar
from widgets.key_footer import KeyFooter
from widgets.logs_pane import LogsPane
from widgets.process_table import ProcessTable
from widgets.step_keys import step_bindings, steps_key_display
from widgets.timeline import Timeline
from widgets.visibility import seen_by_user

if TYPE_CHECKING:  # the monitor service (pm2, /proc sampling) loads when first used
    from tui.context import AppContext
    from tui.core.metrics_service import MonitorService

W = TypeVar("W", bound=Widget)

#: How many journal events the timeline loads when the screen opens.
TIMELINE_BACKLOG = 500


def _framed(pane: W, title: str) -> W:
    pane.border_title = title
    return pane


def first_run_hint(ctx: AppContext, display: Callable[[str], str] = str) -> str:
    """The dashboard's one line for a first visit: which keys deploy (as [keymap] has them)."""
    keymap = ctx.config.keymap
    deploy = display(keymap.get("deploy.open", "d").split(",")[0].strip())
    steps = steps_key_display(keymap, display)
    keys = display(keymap.get("app.keys", "question_mark").split(",")[0].strip())
    return (
        f"First deploy: press {deploy}, then {steps} (BACKUP, BUILD, DEPLOY, VERIFY, CONFIRM) "
        f"to deploy {ctx.config.app.ref}  ·  {keys} lists every key"
    )


def wants_first_run_hint(ctx: AppContext) -> bool:
    """In the demo always; elsewhere while the journal holds no deployment of the app."""
    if ctx.config.app.environment == "demo":
        return True
    return not ctx.journal.deployments(ctx.config.app.name, limit=1)


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

    def __init__(self) -> None:
        super().__init__(id="dashboard")
        self._monitor_stale: set[str] = set()

    def compose(self) -> ComposeResult:
        ctx = context_of(self)
        config = ctx.config
        yield HostBar(
            config.app.name,
            config.app.environment,
            read_only=ctx.read_only,
            id="host-bar",
        )
        if wants_first_run_hint(ctx):
            yield Static(
                first_run_hint(ctx, self._key_display), id="first-run-hint", markup=False,
            )  # fmt: skip
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
        ctx = context_of(self)
        bar = self.query_one(HostBar)
        for state in ctx.pool.states():
            bar.set_state(state)
        events = ctx.journal.events()[-TIMELINE_BACKLOG:]
        self.query_one(Timeline).add_events(events)
        # The pm2 poll and the log followers are the app's (ShipdeckApp starts them right after
        # the first frame); the panes look the same either way: empty until the first jlist /
        # first lines arrive.

    def _key_display(self, key: str) -> str:
        return self.app.get_key_display(Binding(key, ""))

    def on_journal_event_posted(self, message: JournalEventPosted) -> None:
        self.query_one(Timeline).add_events([message.event])
        if message.event.kind == "deploy.start" and not wants_first_run_hint(context_of(self)):
            for hint in self.query("#first-run-hint"):
                hint.remove()  # the first deployment has begun: the hint has done its work

    def on_host_state_changed(self, message: HostStateChanged) -> None:
        self.query_one(HostBar).set_state(message.state)

    # -- the monitor pane: the app's monitor service posts MonitorUpdated here -------------------

    def _service(self) -> MonitorService:
        """The console's monitor service, made now if the app has not made it yet (what
        bench/monitor.py opens the monitor screen with)."""
        return context_of(self).monitor_service()

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
        ctx = context_of(self)
        view = ctx.monitor.views.get(host) if ctx.monitor is not None else None
        if view is None:
            return
        self.query_one(ProcessTable).show_view(view, now=ctx.clock())

    # Keys 1-5 and R work from here too: they open the deploy screen and act there. The app
    # opens every other screen (a screen never imports another).
    def action_open_deploy(self) -> None:
        self.post_message(OpenDeploy())

    def action_step(self, step: str) -> None:
        self.post_message(OpenDeploy(step))

    def action_rollback(self) -> None:
        self.post_message(OpenDeploy(rollback=True))

    def action_open_monitor(self) -> None:
        self.post_message(OpenMonitor())

    def action_open_emergency(self) -> None:
        self.post_message(OpenEmergency())  # the primary host
