"""The deploy screen: keys 1-5 run the workflow's steps, R rolls back, everything live.

The screen drives `tui.core.workflow.Workflow` (the same engine as `shipdeck deploy
--headless`) from one exclusive worker, and shows the journal: the step bar and the timeline
are rebuilt from journal events, so what is on screen is what was recorded.
"""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Log

from tui.context import context_of
from tui.core.checklist_gate import override_gate
from tui.core.journal import Event
from tui.core.lock import LockedError
from tui.core.transport import TransportError
from tui.core.watch import (
    Watch,
    confirm_gate,
    override_watch,
    watch_for_workflow,
)
from tui.core.watch_baseline import baseline_before_deploy
from tui.core.workflow import (
    GateClosed,
    OrderError,
    Workflow,
    WorkflowError,
    mark_interrupted,
)
from tui.core.workflow_steps import DataRollback, StepFailed
from tui.messages import HostStateChanged, JournalEventPosted
from widgets.confirm_modal import ConfirmModal
from widgets.data_rollback_modal import DataRollbackModal
from widgets.host_bar import HostBar
from widgets.key_footer import KeyFooter
from widgets.reason_modal import ReasonModal
from widgets.step_bar import StepBar
from widgets.step_keys import step_bindings
from widgets.timeline import Timeline
from widgets.verify_panel import VerifyPanel, latest_verify_results
from widgets.watch_panel import WatchPanel


class CommandOutput(Message):
    """Lines of command output, batched per step command (never one message per line)."""

    def __init__(self, host: str, line: str) -> None:
        super().__init__()
        self.host = host
        self.line = line


class DeployScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        *step_bindings(),
        Binding("escape", "app.pop_screen", "Back", id="deploy.back",
                tooltip="Back to the dashboard (a running step goes on)"),
    ]  # fmt: skip

    def __init__(self) -> None:
        super().__init__(id="deploy")
        self.workflow: Workflow | None = None
        self.watch: Watch | None = None

    # -- layout --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        ctx = context_of(self)
        yield HostBar(ctx.config.app.name, ctx.config.app.environment, read_only=ctx.read_only)
        yield StepBar(id="step-bar")
        with Vertical(id="verify-box", classes="pane") as box:
            box.border_title = "VERIFY results"
            box.display = False
            yield VerifyPanel(id="verify-results")
        with Horizontal(id="deploy-body"):
            with Vertical(id="output-box", classes="pane") as box:
                box.border_title = "Command output"
                yield Log(max_lines=5000, id="deploy-output")
            with Vertical(id="deploy-timeline-box", classes="pane") as box:
                box.border_title = "This deployment"
                yield Timeline(id="deploy-timeline")
        with Vertical(id="watch-box", classes="pane") as box:
            box.border_title = "Post-deploy watch"
            box.display = False
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        ctx = context_of(self)
        bar = self.query_one(HostBar)
        for state in ctx.pool.states():
            bar.set_state(state)
        self._workflow()
        self.refresh_steps()

    def _workflow(self) -> Workflow:
        if self.workflow is None:
            ctx = context_of(self)
            # BACKUP dumps the database when [database] is enabled; a rollback restores data
            # only when the operator says so (see action_rollback).
            self.workflow = Workflow.from_context(
                ctx, on_output=lambda host, line: self.post_message(CommandOutput(host, line))
            )
            # The console's one engine: the quit path and the emergency rollback use it too.
            ctx.workflow = self.workflow
        return self.workflow

    # -- the journal is the truth --------------------------------------------------------------

    def _deployment_id(self) -> int | None:
        """The deployment this screen shows: the open one, else one left unfinished (a console
        that died mid-step), else the last one that ended."""
        wf = self._workflow()
        if wf.deployment_id is not None:
            return wf.deployment_id
        if wf.last_deployment is not None:
            return wf.last_deployment.id
        ctx = context_of(self)
        unfinished = self._interrupted()
        if unfinished is not None:
            return unfinished
        latest = ctx.journal.deployments(ctx.config.app.name, limit=1)
        return latest[0].id if latest else None

    def _interrupted(self) -> int | None:
        ctx = context_of(self)
        if self._workflow().deployment_id is not None:
            return None
        found = mark_interrupted(ctx.journal, ctx.config.app.name)
        return next((d.id for d in found if d.state == "interrupted"), None)

    def refresh_steps(self, verify: bool = True) -> None:
        ctx = context_of(self)
        dep_id = self._deployment_id()
        bar = self.query_one(StepBar)
        if dep_id is None:
            bar.show({}, "no deployment open: press 1 to start with BACKUP")
            return
        dep = ctx.journal.deployment(dep_id)
        states = ctx.journal.step_states(dep_id)
        versions = f"{dep.from_version or '?'} → {dep.to_version or '?'}"
        headline = f"deployment #{dep.id}  ref {dep.ref}  {versions}  [{dep.state}]"
        if dep.state == "interrupted":
            where = dep.step.upper() or "start"
            headline += f"  stopped during {where}: a step key resumes, R rolls back"
        bar.show(states, headline, rolled_back=dep.state == "rolled_back")
        timeline = self.query_one("#deploy-timeline", Timeline)
        if timeline.row_count == 0:
            timeline.add_events(ctx.journal.events(deployment_id=dep_id))
        if verify:
            self._show_verify(dep_id)

    def _show_verify(self, dep_id: int) -> None:
        ctx = context_of(self)
        checks = ctx.journal.events(deployment_id=dep_id, kinds=["check"])
        box = self.query_one("#verify-box", Vertical)
        box.display = bool(latest_verify_results(checks))
        if box.display:
            self.query_one(VerifyPanel).show(checks)

    def on_journal_event_posted(self, message: JournalEventPosted) -> None:
        event: Event = message.event
        dep_id = self._deployment_id()
        if event.deployment_id is not None and event.deployment_id != dep_id:
            return
        timeline = self.query_one("#deploy-timeline", Timeline)
        if event.kind == "deploy.start":
            timeline.reset()
        timeline.add_events([event])
        if event.kind == "check" or event.kind == "deploy.start":
            self.refresh_steps()
        else:
            self.refresh_steps(verify=False)

    def on_host_state_changed(self, message: HostStateChanged) -> None:
        self.query_one(HostBar).set_state(message.state)

    def on_command_output(self, message: CommandOutput) -> None:
        self.query_one("#deploy-output", Log).write_line(f"[{message.host}] {message.line}")

    # -- actions -------------------------------------------------------------------------------

    def _refuse_if_read_only(self) -> bool:
        if context_of(self).read_only:
            self.query_one(StepBar).say("read-only console: actions are disabled", error=True)
            return True
        return False

    def action_step(self, step: str) -> None:
        if self._refuse_if_read_only():
            return
        interrupted = self._interrupted()
        if interrupted is not None:
            self._offer_resume(f"deployment #{interrupted} was interrupted")
            return
        config = context_of(self).config
        if step == "deploy" and config.app.environment == "production":
            self.app.push_screen(
                ConfirmModal(
                    "DEPLOY to production",
                    "Switch `current` to the new release and reload the app.",
                    confirm_label="Deploy",
                ),
                lambda ok: self.run_step(step) if ok else None,
            )
            return
        self.run_step(step)

    @work(exclusive=True, group="workflow", exit_on_error=False)
    async def run_step(self, step: str, override_reason: str | None = None) -> None:
        wf = self._workflow()
        bar = self.query_one(StepBar)
        bar.say(f"{step.upper()} running ...")
        config = context_of(self).config
        try:
            if step == "backup":
                await wf.backup(config.app.ref)
                await baseline_before_deploy(wf)
            elif step == "confirm":
                if not self._watch_allows_confirm():
                    return
                await wf.confirm(override_reason)
            else:
                await getattr(wf, step)()
                if step == "deploy":
                    self.start_watch()
        except GateClosed as err:
            bar.say(str(err), error=True)
            self._ask_gate_override(err)
            return
        except OrderError as err:
            if step == "confirm" and override_reason is None and wf.deployment_id is not None:
                self._ask_override(str(err))
            elif "interrupted" in str(err):
                self._offer_resume(str(err))
            else:
                bar.say(str(err), error=True)
            return
        except LockedError as err:
            bar.say(str(err), error=True)
            return
        except StepFailed as err:
            bar.say(str(err), error=True)  # already says "STEP failed: why"
            self.refresh_steps()
            return
        except (WorkflowError, TransportError) as err:
            bar.say(f"{step.upper()} failed: {err}", error=True)
            self.refresh_steps()
            return
        bar.say(f"{step.upper()} done")
        self.refresh_steps()

    # -- the post-deploy watch ---------------------------------------------------------------

    def _watch_minutes(self) -> float:
        return float(context_of(self).config.policy.watch_minutes)

    def start_watch(self) -> None:
        if self._watch_minutes() <= 0:
            return
        wf = self._workflow()
        panel: list[WatchPanel] = []
        watch = watch_for_workflow(
            wf,
            on_sample=lambda sample: panel[0].sample_callback(sample),
            on_alarm=lambda alarm: panel[0].alarm_callback(alarm),
        )
        panel.append(WatchPanel(watch, id="watch-panel"))
        box = self.query_one("#watch-box", Vertical)
        box.remove_children()
        box.mount(panel[0])
        box.display = True
        self.watch = watch
        self.run_worker(watch.run(), group="watch", exit_on_error=False)

    def on_watch_panel_rollback_requested(self, message: WatchPanel.RollbackRequested) -> None:
        # The alarm's one key asks the same questions as R (the data too?) and journals why.
        self.action_rollback(message.reason)

    def _watch_allows_confirm(self) -> bool:
        """CONFIRM waits for a clean watch (the seed's "monitor for 15+ minutes"), unless the
        operator types why not."""
        if self._watch_minutes() <= 0:
            return True
        wf = self._workflow()
        dep_id = wf.deployment_id
        if dep_id is None:
            return True  # the engine refuses CONFIRM itself, with its own message
        gate = confirm_gate(wf.journal, dep_id)
        if gate.unlocked:
            return True
        self.query_one(StepBar).say(gate.message, error=True)

        def done(reason: str | None) -> None:
            if reason:
                override_watch(wf.journal, dep_id, reason)
                self.run_step("confirm")

        self.app.push_screen(
            ReasonModal(
                "CONFIRM before the watch is over",
                f"{gate.message}. Type why you confirm now; it is recorded in the journal.",
            ),
            done,
        )
        return False

    def _ask_gate_override(self, err: GateClosed) -> None:
        decision = err.decision
        lines = [*decision.policy_violations, *decision.blocking]
        shown = "\n".join(f"• {line}" for line in lines[:8])
        more = f"\n… and {len(lines) - 8} more" if len(lines) > 8 else ""
        dep_id = self._workflow().deployment_id

        def done(reason: str | None) -> None:
            if not reason:
                return
            if decision.blocking:
                override_gate(self._workflow().journal, dep_id, "checklist", reason,
                              blocking=decision.blocking)  # fmt: skip
            if decision.policy_violations:
                override_gate(self._workflow().journal, dep_id, "policy", reason,
                              blocking=decision.policy_violations)  # fmt: skip
            self.run_step("deploy")  # DEPLOY was already confirmed before the gate said no

        self.app.push_screen(
            ReasonModal(
                "DEPLOY refused by the pre-deploy gate",
                f"{shown}{more}\n\nRun the checks (c on the dashboard) and sign off, or type "
                "why you deploy anyway: the reason goes into the journal, the timeline and the "
                "changelog line.",
            ),
            done,
        )

    def _ask_override(self, why: str) -> None:
        def done(reason: str | None) -> None:
            if reason:
                self.run_step("confirm", override_reason=reason)

        self.app.push_screen(
            ReasonModal(
                "CONFIRM without a passed VERIFY",
                f"{why}. Type the reason for the override; it is recorded in the journal "
                "and in the changelog line.",
            ),
            done,
        )

    def _offer_resume(self, why: str) -> None:
        ctx = context_of(self)
        unfinished = ctx.journal.unfinished_deployments(ctx.config.app.name)
        if not unfinished:
            self.query_one(StepBar).say(why, error=True)
            return
        dep = unfinished[0]
        self.app.push_screen(
            ConfirmModal(
                f"Deployment #{dep.id} was interrupted",
                f"{why}. Resume it from the step that did not finish? "
                "(To undo it instead, cancel and press R.)",
                confirm_label="Resume",
            ),
            lambda ok: self.resume(dep.id) if ok else None,
        )

    @work(exclusive=True, group="workflow", exit_on_error=False)
    async def resume(self, deployment_id: int) -> None:
        bar = self.query_one(StepBar)
        try:
            nxt = await self._workflow().resume(deployment_id)
        except (OrderError, LockedError, WorkflowError, TransportError) as err:
            bar.say(str(err), error=True)
            return
        bar.say(f"resumed deployment #{deployment_id}: next is {(nxt or 'nothing').upper()}")
        self.refresh_steps()

    def action_rollback(self, reason: str = "operator rollback from the console") -> None:
        if self._refuse_if_read_only():
            return
        config = context_of(self).config
        production = config.app.environment == "production"
        self.app.push_screen(
            ConfirmModal(
                "ROLLBACK",
                f"Switch {config.app.name} back to the previous good release and reload it; "
                "the current release is marked failed.",
                require_text=config.app.name if production else "",
                confirm_label="Roll back",
            ),
            lambda ok: self._ask_about_data(reason) if ok else None,
        )

    def _ask_about_data(self, reason: str) -> None:
        """After the rollback confirm: the code only, or the data too (when there is a way)."""
        modal = DataRollbackModal.for_config(context_of(self).config)
        if modal is None:
            self.rollback(reason)
            return
        self.app.push_screen(
            modal, lambda choice: self.rollback(reason, choice or DataRollback.CODE_ONLY)
        )

    @work(exclusive=True, group="workflow", exit_on_error=False)
    async def rollback(self, reason: str, choice: DataRollback = DataRollback.CODE_ONLY) -> None:
        bar = self.query_one(StepBar)
        bar.say("ROLLBACK running ...")
        wf = self._workflow()
        if self.watch is not None:
            self.watch.cancel()  # no samples of a release that is being taken away
        try:
            outcome = await wf.rollback(reason, choice)
        except (OrderError, LockedError, WorkflowError, TransportError) as err:
            bar.say(f"ROLLBACK failed: {err}", error=True)
            self.refresh_steps()
            return
        bar.say(outcome.message, error=not outcome.ok)
        self.refresh_steps()

