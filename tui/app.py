"""ShipdeckApp: screens, bindings, keymap, and the bridge from core events to messages."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from screens.dashboard import DashboardScreen
from screens.step_keys import is_steps_summary, steps_key_display
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

    def on_ready(self) -> None:
        # Move everything built during start-up (widgets, styles, imports) out of the
        # collector's view: full collections over it were the worst event-loop stalls while
        # logs streamed (75-108 ms -> ~14 ms measured with bench/logs.py).
        gc.freeze()

    def on_mount(self) -> None:
        if self.ctx.config.keymap:
            self.set_keymap(dict(self.ctx.config.keymap))
        # Journal and pool call back synchronously; post_message is safe from any thread.
        self.ctx.journal.add_listener(self._on_journal_event)
        self.ctx.pool.add_listener(self._on_host_state)
        self.dashboard = DashboardScreen(poll_processes=self.poll_processes)
        self.push_screen(self.dashboard)
        if self.connect_on_start:
            # After the first frame: connecting imports asyncssh and does the handshakes; the
            # host bar shows each host as idle/connecting until its state changes.
            self.call_after_refresh(self.connect_hosts)

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
