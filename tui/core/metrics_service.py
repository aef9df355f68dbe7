"""The live monitor as a service: per host, the pm2 process list plus 1 Hz samples.

Cost model (issue 5): ``pm2 jlist`` is a Node start on the target (~0.13 s CPU), so it runs only
at the slow cadence (``monitor.jlist_interval_s``), after an action, and when a watched pid
vanishes (a crash or a kill: pm2 restarts it under a new pid). Everything at 1 Hz comes from ONE
long-lived channel per SSH host running the builtins-only /proc loop of ``metrics_remote``; when
the set of pids changes, that loop is restarted with the new list. The local host uses psutil.

The service never touches the UI: listeners get the host name whose ``HostView`` changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from tui.core.config import Config
from tui.core.hosts import HostPool
from tui.core.journal import Journal
from tui.core.metrics import DeltaComputer, History, HostSample, LocalSampler, ProcSample, Sample
from tui.core.metrics_remote import SampleParseError, SampleParser, sampler_argv
from tui.core.pm2 import Pm2Backend, Pm2Error, Pm2NotRunning, Pm2Process
from tui.core.transport import Transport, TransportError

log = logging.getLogger(__name__)

#: df is the one process the loop spawns: every this many samples.
DF_EVERY = 30
#: After a watched pid vanished, give pm2 this long to start its replacement before jlist.
GONE_GRACE_S = 1.0
#: While the /proc loop watches the pm2 daemon's children, a change there triggers jlist (any
#: start, stop, crash, restart, scale or reload changes them), so the periodic jlist is only a
#: safety net (e.g. `pm2 reset` of the counters) and runs at least this far apart. Each jlist
#: costs the target 0.13-0.25 s of CPU: every 60 s alone would be 0.2-0.4 % of a core.
WATCHED_JLIST_INTERVAL_S = 300.0
RETRY_MAX_S = 30.0

Listener = Callable[[str], None]


@dataclass
class HostView:
    """What the monitor knows about one host right now."""

    name: str
    processes: tuple[Pm2Process, ...] = ()
    samples: dict[int, ProcSample] = field(default_factory=dict)
    host: HostSample | None = None
    note: str = ""  # why there are no processes / no samples (one line), "" if all is well
    jlist_at: float = 0.0
    disconnected_since: float | None = None
    history: History | None = None

    def process(self, pid: int) -> ProcSample | None:
        return self.samples.get(pid)


class HostMonitor:
    """One host: a jlist loop and a sampler loop, tied by the set of pids."""

    def __init__(
        self,
        transport: Transport,
        backend: Pm2Backend,
        config: Config,
        on_change: Callable[[HostView], None],
        journal: Journal | None = None,
    ) -> None:
        self.transport = transport
        self.backend = backend
        self.config = config
        self.journal = journal
        self.on_change = on_change
        mon = config.monitor
        self.view = HostView(
            name=transport.host.name, history=History(mon.history_minutes, mon.interval_s)
        )
        self._kick = asyncio.Event()
        self._pids: tuple[int, ...] = ()
        self._pids_changed = asyncio.Event()
        self._restarts: dict[int, int] = {}  # pm_id -> restarts seen, to notice crashes
        self._daemon: tuple[int, ...] | None = None  # last (daemon pid, *children) seen
        self._gone: tuple[int, ...] = ()  # vanished pids already acted on
        self._settle: asyncio.TimerHandle | None = None

    @property
    def local(self) -> bool:
        return getattr(self.transport.host, "transport", "ssh") == "local"

    def refresh_soon(self) -> None:
        self._kick.set()

    def _paths(self) -> tuple[str, ...]:
        app = self.config.app
        return tuple(dict.fromkeys(p for p in (app.root, app.backup_dir) if p))

    async def run(self) -> None:
        sampler = self._sample_local if self.local else self._sample_remote
        await asyncio.gather(self._jlist_loop(), sampler())

    # ------------------------------------------------------------------ process list

    async def _jlist_loop(self) -> None:
        failures = 0
        while True:
            self._kick.clear()
            wait = self.config.monitor.jlist_interval_s
            try:
                procs = await self.backend.jlist_if_running()
            except Pm2NotRunning:
                self._set_processes((), "pm2 not running")
            except Pm2Error as err:
                self._set_processes((), str(err))
            except TransportError as err:
                failures += 1
                self._lost(str(err))
                wait = min(RETRY_MAX_S, 2.0**failures)
            else:
                failures = 0
                self._back()
                mine = [p for p in procs if p.name == self.config.app.name] or procs
                self._set_processes(tuple(mine), "")
                # A process still coming up: look again soon rather than in 15 s.
                if any(p.status not in ("online", "stopped", "errored") for p in mine):
                    wait = min(wait, 2.0)
            if self._daemon and wait == self.config.monitor.jlist_interval_s:
                # The loop watches the daemon's children: changes come as events.
                wait = max(wait, WATCHED_JLIST_INTERVAL_S)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._kick.wait()

    def _set_processes(self, procs: tuple[Pm2Process, ...], note: str) -> None:
        self._note_restarts(procs)
        self.view.processes = procs
        self.view.note = note
        self.view.jlist_at = time.time()
        pids = tuple(sorted(p.pid for p in procs if p.pid > 0 and p.status == "online"))
        if pids != self._pids:
            self._pids = pids
            # The loop samples every child of the daemon it watches: no restart needed then.
            if not self._daemon or not set(pids) <= set(self._daemon[1:]):
                self._pids_changed.set()
        self.on_change(self.view)

    def _note_restarts(self, procs: tuple[Pm2Process, ...]) -> None:
        for proc in procs:
            before = self._restarts.get(proc.pm_id)
            self._restarts[proc.pm_id] = proc.restarts
            if before is not None and proc.restarts > before and self.journal is not None:
                self.journal.record(
                    host=self.view.name,
                    step="monitor",
                    kind="alarm",
                    message=(
                        f"{proc.name}#{proc.pm_id} restarted by pm2 (restarts {before} →"
                        f" {proc.restarts}, pid {proc.pid}, {proc.status})"
                    ),
                    data={"pm_id": proc.pm_id, "restarts": proc.restarts},
                )

    def _lost(self, reason: str) -> None:
        if self.view.disconnected_since is None:
            self.view.disconnected_since = time.time()
        since = time.strftime("%H:%M:%S", time.localtime(self.view.disconnected_since))
        self.view.note = f"disconnected since {since}: {reason}"
        self.on_change(self.view)

    def _back(self) -> None:
        self.view.disconnected_since = None

    # ------------------------------------------------------------------ samples

    def _apply(self, sample: Sample) -> None:
        # Only the app's processes (the daemon may run others); a pid jlist has not named yet
        # has no row to show it in anyway.
        wanted = set(self._pids)
        procs = {pid: p for pid, p in sample.procs.items() if pid in wanted}
        self.view.host = sample.host
        self.view.samples = procs
        assert self.view.history is not None
        self.view.history.add(replace(sample, procs=procs))
        daemon, self._daemon = self._daemon, sample.daemon
        new_gone = sample.gone and sample.gone != self._gone
        self._gone = sample.gone
        if new_gone or (daemon is not None and sample.daemon != daemon):
            # A worker died or the daemon's children changed (start, stop, scale, restart,
            # crash): learn the new process list once pm2 settled. A reload replaces workers
            # one by one over seconds; each change pushes the jlist back (one jlist, not five).
            if self._settle is not None:
                self._settle.cancel()
            self._settle = asyncio.get_running_loop().call_later(GONE_GRACE_S, self._kick.set)
        self.on_change(self.view)

    async def _sample_local(self) -> None:
        sampler = LocalSampler(self._paths() or ("/",), self.config.app.pm2_home)
        n = 0
        while True:
            pids = self._pids
            # psutil's calls are quick; the disk walk is the only one worth spacing out.
            sample = sampler.sample(pids, with_disks=n % DF_EVERY == 0)
            if not sample.host.disks and self.view.host is not None:
                sample = replace(sample, host=replace(sample.host, disks=self.view.host.disks))
            self._apply(sample)
            n += 1
            await asyncio.sleep(self.config.monitor.interval_s)

    async def _sample_remote(self) -> None:
        failures = 0
        while True:
            self._pids_changed.clear()
            task = asyncio.create_task(self._stream_once(self._pids))
            changed = asyncio.create_task(self._pids_changed.wait())
            done, _ = await asyncio.wait({task, changed}, return_when=asyncio.FIRST_COMPLETED)
            if task not in done:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, TransportError):
                    await task
                failures = 0
                continue
            changed.cancel()
            try:
                task.result()
                failures = 0
            except TransportError as err:
                failures += 1
                self._lost(str(err))
            except SampleParseError as err:
                failures += 1
                log.warning("%s: sampler output unreadable: %s", self.view.name, err)
            await asyncio.sleep(min(RETRY_MAX_S, 2.0 ** min(failures, 5)))

    async def _stream_once(self, pids: tuple[int, ...]) -> None:
        argv = sampler_argv(
            pids, self.config.monitor.interval_s, DF_EVERY, self._paths(), self.config.app.pm2_home
        )
        parser = SampleParser()
        deltas = DeltaComputer()
        async with self.transport.stream(argv) as lines:
            async for kind, line in lines:
                if kind != "stdout":
                    continue
                raw = parser.feed(line)
                if raw is not None:
                    if self.view.disconnected_since is not None:
                        self._back()
                        self.view.note = ""
                        self._kick.set()  # things may have changed while we could not see
                    self._apply(deltas(raw, parser.header))


class MonitorService:
    """All hosts of the pool: ``await run()`` until cancelled; read ``views``; listen."""

    def __init__(self, pool: HostPool, config: Config, journal: Journal | None = None) -> None:
        self.pool = pool
        self.config = config
        self.journal = journal
        self._listeners: list[Listener] = []
        app = config.app
        self.monitors: dict[str, HostMonitor] = {}
        for transport in pool:
            backend = Pm2Backend(transport, app.pm2_bin, app.pm2_home, journal=journal)
            self.monitors[transport.host.name] = HostMonitor(
                transport, backend, config, self._changed, journal
            )

    @property
    def views(self) -> dict[str, HostView]:
        return {name: m.view for name, m in self.monitors.items()}

    def backend(self, host: str) -> Pm2Backend:
        return self.monitors[host].backend

    def add_listener(self, cb: Listener) -> None:
        self._listeners.append(cb)

    def remove_listener(self, cb: Listener) -> None:
        if cb in self._listeners:
            self._listeners.remove(cb)

    def refresh_soon(self, host: str | None = None) -> None:
        for name, monitor in self.monitors.items():
            if host is None or name == host:
                monitor.refresh_soon()

    def _changed(self, view: HostView) -> None:
        for cb in list(self._listeners):
            try:
                cb(view.name)
            except Exception:
                log.exception("monitor listener failed")

    async def run(self) -> None:
        await asyncio.gather(*(m.run() for m in self.monitors.values()))
