"""The process manager on a host: the ``Backend`` protocol and what it is asked to serve.

pm2 (pm2.py, ``Pm2Backend``) implements it; Docker Compose is next (compose.py). The workflow
never runs a process manager's command itself: it asks the host's backend. Deploy-side methods
run through the step's ``Commander`` (one journaled ``command`` event per command) and take the
step they run under; the operator's actions (restart, stop, ...) journal an ``action`` each.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tui.core.config import Config
    from tui.core.transport import Result
    from tui.core.workflow_steps import Commander


@dataclass(frozen=True)
class Release:
    """What a backend is asked to serve: the code's directory on the host (pm2: what the
    processes must run from; compose: where the compose file is), the version the app must then
    report, and the values of the configured commands' placeholders ({ecosystem}, {app},
    {release}, {ref}; compose would add the image tag or digest)."""

    directory: str
    version: str
    values: Mapping[str, str] = field(default_factory=dict)


class Process(Protocol):
    """One running unit of the app: a pm2 process (``Pm2Process``) or a compose container."""

    name: str  # pm2: the app name; compose: the service
    pm_id: int  # the backend's id of it (pm2 id; compose: the replica number)
    status: str  # "online" when it serves (compose: "running" maps to "online")
    version: str  # the version it started with (pm2: package.json's; compose: the image label)
    restarts: int


class Backend(Protocol):
    """The process manager on one host, as the workflow, status and the console use it.

    pm2: processes are the pm2 processes named like the app (`pm2 jlist`); a release is a
    directory; ``reload`` runs ``[steps.deploy] reload`` (`pm2 reload <ecosystem>`), retried
    while pm2's own reload lock is held, and falls back to `pm2 delete` + `pm2 start` when the
    reload kept serving the old paths; ``prove_serving`` checks that every process's cwd and
    script resolve into the release and that the status URL reports its version.

    Docker Compose (to come): processes are the services' containers (`docker compose ps
    --format json`); a release is an image (tag or digest) plus the compose file in
    ``Release.directory``; ``reload`` is `docker compose up -d --no-deps --wait <services>` with
    the release's image; ``prove_serving`` checks that every container runs that image digest and
    the status URL reports the version; ``log_files`` gives way to `docker compose logs -f`
    (the log follower asks the backend how to follow); restart/stop/start/scale map to
    `docker compose restart|stop|start|up --scale`, delete to `docker compose rm -sf`.
    """

    name: str  # "pm2" | "compose": journal lines say "pm2: 2/2 shop online"

    # -- what runs ---------------------------------------------------------------------------
    async def processes(self, step: str) -> list[Any]:
        """The app's processes (``Process``) on this host, in id order."""

    async def versions(self, step: str) -> list[dict[str, Any]]:
        """Each process with the version it runs: {"name", "pm_id", "status", "version"}; two
        versions at once is a split cluster (a reload cut short)."""

    async def log_files(self, step: str) -> list[str]:
        """The app's log files on the host (what the log follower tails)."""

    # -- the deploy ----------------------------------------------------------------------------
    async def reload(self, release: Release, step: str) -> Mapping[str, Any]:
        """Serve ``release`` with no downtime and prove it (``prove_serving``); WorkflowError
        when it is not served. Returns facts for the deployment's data (a fallback used)."""

    async def prove_serving(self, release: Release, step: str) -> str | None:
        """None when ``release`` is what the processes run and what the app reports, else why
        not (one line). Journals a ``check`` event per proof."""

    async def wait_idle(self, step: str) -> None:
        """Wait (bounded) for a reload a killed console left running on the host."""

    # -- the operator's actions (journaled as ``action`` events) -------------------------------
    async def restart(self, target: str | int) -> Result: ...
    async def stop(self, target: str | int) -> Result: ...
    async def start(self, target: str | int, ecosystem: str = "") -> Result: ...
    async def scale(self, app: str, count: int | str) -> Result: ...
    async def delete(self, target: str | int) -> Result: ...


def app_processes(
    processes: Sequence[Any], app: str, names: Collection[str] = ()
) -> list[Any]:
    """The deployment's processes, in id order: those named ``app`` or one of ``names`` (the
    release's apps), and those shipdeck started for ``app`` (pm2: tagged by its ecosystem
    wrapper, so every app of a several-app ecosystem file counts, whatever its name)."""
    return sorted(
        (p for p in processes
         if p.name == app or p.name in names or getattr(p, "shipdeck_app", "") == app),
        key=lambda p: p.pm_id,
    )  # fmt: skip


def make_backend(config: Config, cmd: Commander, ecosystem: str) -> Backend:
    """The backend for ``[app] backend`` on the host ``cmd`` runs on; ``ecosystem`` is the live
    ecosystem file's path (the layout's). Compose is not implemented yet: pm2 serves meanwhile,
    as before this protocol existed."""
    from tui.core.pm2 import Pm2Backend

    return Pm2Backend.for_workflow(config, cmd, ecosystem)
