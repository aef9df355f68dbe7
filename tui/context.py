"""What the console and the headless commands share: config, journal, hosts, redactor, and the
console's services.

The services (log hub, notification bridge, monitor service, the deploy screen's workflow) are
typed fields here, None until made. ShipdeckApp makes them through the methods below, some only
after the first frame, and closes them on quit; screens and widgets only read them, through
``context_of(self)``. The headless commands leave them None.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tui.core.config import Config, ConfigError, find_config_path, load_config
from tui.core.exit_codes import ExitCode
from tui.core.hosts import HostPool
from tui.core.journal import Journal, JournalError
from tui.core.redact import Redactor

if TYPE_CHECKING:  # each service's module loads when the service is made
    from textual.dom import DOMNode

    from tui.core.logs import LogHub
    from tui.core.metrics_service import MonitorService
    from tui.core.notify import NotifyBridge
    from tui.core.workflow import Workflow

EXIT_USAGE = ExitCode.USAGE


class CliError(Exception):
    """A one-line error for the operator, with the exit code to leave with."""

    def __init__(self, message: str, code: int = EXIT_USAGE, *, raw: bool = False) -> None:
        super().__init__(message)
        self.code = code
        # raw: the message already names where it comes from (config problems: FILE:LINE: ...)
        self.raw = raw


@dataclass
class AppContext:
    config: Config
    journal: Journal
    pool: HostPool
    redactor: Redactor
    #: What the console reads the time from (uptimes, ages); tests give a fixed one.
    clock: Callable[[], float] = time.time
    #: The console refuses every action (`--read-only`): keys are shown, disabled.
    read_only: bool = False
    #: Where the checklist's project checks run (None: the current directory).
    checklist_workdir: str | Path | None = None
    #: What the checklist's policy windows read the time from (None: the wall clock).
    checklist_clock: Callable[[], float] | None = None

    # -- the console's services ------------------------------------------------------------------
    #: Every host's logs: the shared store and one follower per host (`log_hub`).
    logs: LogHub | None = field(default=None, compare=False, repr=False)
    #: Journal events -> team webhooks; None without webhooks (`attach_notifications`).
    notify: NotifyBridge | None = field(default=None, compare=False, repr=False)
    #: pm2 process lists and /proc samples of every host (`monitor_service`).
    monitor: MonitorService | None = field(default=None, compare=False, repr=False)
    #: The deploy screen's engine (made when that screen first opens: its command output goes
    #: there); the emergency rollback and the quit path use the deployment it has open.
    workflow: Workflow | None = field(default=None, compare=False, repr=False)

    def close(self) -> None:
        self.journal.close()

    def log_hub(self) -> LogHub:
        """The log hub, made on first use (no I/O: followers start when the hub runs)."""
        if self.logs is None:
            from tui.core.logs import LogHub

            self.logs = LogHub(self.config, list(self.pool), journal=self.journal)
        return self.logs

    def monitor_service(self) -> MonitorService:
        """The monitor service, made on first use (it brings psutil and the /proc sampler)."""
        if self.monitor is None:
            from tui.core.metrics_service import MonitorService

            self.monitor = MonitorService(self.pool, self.config, self.journal)
        return self.monitor

    def attach_notifications(self) -> NotifyBridge | None:
        """Start telling the configured webhooks about journal events (from the running event
        loop); None when no webhook is configured."""
        if self.notify is None and self.config.notify.webhooks:
            from tui.core.notify import NotifyBridge

            self.notify = NotifyBridge.attach(self.config, self.journal)
        return self.notify

    async def drain_notifications(self) -> bool:
        """Give notifications still on their way up to ``[notify] timeout_s`` (at quit: the
        headless commands give the same), then stop listening. True if none was cut off."""
        bridge, self.notify = self.notify, None
        if bridge is None:
            return True
        try:
            return await bridge.drain(self.config.notify.timeout_s)
        finally:
            bridge.detach()

    def open_workflow(self) -> Workflow | None:
        """The console's workflow while it has a deployment open, else None."""
        workflow = self.workflow
        return workflow if workflow is not None and workflow.deployment is not None else None


def find_context(node: DOMNode) -> AppContext | None:
    """The context of the app a widget or screen belongs to; None in an app without one (a
    widget shown on its own: a benchmark, a test)."""
    ctx = getattr(node.app, "ctx", None)
    return ctx if isinstance(ctx, AppContext) else None


def context_of(node: DOMNode) -> AppContext:
    """The context of the console app a screen or widget belongs to (ShipdeckApp's ``ctx``)."""
    ctx = find_context(node)
    if ctx is None:
        raise LookupError(f"{type(node).__name__} is not part of a console app with a context")
    return ctx


def load_config_or_fail(config_arg: str | None) -> Config:
    try:
        return load_config(find_config_path(config_arg))
    except ConfigError as err:
        # All problems, one line each: the operator fixes them in one go.
        raise CliError(str(err), EXIT_USAGE, raw=True) from None


def open_context(config_arg: str | None, journal_arg: str | None) -> AppContext:
    config = load_config_or_fail(config_arg)
    redactor = Redactor.from_config(config)
    path = Path(journal_arg) if journal_arg else Journal.default_path()
    try:
        journal = Journal(path, redactor=redactor)
    except JournalError as err:
        raise CliError(str(err), EXIT_USAGE) from None
    pool = HostPool(config, journal)
    return AppContext(config=config, journal=journal, pool=pool, redactor=redactor)
