"""One checklist item in full: its state, why, when, who, and the output of its check."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Log, Static

from tui.core.checklist import ChecklistItem, ItemKind, ItemResult, ItemState, state_word
from widgets.key_footer import KeyFooter

_STATE_STYLE = {
    ItemState.PASS: "bold green",
    ItemState.SIGNED: "bold green",
    ItemState.FAIL: "bold red",
    ItemState.WARNING: "bold yellow",
    ItemState.RUNNING: "bold yellow",
}


class ChecklistDetailScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="checklist.detail.back",
                tooltip="Back to the checklist"),
    ]  # fmt: skip

    def __init__(self, item: ChecklistItem, result: ItemResult | None, line: str) -> None:
        super().__init__(id="checklist-detail")
        self.item = item
        self.result = result
        self.line = line

    def _head(self) -> Text:
        item, res = self.item, self.result
        state = res.state if res is not None else ItemState.PENDING
        text = Text()
        text.append(f"[{item.section}] {item.label}\n", style="bold")
        text.append(state_word(state), style=_STATE_STYLE.get(state, "grey62"))
        if res is not None and res.summary:
            text.append(f"  {res.summary}")
        text.append("\n")
        kind = "signed off by a person" if item.kind == ItemKind.SIGNED else "checked automatically"
        facts = [kind + (", optional" if item.optional else ", required")]
        if item.command:
            facts.append("command: " + " ".join(item.command))
        if res is not None and res.data.get("where"):
            facts.append(f"in {res.data['where']}")
        if res is not None and res.ts is not None:
            facts.append(f"at {datetime.fromtimestamp(res.ts):%Y-%m-%d %H:%M:%S}")
        if res is not None and res.duration is not None:
            d = res.duration
            facts.append(f"took {d * 1000:.0f} ms" if d < 1 else f"took {d:.1f}s")
        if res is not None and res.who:
            facts.append(f"by {res.who}")
        text.append(" · ".join(facts), style="grey62")
        if res is not None and res.note:
            text.append(f"\nnote: {res.note}")
        if res is not None and res.link:
            text.append(f"\nlink: {res.link}")
        return text

    def compose(self) -> ComposeResult:
        yield Static(self._head(), id="detail-head")
        log = Log(id="detail-output", highlight=False)
        log.border_title = "Output"
        yield log
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        log = self.query_one(Log)
        detail = self.result.detail if self.result is not None else ""
        log.write(detail or "(no output recorded for this item)")
        log.scroll_home(animate=False)
