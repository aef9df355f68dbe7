"""Primitives of the deploy workflow: its steps, its errors, and the journaling command runner.

Every command a step runs goes through ``Commander.run``: it streams output lines to an optional
``on_output(host, line)`` hook (the console's log pane) and writes ONE ``command`` event (argv,
exit status, duration, output tail) to the journal when the command ends. Nothing is ever given
to a local shell; argv lists go to the transport, which quotes them in one place.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from tui.core.journal import Journal
from tui.core.lines import last_line, one_line
from tui.core.transport import Result, Transport, TransportError
from tui.core.transport_errors import describe_argv

BACKUP, BUILD, DEPLOY, VERIFY, CONFIRM, ROLLBACK = (
    "backup", "build", "deploy", "verify", "confirm", "rollback",
)  # fmt: skip
STEPS: tuple[str, ...] = (BACKUP, BUILD, DEPLOY, VERIFY, CONFIRM)

OutputHook = Callable[[str, str], None]  # (host, line)

#: Lines of a command's output its ``command`` event keeps (the detail view's).
OUTPUT_LINES = 50

# What a placeholder may be named; substitution is per argv element, never into a shell line.
PLACEHOLDERS = ("ecosystem", "app", "release", "ref")


class DataRollback(StrEnum):
    """What a rollback does with the data, once the code is back: nothing (CODE_ONLY), the bad
    release's down-migration (MIGRATE_DOWN: ``[steps.rollback] migrate_down``), or a restore of
    the dump BACKUP took (RESTORE: ``[database]``). The data ways are destructive: callers
    confirm them; an automatic rollback is always CODE_ONLY."""

    CODE_ONLY = "code"
    MIGRATE_DOWN = "migrate_down"
    RESTORE = "restore_db"
    RESTORE_DB = "restore_db"  # an alias: the console's modal names it so

    @property
    def label(self) -> str:
        return {
            DataRollback.CODE_ONLY: "code only",
            DataRollback.MIGRATE_DOWN: "code + down-migration",
            DataRollback.RESTORE: "code + database restore",
        }[self]


class WorkflowError(Exception):
    """Base of the workflow's errors; ``str()`` is one line for the operator."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


class OrderError(WorkflowError):
    """A step was asked for before the steps it depends on succeeded."""


class GateClosed(OrderError):
    """DEPLOY refused by the pre-deploy gate (checklist or policy); ``decision`` says why."""

    def __init__(self, decision: Any) -> None:
        super().__init__(decision.message())
        self.decision = decision


class StepFailed(WorkflowError):
    """A step failed; the journal has a ``step.fail`` event saying why."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step


class CommandError(WorkflowError):
    """A command exited non-zero (raised by ``Commander.run(check=True)``)."""

    def __init__(self, message: str, result: Result) -> None:
        super().__init__(message)
        self.result = result


def substitute(argv: Sequence[str], values: Mapping[str, str]) -> tuple[str, ...]:
    """Replace ``{name}`` placeholders inside each argument; unknown braces are left alone
    (a literal ``{`` in an argument is legitimate, so str.format is not used)."""
    out = []
    for arg in argv:
        for name, value in values.items():
            arg = arg.replace("{" + name + "}", value)
        out.append(arg)
    return tuple(out)


class Commander:
    """Runs commands on one host for one step, journaling each as a ``command`` event."""

    def __init__(
        self,
        journal: Journal,
        transport: Transport,
        *,
        on_output: OutputHook | None = None,
        deployment_id: Callable[[], int | None] = lambda: None,
    ) -> None:
        self.journal = journal
        self.transport = transport
        self.on_output = on_output
        self._deployment_id = deployment_id

    @property
    def host(self) -> str:
        return str(getattr(self.transport.host, "name", "local"))

    async def run(
        self,
        argv: Sequence[str],
        *,
        step: str,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        check: bool = True,
        stdin: str | None = None,
        quiet: bool = False,
        keep_output: bool = True,
    ) -> Result:
        """Run ``argv``; journal it; raise CommandError when ``check`` and it exited non-zero.

        quiet: do not stream lines to on_output (machine output such as pm2 jlist).
        keep_output: False keeps the output out of the journal (pm2 jlist carries env values).
        """
        args = tuple(argv)
        t0 = time.monotonic()
        try:
            if stdin is not None:
                # Streams carry no stdin; such commands are short (a marker, a log line).
                result = await self.transport.run(
                    args, timeout=timeout, env=env, cwd=cwd, stdin=stdin
                )
            else:
                result = await self._streamed(args, cwd, env, timeout, quiet)
        except TransportError as err:
            self._record(args, step, None, time.monotonic() - t0, "", f"{err}", keep_output)
            raise
        status = "ok" if result.ok else f"exit {result.exit_status}"
        output = result.stdout + (("\n" + result.stderr) if result.stderr else "")
        # The detail view shows the last lines; the failure's one line is the most telling one.
        output = "\n".join(output.splitlines()[-OUTPUT_LINES:])
        reason = "" if result.ok else last_line(result)
        self._record(
            args, step, result.exit_status, result.duration, output,
            f"{describe_argv(args)} ({status})", keep_output,
            {"reason": reason} if reason and keep_output else None,
        )  # fmt: skip
        if check and not result.ok:
            raise CommandError(
                f"{self.host}: {describe_argv(args)} exited {result.exit_status}: "
                f"{last_line(result)}",
                result,
            )
        return result

    async def _streamed(
        self,
        args: tuple[str, ...],
        cwd: str | None,
        env: Mapping[str, str] | None,
        timeout: float | None,
        quiet: bool,
    ) -> Result:
        out: list[str] = []
        err: list[str] = []
        t0 = time.monotonic()
        stream = self.transport.stream(args, env=env, cwd=cwd, timeout=timeout)
        async with stream:
            async for kind, line in stream:
                (out if kind == "stdout" else err).append(line)
                if self.on_output is not None and not quiet:
                    self.on_output(self.host, line)
        status = stream.exit_status if stream.exit_status is not None else -1
        return Result(
            args,
            status,
            "\n".join(out) + ("\n" if out else ""),
            "\n".join(err) + ("\n" if err else ""),
            stream.duration if stream.duration is not None else time.monotonic() - t0,
        )

    def _record(
        self,
        args: tuple[str, ...],
        step: str,
        status: int | None,
        duration: float,
        output: str,
        message: str,
        keep_output: bool,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        self.journal.record(
            kind="command",
            host=self.host,
            step=step,
            deployment_id=self._deployment_id(),
            message=message,
            argv=args,
            exit_status=status,
            duration=round(duration, 3),
            output_tail=output if keep_output else "",
            data=data,
        )

    def note(self, step: str, message: str, data: Mapping[str, Any] | None = None) -> None:
        self.record("note", step, message, data=data)

    def record(self, kind: str, step: str, message: str, **extra: Any) -> None:
        """A journal event of this host, step and deployment (a note, a check, a lock...)."""
        self.journal.record(
            kind=kind, host=self.host, step=step, deployment_id=self._deployment_id(),
            message=message, **extra,
        )  # fmt: skip
