"""The pre-deploy checklist pane: the five sections with a state per item, and the gate.

Keys: `c` runs every automated check (concurrently), `x` the selected one, `space` signs off the
selected item, `enter` shows its output, `o` overrides the closed gate with a typed reason. The
pane is a view of the journal: it follows the app's open deployment (or the pre-flight
checklist when none is open) and reloads when the journal says something changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Tree

from tui.context import AppContext, find_context
from tui.core.checklist import (
    CHECK_STEP,
    DEFAULT_ITEMS,
    ChecklistItem,
    ItemKind,
    ItemResult,
    ItemState,
    build_items,
    sections_of,
)
from tui.core.checklist_gate import CHECKLIST_GATE, POLICY_GATE, GateDecision
from tui.core.checklist_state import current_deployment, load_results, scope_for
from tui.core.journal import Event
from tui.messages import OpenChecklistDetail
from widgets.visibility import after_first_frame

if TYPE_CHECKING:  # the runner brings every check's code: made right after the first frame
    from tui.core.checklist_runner import ChecklistRunner

_STATE_STYLE = {
    ItemState.PENDING: ("·", "grey62"),
    ItemState.RUNNING: ("…", "yellow"),
    ItemState.PASS: ("✔", "green"),
    ItemState.FAIL: ("✖", "bold red"),
    ItemState.WARNING: ("!", "yellow"),
    ItemState.SIGNED: ("✍", "green"),
    ItemState.SKIPPED: ("-", "grey50"),
}

# Journal events after which the pane re-reads its state (another process may have written).
_RELOAD_KINDS = frozenset({"deploy.start", "deploy.end", "step.ok", "step.fail", "check", "note"})


class ChecklistChanged(Message):
    """The journal has news for the checklist (posted from the journal listener's thread)."""


class ChecklistPane(Tree[str]):
    DEFAULT_CSS = """
    ChecklistPane {
        height: 1fr;
        padding: 0;
    }
    """

    # The Footer shows the two everyday keys (sign off, run checks); the others are in the keys
    # panel (?) and the command palette like every key.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "sign_off", "Sign off", id="checklist.sign",
                tooltip="Sign off the selected item as you (local user), with an optional note"),
        Binding("c", "run_all", "Run checks", id="checklist.run_all",
                tooltip="Run every automated checklist item (concurrently, each with a timeout)"),
        Binding("x", "run_selected", "Run item", id="checklist.run_one", show=False,
                tooltip="Run the selected automated item again"),
        Binding("enter", "show_detail", "Output", id="checklist.detail", show=False,
                tooltip="Show the selected item's output, when and by whom"),
        Binding("o", "override", "Override", id="checklist.override", show=False,
                tooltip="Let DEPLOY through a closed gate: needs a typed reason (journaled)"),
    ]  # fmt: skip

    def __init__(self, items: Iterable[ChecklistItem] = DEFAULT_ITEMS, **kwargs: Any) -> None:
        super().__init__("Pre-deploy checklist", **kwargs)
        self.items = tuple(items)
        self.show_root = False
        self.runner: ChecklistRunner | None = None
        self.decision: GateDecision | None = None
        self._listening = False
        self._told: set[str] = set()

    # -- wiring ---------------------------------------------------------------------------------

    @property
    def _ctx(self) -> AppContext | None:
        return find_context(self)

    def on_mount(self) -> None:
        ctx = self._ctx
        if ctx is None:
            self.refresh_states({})
            return
        ctx.journal.add_listener(self._on_journal_event)
        self._listening = True
        # The first frame shows the items and what the journal recorded for them, read the way
        # the runner reads them (ChecklistRunner.reload); the runner itself, with the code of
        # every check, is made right after the first frame, or at once when a key needs it.
        self.items = build_items(ctx.config)
        dep = current_deployment(ctx.journal, ctx.config.app.name)
        scope = scope_for(ctx.journal, ctx.config.app.name, dep.id if dep else None)
        ids = {item.id for item in self.items}
        self.refresh_states({k: r for k, r in load_results(ctx.journal, scope).items() if k in ids})
        after_first_frame(self, self.refresh_from_journal)

    def on_unmount(self) -> None:
        ctx = self._ctx
        if ctx is not None and self._listening:
            ctx.journal.remove_listener(self._on_journal_event)
            self._listening = False

    def _ensure_runner(self) -> ChecklistRunner | None:
        """The runner (None without a config): made now if the first frame has not made it."""
        if self.runner is None and self._ctx is not None:
            self._make_runner()
        return self.runner

    def _make_runner(self) -> None:
        from tui.core.checklist_runner import ChecklistRunner

        ctx = self._ctx
        assert ctx is not None
        dep = current_deployment(ctx.journal, ctx.config.app.name)
        self.runner = ChecklistRunner(
            ctx.config, ctx.journal, ctx.pool, deployment_id=dep.id if dep else None,
            workdir=ctx.checklist_workdir, console=True, on_update=self._on_update,
            **({"clock": ctx.checklist_clock} if ctx.checklist_clock is not None else {}),
        )  # fmt: skip
        self.items = self.runner.items

    def _on_journal_event(self, event: Event) -> None:
        if event.kind not in _RELOAD_KINDS:
            return
        if event.kind in ("check", "note") and event.step not in (CHECK_STEP, "notify"):
            return
        self.post_message(ChecklistChanged())  # thread-safe

    def on_checklist_changed(self, message: ChecklistChanged) -> None:
        message.stop()
        self.refresh_from_journal()

    @work(exclusive=True, group="checklist-refresh", exit_on_error=False)
    async def refresh_from_journal(self) -> None:
        ctx = self._ctx
        if ctx is None or self._ensure_runner() is None:
            return
        assert self.runner is not None
        dep = current_deployment(ctx.journal, ctx.config.app.name)
        dep_id = dep.id if dep else None
        if dep_id != self.runner.deployment_id and not self.runner.running:
            self._make_runner()
        assert self.runner is not None
        self.runner.reload()
        await self.runner.refresh_journal_items()
        violations, warnings = await self.runner.policy()
        self.decision = self.runner.decision(violations, warnings)
        self.refresh_states(self.runner.results)
        # Policy warnings (commits ahead) once each; the clock-bound window violations are not
        # toasted: they come with DEPLOY's refusal and in the override modal.
        for warning in warnings:
            if warning not in self._told:
                self._told.add(warning)
                self.notify(warning, title="deploy policy", severity="warning", timeout=10)

    def _on_update(self, item_id: str, result: ItemResult) -> None:
        self._relabel(item_id, result)

    # -- rendering ------------------------------------------------------------------------------

    def _label(self, item: ChecklistItem, result: ItemResult | None) -> Text:
        state = result.state if result is not None else ItemState.PENDING
        glyph, style = _STATE_STYLE[state]
        label = Text(f"{glyph} ", style=style)
        label.append(item.label)
        signable = item.kind == ItemKind.SIGNED or bool(result and result.signable)
        if signable and state == ItemState.PENDING:
            label.append("  (sign-off)", style="grey50")
        elif result is not None and state in (ItemState.FAIL, ItemState.WARNING) and result.summary:
            label.append(f"  {result.summary}", style=style)
        if item.optional and state not in (ItemState.PASS, ItemState.SIGNED):
            label.append("  optional", style="grey50 italic")
        return label

    def refresh_states(self, states: Mapping[str, ItemState | ItemResult]) -> None:
        """Rebuild the tree; ``states`` maps item ids to results (or bare states)."""
        cursor = self.cursor_line
        self.clear()
        for section in sections_of(self.items):
            members = [i for i in self.items if i.section == section]
            if not members:
                continue
            node = self.root.add(Text(section, style="bold"), expand=True)
            for item in members:
                value = states.get(item.id)
                result = ItemResult(item.id, value) if isinstance(value, ItemState) else value
                node.add_leaf(self._label(item, result), data=item.id)
        if cursor >= 0:
            self.cursor_line = cursor
        self._show_gate()

    def _relabel(self, item_id: str, result: ItemResult) -> None:
        item = next((i for i in self.items if i.id == item_id), None)
        if item is None:
            return
        for section in self.root.children:
            for leaf in section.children:
                if leaf.data == item_id:
                    leaf.set_label(self._label(item, result))
                    return

    def _show_gate(self) -> None:
        # In the subtitle of the pane's frame: its own on the dashboard (.pane), else the
        # container's it sits in.
        box = self if self.has_class("pane") else self.parent
        if self.decision is None or box is None or not hasattr(box, "border_subtitle"):
            return
        d = self.decision
        # The count is of checklist items only: the policy half depends on the clock, and the
        # refusal that names it comes with DEPLOY (and in the override modal).
        if d.open:
            box.border_subtitle = "gate: open" + (" (overridden)" if d.overridden else "")
        elif not d.checklist_ok:
            box.border_subtitle = f"gate: CLOSED ({len(d.blocking)})"
        else:
            box.border_subtitle = "gate: CLOSED (policy)"

    # -- actions --------------------------------------------------------------------------------

    def _selected(self) -> ChecklistItem | None:
        node = self.cursor_node
        if node is None or node.data is None:
            return None
        return next((i for i in self.items if i.id == node.data), None)

    def _writable(self) -> bool:
        ctx = self._ctx
        if ctx is not None and ctx.read_only:
            self.notify("read-only console: checks and sign-offs are disabled", severity="warning")
            return False
        if self._ensure_runner() is None:
            self.notify("no config loaded", severity="error")
            return False
        return True

    def action_run_all(self) -> None:
        if self._writable():
            self.run_checks(None)

    def action_run_selected(self) -> None:
        item = self._selected()
        if item is None or not self._writable():
            return
        if item.kind != ItemKind.AUTOMATED:
            self.notify(f"{item.label}: a person signs this one (space)")
            return
        self.run_checks([item.id])

    @work(group="checklist-run", exit_on_error=False)
    async def run_checks(self, ids: list[str] | None) -> None:
        assert self.runner is not None
        await self.runner.run(ids)
        self.refresh_from_journal()

    def action_sign_off(self) -> None:
        item = self._selected()
        if item is None or not self._writable():
            return
        assert self.runner is not None
        if not self.runner.can_sign(item.id):
            self.notify(f"{item.label} is checked automatically (x runs it)", severity="warning")
            return
        result = self.runner.results.get(item.id)
        hint = result.summary if result is not None and result.signable else ""
        who = f"{self.runner.journal.local_user}@{self.runner.journal.jump_host}"

        def signed(answer: tuple[str, str] | None) -> None:
            if answer is not None and self.runner is not None:
                self.runner.sign(item.id, note=answer[0], link=answer[1])
                self.refresh_from_journal()

        from widgets.signoff_modal import SignOffModal

        self.app.push_screen(SignOffModal(item.label, who, hint), signed)

    def action_show_detail(self) -> None:
        item = self._selected()
        if item is None:
            node = self.cursor_node
            if node is not None:
                node.toggle()
            return
        self._ensure_runner()
        result = self.runner.results.get(item.id) if self.runner else None
        line = self.runner.line(item.id) if self.runner else item.label
        self.post_message(OpenChecklistDetail(item, result, line))  # the app opens the screen

    def action_override(self) -> None:
        if not self._writable():
            return
        d = self.decision
        if d is None or d.open:
            self.notify("the gate is open: nothing to override")
            return
        gates = [g for g, ok in ((CHECKLIST_GATE, d.checklist_ok), (POLICY_GATE, d.policy_ok))
                 if not ok]  # fmt: skip
        blocking = ([] if d.checklist_ok else d.blocking) + (
            [] if d.policy_ok else d.policy_violations
        )
        assert self.runner is not None
        who = f"{self.runner.journal.local_user}@{self.runner.journal.jump_host}"

        def overridden(reason: str | None) -> None:
            if reason and self.runner is not None:
                for gate in gates:
                    self.runner.override(gate, reason, blocking)
                self.notify(f"{' and '.join(gates)} gate overridden: {reason}")
                self.refresh_from_journal()

        from widgets.override_modal import OverrideModal

        self.app.push_screen(OverrideModal(gates, blocking, who), overridden)
