"""Textual messages that carry core events into the widget tree, and the requests screens and
widgets send up to the app to open another screen (a screen never imports another screen, and a
widget never imports a screen: the app opens them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

from tui.core.hosts import HostState
from tui.core.journal import Event

if TYPE_CHECKING:
    from tui.core.checklist import ChecklistItem, ItemResult


class JournalEventPosted(Message):
    """An event was committed to the journal (the UI is a view of the journal)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class HostStateChanged(Message):
    def __init__(self, state: HostState) -> None:
        super().__init__()
        self.state = state


class MonitorUpdated(Message):
    """A host's view in the monitor service changed. Merged in the queue: only the newest per
    host matters."""

    def __init__(self, host: str) -> None:
        super().__init__()
        self.host = host

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, MonitorUpdated) and message.host == self.host


# -- requests to the app: open a screen ----------------------------------------------------------


class OpenDeploy(Message):
    """Open the deploy screen, and run a step (or the rollback) there."""

    def __init__(self, step: str | None = None, *, rollback: bool = False) -> None:
        super().__init__()
        self.step = step
        self.rollback = rollback


class OpenMonitor(Message):
    """Open the live monitor."""


class OpenEmergency(Message):
    """Open emergency triage for a host (None: the primary host)."""

    def __init__(self, host: str | None = None) -> None:
        super().__init__()
        self.host = host


class OpenChecklistDetail(Message):
    """Show one checklist item in full: its state, why, when, who, and its check's output."""

    def __init__(self, item: ChecklistItem, result: ItemResult | None, line: str) -> None:
        super().__init__()
        self.item = item
        self.result = result
        self.line = line
