"""The live monitor: the pm2 process table, host resources, charts, and the process actions.

Data comes from the console's ``MonitorService`` (one /proc channel per host, jlist at the slow
cadence; made and run by the app); this screen only renders it. Updates arrive as merged
``MonitorUpdated`` messages; while another screen is on top nothing is redrawn, and everything
is caught up on resume.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Static

from tui.context import context_of
from tui.core.metrics import HostSample
from tui.core.metrics_service import HostView, MonitorService
from tui.core.transport import TransportError
from tui.messages import MonitorUpdated, OpenEmergency
from widgets.host_chart import HistoryChart, Series, seen_by_user
from widgets.key_footer import KeyFooter
from widgets.pm2_action import perform
from widgets.process_detail import ProcessDetailModal
from widgets.process_table import ProcessTable, format_bytes
from widgets.scale_prompt import ScalePrompt
from widgets.screen_commands import BindingsProvider


def host_line(view: HostView) -> str:
    """One line of host resources, or why there are none."""
    sample: HostSample | None = view.host
    if sample is None:
        return f"{view.name}: {view.note or 'waiting for the first sample…'}"
    disks = " · ".join(f"{d.mount} {d.percent:.0f}%" for d in sample.disks) or "-"
    swap = (
        f"swap {format_bytes(sample.swap_used)}/{format_bytes(sample.swap_total)}"
        if sample.swap_total
        else "swap -"
    )
    load = " ".join(f"{x:.2f}" for x in sample.load)
    text = (
        f"{view.name}: cpu {sample.cpu_percent:4.1f}% ({sample.ncpu} cores)  "
        f"mem {format_bytes(sample.mem_used)}/{format_bytes(sample.mem_total)}"
        f" {sample.mem_percent:.0f}%  {swap}  load {load}  disk {disks}"
    )
    if view.note:
        text += f"  ⚠ {view.note}"
    return text


def _app_cpu(point: Any, ncpu: int) -> float:
    return point.app_cpu / max(1, ncpu)


#: Seconds between table refreshes driven by samples alone (CPU/memory figures).
TABLE_SAMPLE_S = 2.0

# (action name, key, description, tooltip) — the actions read-only mode disables.
ACTION_BINDINGS = (
    ("restart", "r", "Restart", "Hard-restart the selected process (or the app, see scope)"),
    ("reload", "l", "Reload", "Zero-downtime reload of the selected process (or the app)"),
    ("stop", "s", "Stop", "Stop the selected process (or the app); asks to confirm"),
    ("start", "S", "Start", "Start the selected stopped process (or the app)"),
    ("delete", "x", "Delete", "Remove the selected process (or the app) from pm2; asks to confirm"),
    ("scale_up", "plus", "Scale +1", "One more instance of the app"),
    ("scale_down", "minus", "Scale -1", "One instance fewer (to 0 asks to confirm)"),
    ("scale_to", "equals_sign", "Scale to N", "Scale the app to a number of instances"),
    ("save", "w", "pm2 save", "Save the process list so pm2 resurrects it after a reboot"),
)
ACTION_NAMES = frozenset(name for name, *_ in ACTION_BINDINGS)
# Kept out of the Footer (it has room for about a dozen keys at 160 columns) and listed by `?`:
# the rare and the bookkeeping ones. Delete stays a key, just not an inviting one.
_KEYS_PANEL_ONLY = frozenset({"delete", "save"})


class MonitorScreen(Screen[None]):
    COMMANDS = {BindingsProvider}
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(key, name, desc, id=f"monitor.{name}", tooltip=tip,
                    show=name not in _KEYS_PANEL_ONLY)
            for name, key, desc, tip in ACTION_BINDINGS
        ),
        Binding("a", "toggle_scope", "Scope", id="monitor.scope",
                tooltip="Act on the selected process or on every instance of the app"),
        Binding("d", "detail", "Describe", id="monitor.detail",
                tooltip="pm2 describe-like details of the selected process (or Enter)"),
        Binding("o", "sort", "Sort", id="monitor.sort", show=False,
                tooltip="Sort by the next column (again to reverse; or click a header)"),
        Binding("u", "startup", "Startup cmd", id="monitor.startup",
                tooltip="Show the `pm2 startup` command an admin runs as root", show=False),
        Binding("f", "refresh", "Refresh", id="monitor.refresh",
                tooltip="Read the process list now (one pm2 jlist)", show=False),
        Binding("exclamation_mark", "emergency", "Emergency", id="monitor.emergency",
                tooltip="Emergency triage for the selected host"),
        Binding("escape", "back", "Back", id="monitor.back", tooltip="Back to the dashboard"),
    ]  # fmt: skip

    def __init__(self, service: MonitorService, clock: Callable[[], float] = time.time) -> None:
        super().__init__(id="monitor")
        self.service = service
        self.clock = clock
        self.whole_app = False
        self._dirty: set[str] = set()
        self._table_state: dict[str, tuple[tuple[Any, ...], float]] = {}

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        with Vertical(id="monitor-top"):
            yield Static("", id="monitor-status")
            yield ProcessTable(id="monitor-processes")
            yield Static("", id="monitor-hosts")
        with Horizontal(id="monitor-charts"):
            yield HistoryChart(
                "CPU % (host, app)",
                (
                    Series("host", "cyan", lambda p: p.host_cpu),
                    Series("app", "magenta", lambda p: _app_cpu(p, self._ncpu())),
                ),
                y_max=100.0,
                clock=self.clock,
                id="chart-cpu",
            )
            yield HistoryChart(
                "Memory % (host, app)",
                (
                    Series("host", "cyan", lambda p: p.host_mem),
                    Series("app", "magenta", lambda p: 100.0 * p.app_mem / self._mem_total()),
                ),
                y_max=100.0,
                clock=self.clock,
                id="chart-mem",
            )
            yield HistoryChart(
                "Load (1 min)",
                (Series("load", "yellow", lambda p: p.load1),),
                clock=self.clock,
                id="chart-load",
            )
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        self.service.add_listener(self._on_service)
        # Fixed heights: a 1 Hz text update must not cost a layout pass of the whole screen.
        self.query_one("#monitor-hosts", Static).styles.height = 1 + len(self.service.views)
        for name in self.service.views:
            self._render_host(name)
        self._render_status()
        self.query_one(ProcessTable).focus()

    def on_unmount(self) -> None:
        self.service.remove_listener(self._on_service)

    # ------------------------------------------------------------------ data

    def _on_service(self, host: str) -> None:
        self.post_message(MonitorUpdated(host))

    def on_monitor_updated(self, message: MonitorUpdated) -> None:
        if not seen_by_user(self):
            self._dirty.add(message.host)  # caught up in on_screen_resume
            return
        self._render_host(message.host)

    def on_screen_resume(self) -> None:
        for host in sorted(self._dirty):
            self._render_host(host)
        self._dirty.clear()
        for chart in self.query(HistoryChart):
            if chart.stale:
                chart.replot()

    def _chart_host(self) -> str:
        table = self.query_one(ProcessTable)
        return table.selected_host() or next(iter(self.service.views), "")

    def _ncpu(self) -> int:
        view = self.service.views.get(self._chart_host())
        return view.host.ncpu if view and view.host else 1

    def _mem_total(self) -> int:
        view = self.service.views.get(self._chart_host())
        return view.host.mem_total if view and view.host and view.host.mem_total else 1

    def _render_host(self, host: str) -> None:
        view = self.service.views.get(host)
        if view is None:
            return
        # Any changed cell makes a DataTable re-render all its rows (~30 ms for 8 processes), so
        # rows follow the 1 Hz samples every TABLE_SAMPLE_S; a new process list shows at once.
        now = self.clock()
        shown = self._table_state.get(host)
        state = (view.jlist_at, view.note, view.disconnected_since)
        if shown is None or shown[0] != state or now - shown[1] >= TABLE_SAMPLE_S:
            self._table_state[host] = (state, now)
            self.query_one(ProcessTable).show_view(view, now=now)
        lines = [host_line(v) for v in self.service.views.values()]
        self.query_one("#monitor-hosts", Static).update("\n".join(lines), layout=False)
        if host == self._chart_host():
            for chart in self.query(HistoryChart):
                chart.show_history(view.history)

    def _render_status(self) -> None:
        scope = "every instance of the app" if self.whole_app else "the selected process"
        table = self.query_one(ProcessTable)
        sort = table.sort_column or "-"
        text = f"actions act on: [b]{scope}[/b] (a to switch)   sort: {sort}"
        if context_of(self).read_only:
            text = "[b reverse magenta] READ-ONLY [/] actions are disabled   " + text
        self.query_one("#monitor-status", Static).update(text, layout=False)

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ACTION_NAMES and context_of(self).read_only:
            return None  # shown, but disabled
        return True

    def _target(self) -> tuple[str, str | int] | None:
        table = self.query_one(ProcessTable)
        selected = table.selected()
        app_name = context_of(self).config.app.name
        if selected is None:
            host = table.selected_host() or next(iter(self.service.views), "")
            return (host, app_name) if host else None
        host, proc = selected
        return host, (proc.name if self.whole_app else proc.pm_id)

    def _instances(self, host: str) -> int:
        app_name = context_of(self).config.app.name
        view = self.service.views.get(host)
        return sum(1 for p in (view.processes if view else ()) if p.name == app_name)

    @work(group="pm2-action", exit_on_error=False)
    async def _do(self, action: str, count: int | None = None) -> None:
        target = self._target()
        if target is None:
            self.notify("no host to act on", severity="warning")
            return
        host, what = target
        if action == "scale":
            app_name = context_of(self).config.app.name
            await perform(self, self.service, host, "scale", app_name, count=count)
        else:
            await perform(self, self.service, host, action, what, whole_app=self.whole_app)

    def action_restart(self) -> None:
        self._do("restart")

    def action_reload(self) -> None:
        self._do("reload")

    def action_stop(self) -> None:
        self._do("stop")

    def action_start(self) -> None:
        self._do("start")

    def action_delete(self) -> None:
        self._do("delete")

    def action_scale_up(self) -> None:
        target = self._target()
        if target:
            self._do("scale", self._instances(target[0]) + 1)

    def action_scale_down(self) -> None:
        target = self._target()
        if target:
            self._do("scale", max(0, self._instances(target[0]) - 1))

    @work(group="pm2-action", exit_on_error=False)
    async def action_scale_to(self) -> None:
        target = self._target()
        if target is None:
            return
        count = await self.app.push_screen_wait(
            ScalePrompt("Scale the app to how many instances?", self._instances(target[0]))
        )
        if count == self._instances(target[0]):
            self.notify(f"already {count} instance(s): nothing to do")
        elif count is not None:
            self._do("scale", count)

    def action_save(self) -> None:
        self._do("save")

    def action_toggle_scope(self) -> None:
        self.whole_app = not self.whole_app
        self._render_status()

    def action_sort(self) -> None:
        self.query_one(ProcessTable).cycle_sort()
        self._render_status()

    def action_detail(self) -> None:
        selected = self.query_one(ProcessTable).selected()
        if selected is None:
            self.notify("no process selected", severity="warning")
            return
        host, proc = selected
        sample = self.service.views[host].samples.get(proc.pid)
        self.app.push_screen(ProcessDetailModal.for_process(host, proc, sample, self.clock()))

    @work(group="pm2-startup", exclusive=True, exit_on_error=False)
    async def action_startup(self) -> None:
        target = self._target()
        if target is None:
            return
        try:
            command = await self.service.backend(target[0]).startup_command()
        except TransportError as err:
            self.notify(str(err), severity="error")
            return
        rows = [
            ("run as root on " + target[0], command),
            ("then, as the app user", "pm2 save"),
            ("why", "pm2 resurrects the saved process list when the host boots"),
        ]
        self.app.push_screen(ProcessDetailModal("pm2 startup", rows))

    def action_refresh(self) -> None:
        self.service.refresh_soon()

    def action_emergency(self) -> None:
        target = self._target()
        if target:
            self.post_message(OpenEmergency(target[0]))  # the app opens it

    def action_back(self) -> None:
        self.app.pop_screen()

    def on_data_table_row_selected(self, event: ProcessTable.RowSelected) -> None:
        event.stop()
        self.action_detail()

    def on_data_table_row_highlighted(self) -> None:
        host = self._chart_host()
        view = self.service.views.get(host)
        if view is not None:
            for chart in self.query(HistoryChart):
                chart.show_history(view.history)
