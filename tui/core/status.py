"""What runs where: the one answer for `shipdeck status` (and, later, the console's status bar and
the emergency screen).

Rules: the files on disk say what should run, the app's status URL and the processes say what
does; both are shown so a mismatch is never hidden. A host that cannot be asked gives an
``error`` (one line), never a half-filled answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tui.core.config import Config
from tui.core.hosts import HostPool
from tui.core.journal import Deployment, Journal
from tui.core.lines import one_line
from tui.core.lock import LockOwner, is_stale
from tui.core.pm2 import Pm2Error
from tui.core.transport import TransportError
from tui.core.workflow_steps import WorkflowError

STEP = "status"  # the step its commands are journaled under


@dataclass(frozen=True)
class Served:
    """What the app answers on its status URL (one attempt)."""

    url: str
    status: str  # PASS | WARNING | FAIL
    detail: str
    version: str


@dataclass
class AppStatus:
    app: str
    host: str
    layout: str
    unfinished: list[Deployment] = field(default_factory=list)  # newest first
    recent: list[Deployment] = field(default_factory=list)  # newest first
    error: str = ""  # why the host could not be asked; the fields below are then unset
    lock: LockOwner | None = None
    lock_stale: bool = False
    live_release: str | None = None
    releases: list[Any] | None = None  # releases.Release; None: the layout keeps none
    live_version: str = ""
    served: Served | None = None
    # Each process with the version it started with ({"name", "pm_id", "status", "version"})
    processes: list[dict[str, Any]] = field(default_factory=list)
    processes_error: str = ""  # the process manager could not say (status goes on)

    @property
    def mixed_versions(self) -> bool:
        """Workers on two versions at once: a reload cut short, a restart of one worker."""
        return len({p["version"] for p in self.processes}) > 1

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "app": self.app,
            "host": self.host,
            "layout": self.layout,
            "unfinished": [d.to_json() for d in self.unfinished],
            "recent": [d.to_json() for d in self.recent],
        }
        if self.error:
            out["error"] = self.error
            return out
        holder = self.lock
        out["lock"] = (
            None if holder is None else {
                "owner": holder.who, "ssh_user": holder.ssh_user, "pid": holder.pid,
                "started_at": holder.started_at, "deployment_id": holder.deployment_id,
                "stale": self.lock_stale, "message": holder.describe(),
            }
        )  # fmt: skip
        if self.releases is not None:
            out["live_release"] = self.live_release
            out["releases"] = [{"id": r.id, "state": r.state, "live": r.id == self.live_release}
                               for r in self.releases]  # fmt: skip
        out["live_version"] = self.live_version
        if self.served is not None:
            s = self.served
            out["served"] = {"url": s.url, "status": s.status, "detail": s.detail,
                             "version": s.version}  # fmt: skip
        out["processes"] = (
            {"error": self.processes_error} if self.processes_error else self.processes
        )
        return out


async def gather_status(
    config: Config, journal: Journal, pool: HostPool, *, host: str | None = None
) -> AppStatus:
    """The app's status on ``host`` (default: the primary): its deployments from the journal
    (interrupted ones marked so), and from the host the lock, the live code, what the app
    serves and each process's version."""
    from tui.core.workflow import Workflow, mark_interrupted

    app = config.app
    unfinished = mark_interrupted(journal, app.name)
    recent = journal.deployments(app.name, limit=5)
    run = Workflow(config, journal, pool, hosts=[host] if host else None).lead
    status = AppStatus(app.name, run.name, run.layout.name, unfinished, recent)
    try:
        holder = await run.lock.read(run.cmd)
        live = await run.layout.live(run.cmd, STEP)
        releases = await run.layout.releases(run.cmd, STEP)
        version = await run.layout.version(run.cmd, STEP, live.directory) if live.directory else ""
        served = await _served(config, run.transport)
        try:
            processes, why = await run.backend.versions(STEP), ""
        except (WorkflowError, Pm2Error) as err:  # pm2 missing or broken: say so, go on
            processes, why = [], str(err).splitlines()[-1] if str(err) else type(err).__name__
    except (TransportError, WorkflowError, Pm2Error, ValueError) as err:
        status.error = one_line(err)
        return status
    status.lock = holder
    status.lock_stale = holder is not None and is_stale(holder, run.lock.stale_minutes)
    status.live_release, status.releases, status.live_version = live.release, releases, version
    status.served, status.processes, status.processes_error = served, processes, why
    return status


async def _served(config: Config, transport: Any) -> Served:
    from tui.core.health_http import http_get
    from tui.core.verify_checks import judge_status

    health = config.health
    probe = await http_get(health.status_url, transport, timeout_s=health.timeout_s, retries=0)
    result = judge_status(probe, health)
    return Served(health.status_url, result.status, result.detail,
                  str(result.data.get("version", "")))  # fmt: skip


def status_lines(report: dict[str, Any]) -> list[str]:
    """The facts of a status report (``AppStatus.to_json()``) as lines: live, served,
    processes, lock. `shipdeck status` prints them; the emergency screen shows them."""
    if "error" in report:
        return [f"status unknown: {report['error']}"]
    live = report.get("live_release")
    where = f" (release {live})" if live else ""
    lines = [f"live: version {report.get('live_version') or '?'}{where}"]
    served = report.get("served")
    if served:
        lines.append(f"served: {_served_line(served, report.get('live_version') or '')}")
    procs = report.get("processes")
    if procs is not None:
        lines.append(f"processes: {_processes_line(procs)}")
    lock = report.get("lock")
    if lock:
        lines.append(f"lock: {lock['message']}{' (stale)' if lock['stale'] else ''}")
    else:
        lines.append("lock: free")
    return lines


def _served_line(served: dict[str, Any], live_version: str) -> str:
    version = served.get("version") or ""
    if served.get("status") != "PASS":
        return f"{served['url']}: {served['status']} ({served.get('detail') or 'no answer'})"
    line = f"version {version or '?'} ({served['url']})"
    if version and live_version and version != live_version:
        line += f" MISMATCH: the live release holds {live_version}"
    return line


def _processes_line(procs: list[dict[str, Any]] | dict[str, str]) -> str:
    if isinstance(procs, dict):
        return f"unknown ({procs.get('error', '?')})"
    if not procs:
        return "none in pm2"
    line = ", ".join(f"{p['name']}#{p['pm_id']} {p['status']} {p['version'] or '?'}"
                     for p in procs)  # fmt: skip
    if len({p["version"] for p in procs}) > 1:
        line += " MIXED VERSIONS"
    return line
