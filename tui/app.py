"""ShipdeckApp: screens, bindings, keymap, and the bridge from core events to messages."""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from screens.dashboard import DashboardScreen
from tui.context import AppContext
from tui.core.hosts import HostState
from tui.core.journal import Event
from tui.messages import HostStateChanged, JournalEventPosted
from widgets.step_keys import is_steps_summary, steps_key_display


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
        self.read_only = read_only
        self.connect_on_start = connect_on_start
        self.poll_processes = poll_processes
        self.title = f"shipdeck · {ctx.config.app.name}"
        self._first_frame_shown = False
        self._after_first_frame: list[Callable[[], object]] = []
        self.dashboard = DashboardScreen(poll_processes=poll_processes)

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
        if self.connect_on_start:
            # After the first frame: connecting imports asyncssh and does the handshakes; the
            # host bar shows each host as idle/connecting until its state changes.
            self.after_first_frame(self.connect_hosts)

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

    def _open_workflow(self) -> Any:
        if not self.is_screen_installed("deploy"):
            return None
        workflow = self.get_screen("deploy").workflow  # type: ignore[attr-defined]
        return workflow if workflow is not None and workflow.deployment is not None else None

    async def action_quit(self) -> None:
        workflow = self._open_workflow()
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
        workflow = self._open_workflow()
        if workflow is not None:
            await workflow.close()
        await self.ctx.pool.close()
        self.exit(0)
