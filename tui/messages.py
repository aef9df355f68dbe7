"""Textual messages that carry core events into the widget tree."""

from __future__ import annotations

from textual.message import Message

from tui.core.hosts import HostState
from tui.core.journal import Event


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
