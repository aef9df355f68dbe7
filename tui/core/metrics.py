"""Host and process samples as the monitor shows them: percentages, bytes, bounded history.

Raw samples come from /proc through the remote loop (``metrics_remote``) for SSH hosts and from
psutil for the local host; both end up as the same ``HostSample`` / ``ProcSample`` dataclasses.
CPU % is computed from jiffy deltas between two consecutive samples, so the first sample of a
stream has no CPU figure yet (0.0).
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

from tui.core.metrics_remote import DiskUsage, Header, RawSample


@dataclass(frozen=True, slots=True)
class HostSample:
    ts: float
    cpu_percent: float  # of the whole host (all cores)
    ncpu: int
    mem_total: int  # bytes
    mem_used: int  # total - available
    swap_total: int
    swap_used: int
    load: tuple[float, float, float]
    disks: tuple[DiskUsage, ...] = ()

    @property
    def mem_percent(self) -> float:
        return 100.0 * self.mem_used / self.mem_total if self.mem_total else 0.0

    @property
    def swap_percent(self) -> float:
        return 100.0 * self.swap_used / self.swap_total if self.swap_total else 0.0


@dataclass(frozen=True, slots=True)
class ProcSample:
    pid: int
    cpu_percent: float  # of one core, like pm2 and top (a busy 2-thread process can show 200)
    rss_bytes: int


@dataclass(frozen=True, slots=True)
class Sample:
    host: HostSample
    procs: dict[int, ProcSample]
    gone: tuple[int, ...]  # watched pids that no longer exist (or are zombies)
    daemon: tuple[int, ...] | None = None  # (pm2 daemon pid, *children) when watched, () none


class DeltaComputer:
    """Turns consecutive RawSamples into Samples; remembers the last one and the last disks."""

    def __init__(self) -> None:
        self._prev: RawSample | None = None
        self._disks: tuple[DiskUsage, ...] = ()

    def reset(self) -> None:
        self._prev = None

    def __call__(self, raw: RawSample, header: Header, ts: float | None = None) -> Sample:
        prev, self._prev = self._prev, raw
        if raw.disks is not None:
            self._disks = raw.disks
        cpu = 0.0
        if prev is not None:
            d_total = raw.cpu.total - prev.cpu.total
            d_idle = raw.cpu.idle - prev.cpu.idle
            if d_total > 0:
                cpu = max(0.0, min(100.0, 100.0 * (d_total - d_idle) / d_total))
        elapsed = raw.uptime - prev.uptime if prev is not None else 0.0
        procs: dict[int, ProcSample] = {}
        for pid, stat in raw.procs.items():
            pct = 0.0
            before = prev.procs.get(pid) if prev is not None else None
            # Same pid but a different start time is a new process: no delta across it.
            if before is not None and before.start_ticks == stat.start_ticks and elapsed > 0:
                pct = max(0.0, 100.0 * (stat.ticks - before.ticks) / header.clk_tck / elapsed)
            procs[pid] = ProcSample(pid, pct, stat.rss_pages * header.page_size)
        mem = raw.memory
        host = HostSample(
            ts=ts if ts is not None else time.time(),
            cpu_percent=cpu,
            ncpu=header.ncpu,
            mem_total=mem.total_kb * 1024,
            mem_used=(mem.total_kb - mem.available_kb) * 1024,
            swap_total=mem.swap_total_kb * 1024,
            swap_used=(mem.swap_total_kb - mem.swap_free_kb) * 1024,
            load=raw.load,
            disks=self._disks,
        )
        return Sample(host=host, procs=procs, gone=raw.gone, daemon=raw.daemon)


class LocalSampler:
    """The same samples for the jump host / local demo, from psutil (no process spawned)."""

    def __init__(self, paths: Iterable[str] = ("/",), pm2_home: str = "") -> None:
        self.paths = tuple(paths)
        self._procs: dict[int, psutil.Process] = {}
        home = pm2_home or os.environ.get("PM2_HOME") or os.path.expanduser("~/.pm2")
        self.pid_file = Path(home) / "pm2.pid"
        psutil.cpu_percent(None)  # primes the delta

    def _daemon(self) -> tuple[int, ...]:
        """(pm2 daemon pid, *its children), like the remote loop's K line; () if none."""
        try:
            god = int(self.pid_file.read_text().strip())
            kids = psutil.Process(god).children()
        except (OSError, ValueError, psutil.Error):
            return ()
        return (god, *sorted(k.pid for k in kids))

    def _disk_usage(self) -> tuple[DiskUsage, ...]:
        seen: dict[str, DiskUsage] = {}
        mounts = {p.mountpoint for p in psutil.disk_partitions(all=False)}
        for path in self.paths:
            try:
                usage = psutil.disk_usage(path)
            except OSError:
                continue
            mount = _mount_of(path, mounts)
            seen[mount] = DiskUsage(
                mount=mount,
                size_kb=usage.total // 1024,
                used_kb=usage.used // 1024,
                avail_kb=usage.free // 1024,
            )
        return tuple(seen.values())

    def sample(self, pids: Iterable[int], with_disks: bool = True) -> Sample:
        vm = psutil.virtual_memory()
        sw = psutil.swap_memory()
        try:
            load = psutil.getloadavg()
        except OSError:
            load = (0.0, 0.0, 0.0)
        host = HostSample(
            ts=time.time(),
            cpu_percent=psutil.cpu_percent(None),
            ncpu=psutil.cpu_count() or 1,
            mem_total=vm.total,
            mem_used=vm.total - vm.available,
            swap_total=sw.total,
            swap_used=sw.used,
            load=(float(load[0]), float(load[1]), float(load[2])),
            disks=self._disk_usage() if with_disks else (),
        )
        daemon = self._daemon()
        wanted = set(pids) | set(daemon[1:])
        for pid in list(self._procs):
            if pid not in wanted:
                del self._procs[pid]
        procs: dict[int, ProcSample] = {}
        gone: list[int] = []
        for pid in sorted(wanted):
            try:
                proc = self._procs.get(pid)
                if proc is None:
                    proc = self._procs[pid] = psutil.Process(pid)
                    proc.cpu_percent(None)
                if proc.status() == psutil.STATUS_ZOMBIE:
                    raise psutil.NoSuchProcess(pid)
                with proc.oneshot():
                    procs[pid] = ProcSample(pid, proc.cpu_percent(None), proc.memory_info().rss)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                self._procs.pop(pid, None)
                gone.append(pid)
        return Sample(host=host, procs=procs, gone=tuple(g for g in gone if g in set(pids)),
                      daemon=daemon)


def _mount_of(path: str, mounts: set[str]) -> str:
    best = "/"
    for mount in mounts:
        if (path == mount or path.startswith(mount.rstrip("/") + "/")) and len(mount) > len(best):
            best = mount
    return best


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    ts: float
    host_cpu: float
    host_mem: float  # percent
    app_cpu: float  # sum over the app's processes, % of one core
    app_mem: int  # bytes, sum of RSS
    load1: float = 0.0


class History:
    """The last N minutes of points in a bounded deque (charts read it, never copy it all)."""

    def __init__(self, minutes: int, interval_s: float) -> None:
        self.span_minutes = float(minutes)
        self.points: deque[HistoryPoint] = deque(maxlen=max(2, int(minutes * 60 / interval_s)))

    def add(self, sample: Sample) -> HistoryPoint:
        point = HistoryPoint(
            ts=sample.host.ts,
            host_cpu=sample.host.cpu_percent,
            host_mem=sample.host.mem_percent,
            app_cpu=sum(p.cpu_percent for p in sample.procs.values()),
            app_mem=sum(p.rss_bytes for p in sample.procs.values()),
            load1=sample.host.load[0],
        )
        self.points.append(point)
        return point


def downsample(values: list[float], width: int) -> list[float]:
    """At most ``width`` points, each the max of its bucket: a spike must survive the squeeze."""
    if width <= 0 or len(values) <= width:
        return list(values)
    out = []
    n = len(values)
    for i in range(width):
        lo, hi = i * n // width, (i + 1) * n // width
        out.append(max(values[lo:hi]) if hi > lo else values[lo])
    return out
