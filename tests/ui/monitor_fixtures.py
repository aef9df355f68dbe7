"""A MonitorService with fixed, realistic views (not running): stable pixels for snapshots."""

from __future__ import annotations

from tui.context import AppContext
from tui.core.metrics import History, HistoryPoint, HostSample, ProcSample
from tui.core.metrics_remote import DiskUsage
from tui.core.metrics_service import MonitorService
from tui.core.pm2 import Pm2Process
from tui.core.triage import TriageSnapshot

NOW = 1_764_158_400.0 + 3600  # an hour after the UI fixtures' T0


def proc(pm_id: int, pid: int, status: str = "online", restarts: int = 0) -> Pm2Process:
    return Pm2Process(
        name="demo",
        pm_id=pm_id,
        pid=pid if status == "online" else 0,
        status=status,
        exec_mode="cluster_mode",
        restarts=restarts,
        unstable_restarts=0,
        uptime_since_ms=int((NOW - 3725 + pm_id) * 1000),
        cpu_percent=0.0,
        memory_bytes=52_000_000,
        version="1.1.0",
        cwd="/srv/demo/current",
        exec_path="/srv/demo/current/server.js",
        out_log="/home/deploy/.pm2/logs/demo-out-0.log",
        err_log="/home/deploy/.pm2/logs/demo-error-0.log",
        env_names=("DB_PASSWORD", "NODE_ENV", "PORT"),
        node_version="20.20.2",
        created_at_ms=int((NOW - 7200) * 1000),
        interpreter="node",
    )


def fixed_service(ctx: AppContext) -> MonitorService:
    service = MonitorService(ctx.pool, ctx.config, ctx.journal)
    view = service.views["local"]
    view.processes = (proc(0, 4211, restarts=2), proc(1, 4222), proc(2, 0, status="stopped"))
    view.jlist_at = NOW
    view.samples = {
        4211: ProcSample(4211, 12.5, 61_000_000),
        4222: ProcSample(4222, 3.0, 58_000_000),
    }
    view.host = HostSample(
        ts=NOW,
        cpu_percent=23.4,
        ncpu=4,
        mem_total=8 * 2**30,
        mem_used=3 * 2**30,
        swap_total=2**30,
        swap_used=2**26,
        load=(0.82, 0.61, 0.40),
        disks=(DiskUsage("/", 100_000_000, 42_000_000, 58_000_000),),
    )
    history = History(minutes=15, interval_s=1.0)
    for i in range(600):
        t = NOW - 600 + i
        wave = (i % 120) / 120
        history.points.append(
            HistoryPoint(
                ts=t,
                host_cpu=20 + 30 * wave,
                host_mem=37.5,
                app_cpu=10 + 40 * wave,
                app_mem=119_000_000,
                load1=0.4 + wave,
            )
        )
    view.history = history
    return service


SNAPSHOT = TriageSnapshot(
    host="local",
    taken_at=NOW,
    disk="Filesystem      Size  Used Avail Use% Mounted on\n/dev/vda        96G   41G   55G  42% /",
    memory=(
        "               total        used        free      shared  buff/cache   available\n"
        "Mem:            8192        3072        4096          35        1024        5120\n"
        "Swap:           1024          64         960"
    ),
    top=(
        "top - 13:00:00 up 3 days,  1 user,  load average: 0.82, 0.61, 0.40\n"
        "Tasks: 112 total,   1 running, 111 sleeping,   0 stopped,   0 zombie\n"
        "  PID USER      PR  NI    VIRT    RES    SHR S  %CPU  %MEM     TIME+ COMMAND\n"
        " 4211 deploy    20   0  995776  59572  40464 S  12.5   0.7   0:42.17 node"
    ),
    error_log=(
        "2025-11-26T12:58:01.000Z ERROR boom: simulated failure on GET /boom pid=4211",
        "2025-11-26T12:59:30.000Z ERROR db: connection refused (ECONNREFUSED 127.0.0.1:5432)",
    ),
)
