"""One transport per configured host, their connection state, and the journal entries for it.

The pool is what screens and the headless CLI share: it owns the transports (so a connection is
reused across panes) and turns every state change into a journal event, so the timeline shows
when a host dropped and came back even if nobody was looking.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tui.core.config import Config, HostConfig
from tui.core.journal import Journal
from tui.core.transport import ConnState, Transport, TransportError, make_transport


@dataclass(frozen=True)
class HostState:
    name: str
    state: ConnState
    reason: str


StateListener = Callable[[HostState], None]


class HostPool:
    def __init__(
        self,
        config: Config,
        journal: Journal | None = None,
        transport_factory: Callable[[HostConfig], Transport] = make_transport,
    ) -> None:
        self.config = config
        self.journal = journal
        self._transports: dict[str, Transport] = {}
        self._listeners: list[StateListener] = []
        self._last: dict[str, ConnState] = {}
        for host in config.hosts:
            transport = transport_factory(host)
            transport.add_state_listener(self._on_state)
            self._transports[host.name] = transport
            self._last[host.name] = transport.state

    def __iter__(self):
        return iter(self._transports.values())

    def __getitem__(self, name: str) -> Transport:
        return self._transports[name]

    @property
    def names(self) -> list[str]:
        return list(self._transports)

    @property
    def primary(self) -> Transport:
        return self._transports[self.config.hosts[0].name]

    def states(self) -> list[HostState]:
        return [HostState(n, t.state, t.last_error) for n, t in self._transports.items()]

    def add_listener(self, listener: StateListener) -> None:
        self._listeners.append(listener)

    def _on_state(self, transport: Transport) -> None:
        name = transport.host.name
        previous = self._last.get(name)
        self._last[name] = transport.state
        if previous == transport.state:
            return
        # Local hosts have nothing to connect to; only SSH links are worth a timeline line.
        worth_recording = transport.state in (
            ConnState.CONNECTED, ConnState.FAILED, ConnState.DISCONNECTED
        )
        if self.journal is not None and transport.host.transport == "ssh" and worth_recording:
            kind = "connect" if transport.state == ConnState.CONNECTED else "disconnect"
            message = str(transport.state)
            if transport.last_error:
                message = f"{message}: {transport.last_error}"
            self.journal.record(host=name, kind=kind, message=message)
        state = HostState(name, transport.state, transport.last_error)
        for listener in list(self._listeners):
            listener(state)

    async def connect_all(self, names: Iterable[str] | None = None) -> dict[str, str]:
        """Connect every host concurrently; returns host -> one-line error for those that failed."""
        chosen = list(names) if names is not None else self.names

        async def one(name: str) -> tuple[str, str]:
            try:
                await self._transports[name].connect()
            except TransportError as err:
                return name, str(err)
            return name, ""

        results = await asyncio.gather(*(one(n) for n in chosen))
        return {name: err for name, err in results if err}

    async def close(self) -> None:
        await asyncio.gather(
            *(t.close() for t in self._transports.values()), return_exceptions=True
        )
