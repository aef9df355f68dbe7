"""Emergency triage: the seed's "Service completely down" / "High CPU/Memory" in one snapshot.

A snapshot is the process list, ``df -h``, ``free -m``, the head of ``top -bn1`` and the last
200 lines of the app's error logs, read concurrently. The steps the operator takes during an
incident are journal events (kind "note", step "incident") in order, with times, so the incident
can be written up afterwards from the journal alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from tui.core.journal import Event, Journal
from tui.core.pm2 import Pm2Backend, Pm2Error, Pm2Process
from tui.core.transport import Transport, TransportError

ERROR_LINES = 200
TOP_LINES = 20
TIMEOUT_S = 20.0


@dataclass(frozen=True)
class TriageSnapshot:
    host: str
    taken_at: float
    processes: tuple[Pm2Process, ...] = ()
    processes_error: str = ""
    disk: str = ""  # df -h
    memory: str = ""  # free -m
    top: str = ""  # top -bn1, first lines
    error_log: tuple[str, ...] = ()  # last lines of the error log(s)
    problems: tuple[str, ...] = field(default=())  # one line per part that could not be read


async def _text(transport: Transport, argv: Sequence[str], limit: int | None = None) -> str:
    result = await transport.run(list(argv), timeout=TIMEOUT_S)
    if result.exit_status == 127:
        raise TransportError(f"{argv[0]} is not installed")
    if not result.ok and not result.stdout:
        last = result.stderr.strip().splitlines()[-1:] or [f"exit {result.exit_status}"]
        raise TransportError(f"{argv[0]}: {last[0]}")
    lines = result.stdout.rstrip("\n").splitlines()
    return "\n".join(lines[:limit] if limit else lines)


async def take_snapshot(
    transport: Transport,
    backend: Pm2Backend,
    app_name: str,
    processes: Sequence[Pm2Process] | None = None,
) -> TriageSnapshot:
    """Everything at once. ``processes``: a fresh list the monitor already has (saves a jlist)."""
    problems: list[str] = []

    async def safe(what: str, coro) -> str:  # type: ignore[no-untyped-def]
        try:
            return await coro
        except (TransportError, OSError) as err:
            problems.append(f"{what}: {err}")
            return ""

    procs: tuple[Pm2Process, ...] = tuple(processes or ())
    procs_error = ""
    if processes is None:
        try:
            listed = await backend.jlist_if_running()
            procs = tuple(p for p in listed if p.name == app_name) or tuple(listed)
        except (Pm2Error, TransportError) as err:
            procs_error = str(err)
    err_logs = tuple(dict.fromkeys(p.err_log for p in procs if p.err_log))
    tail_argv = ["tail", "-q", "-n", str(ERROR_LINES), "--", *err_logs]
    disk, memory, top, errors = await asyncio.gather(
        safe("df -h", _text(transport, ["df", "-h"])),
        safe("free -m", _text(transport, ["free", "-m"])),
        safe("top", _text(transport, ["top", "-bn1"], TOP_LINES)),
        safe("error log", _text(transport, tail_argv)) if err_logs else _none(),
    )
    lines = errors.splitlines()[-ERROR_LINES:] if errors else []
    return TriageSnapshot(
        host=str(getattr(transport.host, "name", "")),
        taken_at=time.time(),
        processes=procs,
        processes_error=procs_error,
        disk=disk,
        memory=memory,
        top=top,
        error_log=tuple(lines),
        problems=tuple(problems),
    )


async def _none() -> str:
    return ""


class Incident:
    """The steps of one incident, recorded in order in the journal."""

    def __init__(self, journal: Journal, host: str, app_name: str) -> None:
        self.journal = journal
        self.host = host
        self.app_name = app_name
        self.started_at = time.time()
        self.id = f"{app_name}@{host}:{int(self.started_at)}"
        self.steps: list[Event] = []
        self.step("opened emergency triage")

    def step(self, message: str, **data: object) -> Event:
        event = self.journal.record(
            host=self.host,
            step="incident",
            kind="note",
            message=f"incident: {message}",
            data={"incident": self.id, "n": len(self.steps) + 1, **data},
        )
        self.steps.append(event)
        return event

    def timeline(self) -> list[str]:
        """The steps as lines for a write-up: time (UTC), then what was done."""
        return [
            f"{time.strftime('%H:%M:%S', time.gmtime(e.ts))} {e.message.removeprefix('incident: ')}"
            for e in self.steps
        ]
