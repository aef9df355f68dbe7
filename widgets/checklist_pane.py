"""The pre-deploy checklist pane: the five sections with a state per item."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rich.text import Text
from textual.widgets import Tree

from tui.core.checklist import DEFAULT_ITEMS, SECTIONS, ChecklistItem, ItemKind, ItemState

_STATE_STYLE = {
    ItemState.PENDING: ("·", "grey62"),
    ItemState.RUNNING: ("…", "yellow"),
    ItemState.PASS: ("✔", "green"),
    ItemState.FAIL: ("✖", "bold red"),
    ItemState.WARNING: ("!", "yellow"),
    ItemState.SIGNED: ("✍", "green"),
    ItemState.SKIPPED: ("-", "grey50"),
}


class ChecklistPane(Tree[str]):
    DEFAULT_CSS = """
    ChecklistPane {
        height: 1fr;
        padding: 0;
    }
    """

    def __init__(
        self, items: Iterable[ChecklistItem] = DEFAULT_ITEMS, **kwargs: object
    ) -> None:
        super().__init__("Pre-deploy checklist", **kwargs)  # type: ignore[arg-type]
        self.items = tuple(items)
        self.show_root = False

    def on_mount(self) -> None:
        self.refresh_states({})

    def refresh_states(self, states: Mapping[str, ItemState]) -> None:
        self.clear()
        for section in SECTIONS:
            node = self.root.add(Text(section, style="bold"), expand=True)
            for item in (i for i in self.items if i.section == section):
                state = states.get(item.id, ItemState.PENDING)
                glyph, style = _STATE_STYLE[state]
                label = Text(f"{glyph} ", style=style)
                label.append(item.label)
                if item.kind == ItemKind.SIGNED and state == ItemState.PENDING:
                    label.append("  (sign-off)", style="grey50")
                node.add_leaf(label, data=item.id)
