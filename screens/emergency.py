"""Emergency triage for one host: the seed's "Service completely down" / "High CPU/Memory".

Processes (live, from the monitor service), disk, memory, top processes and the last 200
error-log lines (a snapshot refreshed every few seconds while this screen is on top), and one key
for each rescue: restart the app, roll back, scale down to 1, scale up by N, notify the team.
Every step taken is recorded in order (journal kind "note", step "incident") and listed here.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.screen import Screen
from textual.widgets import Log, Static

from tui.context import context_of
from tui.core.metrics_service import MonitorService
from tui.core.transport import TransportError
from tui.core.triage import Incident, TriageSnapshot, take_snapshot
from tui.messages import MonitorUpdated
from widgets.confirm_modal import ConfirmModal
from widgets.key_footer import KeyFooter
from widgets.pm2_action import perform
from widgets.process_table import ProcessTable
from widgets.scale_prompt import ScalePrompt
from widgets.screen_commands import BindingsProvider
from widgets.visibility import seen_by_user

#: Seconds between snapshots (df, free, top, tail: four short commands) while on screen.
REFRESH_S = 5.0

ACTION_NAMES = frozenset({"restart_app", "rollback", "scale_down_1", "scale_up_n", "notify_team"})


class EmergencyScreen(Screen[None]):
    COMMANDS = {BindingsProvider}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "restart_app", "Restart app", id="emergency.restart",
                tooltip="pm2 restart the whole app (asks to confirm)"),
        Binding("b", "rollback", "Roll back", id="emergency.rollback",
                tooltip="Roll back to the previous good release (asks to confirm)"),
        Binding("1", "scale_down_1", "Scale to 1", id="emergency.scale_down",
                tooltip="Scale the app down to one instance"),
        Binding("plus", "scale_up_n", "Scale +N", id="emergency.scale_up",
                tooltip="Add N instances of the app"),
        Binding("n", "notify_team", "Notify team", id="emergency.notify",
                tooltip="Tell the team (recorded in the journal)"),
        Binding("f", "refresh", "Refresh", id="emergency.refresh",
                tooltip="Take a new snapshot now"),
        Binding("escape", "back", "Back", id="emergency.back",
                tooltip="Leave triage (the incident steps stay in the journal)"),
    ]  # fmt: skip

    def __init__(
        self,
        service: MonitorService,
        host: str,
        *,
        live: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(id="emergency")
        self.service = service
        self.host = host
        self.live = live
        self.clock = clock
        self.snapshot: TriageSnapshot | None = None
        self.incident: Incident | None = None
        self._kick = asyncio.Event()

    def compose(self) -> ComposeResult:
        yield Static("", id="emergency-title")
        # What `shipdeck status` says (tui.core.status): live and served version, processes,
        # lock. Hidden until the first answer.
        yield Static("", id="em-status", markup=False)
        with Grid(id="emergency-grid"):
            with Vertical(classes="pane", id="em-procs-box") as box:
                box.border_title = "Processes"
                yield ProcessTable(id="em-processes")
            with Vertical(classes="pane", id="em-top-box") as box:
                box.border_title = "Top processes"
                yield Static("", id="em-top", markup=False)
            with Vertical(classes="pane", id="em-disk-box") as box:
                box.border_title = "Disk (df -h) · Memory (free -m)"
                yield Static("", id="em-disk", markup=False)
            with Vertical(classes="pane", id="em-steps-box") as box:
                box.border_title = "Incident steps"
                yield Static("", id="em-steps", markup=False)
            with Vertical(classes="pane", id="em-log-box") as box:
                box.border_title = "Error log (last 200 lines)"
                yield Log(id="em-log", max_lines=400, highlight=False)
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        ctx = context_of(self)
        cfg = ctx.config
        self.incident = Incident(ctx.journal, self.host, cfg.app.name)
        ro = "  [b reverse magenta] READ-ONLY [/]" if ctx.read_only else ""
        self.query_one("#emergency-title", Static).update(
            f"[b reverse red] EMERGENCY [/] {cfg.app.name} on [b]{self.host}[/b]"
            f" ({cfg.app.environment}){ro}"
        )
        self.service.add_listener(self._on_service)
        self._render_processes()
        self._render_steps()
        if self.live:
            self.refresh_loop()
            self.load_status()

    @work(group="emergency-status", exclusive=True, exit_on_error=False)
    async def load_status(self) -> None:
        from tui.core.status import gather_status, status_lines

        ctx = context_of(self)
        try:
            status = await gather_status(ctx.config, ctx.journal, ctx.pool, host=self.host)
            text = " · ".join(status_lines(status.to_json()))
        except Exception as err:  # status says why in one line; this is the last guard
            text = f"status unknown: {err}"
        box = self.query_one("#em-status", Static)
        box.update(text)
        box.display = True

    def on_unmount(self) -> None:
        self.service.remove_listener(self._on_service)

    # ------------------------------------------------------------------ data

    def _on_service(self, host: str) -> None:
        if host == self.host:
            self.post_message(MonitorUpdated(host))

    def on_monitor_updated(self, message: MonitorUpdated) -> None:
        if seen_by_user(self):
            self._render_processes()

    def on_screen_resume(self) -> None:
        self._render_processes()
        self._kick.set()

    def _render_processes(self) -> None:
        view = self.service.views.get(self.host)
        if view is None:
            return
        self.query_one(ProcessTable).show_view(view, now=self.clock())

    def _render_steps(self) -> None:
        lines = self.incident.timeline() if self.incident else []
        self.query_one("#em-steps", Static).update("\n".join(lines))

    def show_snapshot(self, snap: TriageSnapshot) -> None:
        self.snapshot = snap
        top = snap.top or "(top unavailable)"
        self.query_one("#em-top", Static).update(top)
        disk = "\n".join(x for x in (snap.disk, snap.memory, *snap.problems) if x)
        self.query_one("#em-disk", Static).update(disk)
        log = self.query_one("#em-log", Log)
        log.clear()
        log.write_lines(list(snap.error_log) or ["(no error log lines)"])

    @work(exclusive=True, group="triage", exit_on_error=False)
    async def refresh_loop(self) -> None:
        name = context_of(self).config.app.name
        monitor = self.service.monitors[self.host]
        while True:
            self._kick.clear()
            if seen_by_user(self):
                view = monitor.view
                try:
                    snap = await take_snapshot(
                        monitor.transport,
                        monitor.backend,
                        name,
                        processes=view.processes if view.processes else None,
                    )
                except TransportError as err:
                    self.query_one("#em-disk", Static).update(f"snapshot failed: {err}")
                else:
                    self.show_snapshot(snap)
            # Scheduled after the snapshot finished; paused (no commands) while covered.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REFRESH_S):
                    await self._kick.wait()

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ACTION_NAMES and context_of(self).read_only:
            return None
        return True

    def _step(self, message: str, **data: object) -> None:
        if self.incident is not None:
            self.incident.step(message, **data)
            self._render_steps()

    async def _act(self, label: str, action: str, *, count: int | str | None = None) -> None:
        name = context_of(self).config.app.name
        result = await perform(self, self.service, self.host, action, name, count=count)
        outcome = "cancelled" if result is None else ("ok" if result.ok else "failed")
        self._step(f"{label}: {outcome}", action=action, outcome=outcome)
        self._kick.set()

    @work(group="emergency-action", exit_on_error=False)
    async def action_restart_app(self) -> None:
        await self._act("restart the app", "restart")

    @work(group="emergency-action", exit_on_error=False)
    async def action_scale_down_1(self) -> None:
        await self._act("scale down to 1", "scale", count=1)

    @work(group="emergency-action", exit_on_error=False)
    async def action_scale_up_n(self) -> None:
        n = await self.app.push_screen_wait(ScalePrompt("Add how many instances?", 2))
        if n:
            await self._act(f"scale up by {n}", "scale", count=f"+{n}")

    @work(group="emergency-action", exit_on_error=False)
    async def action_rollback(self) -> None:
        app = self.app
        ctx = context_of(self)
        cfg = ctx.config
        production = cfg.app.environment == "production"
        ok = await app.push_screen_wait(
            ConfirmModal(
                f"Roll back {cfg.app.name}?",
                f"This will switch {cfg.app.name} back to the previous good release and reload"
                f" it on every host ({cfg.app.environment}).",
                "shipdeck rollback",
                require_text=cfg.app.name if production else "",
                confirm_label="Roll back",
            )
        )
        if not ok:
            self._step("roll back: cancelled")
            return
        from tui.core.workflow_steps import DataRollback
        from widgets.data_rollback_modal import DataRollbackModal

        # The same data question as the deploy screen's R: the code only, or the data too.
        modal = DataRollbackModal.for_config(cfg)
        choice = DataRollback.CODE_ONLY
        if modal is not None:
            choice = await app.push_screen_wait(modal)
        self._step(f"roll back: started ({choice.label})", data=str(choice))
        try:
            from tui.core.workflow import Workflow

            # The console's own deployment, when one is open: same engine, same lock.
            workflow = ctx.open_workflow()
            own = workflow is None
            if workflow is None:
                workflow = Workflow.from_context(ctx)
            try:
                outcome = await workflow.rollback("emergency triage", choice)
            finally:
                if own:
                    await workflow.close()
        except Exception as err:  # the workflow's errors are one line each
            self._step(f"roll back: failed: {err}")
            app.notify(f"rollback failed: {err}", severity="error", timeout=10)
            return
        self._step(f"roll back: {outcome.message}")
        if not outcome.ok:  # the code went back, the data did not
            app.notify(outcome.message, severity="error", timeout=10)
        self.service.refresh_soon()

    def action_notify_team(self) -> None:
        ctx = context_of(self)
        cfg = ctx.config
        message = f"🚨 emergency on {self.host}: {cfg.app.name} ({cfg.app.environment})"
        # The journal is the record; the app's notification bridge sends this note to every
        # configured webhook (and journals each delivery).
        ctx.journal.record(
            host=self.host, step="incident", kind="note", message=f"notify team: {message}"
        )
        webhooks = len(cfg.notify.webhooks)
        self._step("notified the team", channel="webhooks" if webhooks else "journal")
        if webhooks:
            self.notify(f"recorded: team notified (configured webhooks: {webhooks})")
        else:
            self.notify("recorded in the journal: no webhooks configured")

    def action_refresh(self) -> None:
        self._kick.set()
        self.service.refresh_soon(self.host)

    def action_back(self) -> None:
        self._step("left emergency triage")
        self.app.pop_screen()
