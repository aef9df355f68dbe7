"""The headless twin: `shipdeck deploy|rollback|status|history|unlock` for scripts.

Same engine as the console (tui.core.workflow). What is printed is the journal: a listener
prints each event as it is committed, as a line (time, host, step, kind, message, exit and
duration) or, with --json, as one JSON object per line. Exit codes: 0 success, 1 the operation
failed (and what was done about it is printed), 2 usage or config error, 3 locked by someone
else. Errors are one line, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sys
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tui.context import AppContext, CliError, open_context
from tui.core.checklist_gate import override_gate
from tui.core.exit_codes import ExitCode
from tui.core.journal import Deployment, Event
from tui.core.lock import DeployLock, LockedError, is_stale
from tui.core.notify import NotifyBridge
from tui.core.status import gather_status, status_lines
from tui.core.transport import TransportError
from tui.core.workflow import (
    DataRollback,
    GateClosed,
    Outcome,
    Workflow,
    WorkflowError,
    mark_interrupted,
)
from tui.core.workflow_steps import Commander

if TYPE_CHECKING:
    from tui.core.watch import Watch, WatchSample

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # pm2 colours its output
# Journal kinds the watch words as whole lines of their own (log-drift findings, suggestions).
WATCH_LINE_KINDS = ("finding", "suggestion")


# -- registration ------------------------------------------------------------------------------


def register(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    deploy = sub.add_parser(
        "deploy", help="deploy headless: BACKUP, BUILD, DEPLOY, VERIFY, CONFIRM"
    )
    deploy.add_argument("--headless", action="store_true", help="run without the console")
    deploy.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    deploy.add_argument("--ref", help="git ref to deploy (default: the config's app.ref)")
    deploy.add_argument("--resume", action="store_true", help="continue the interrupted deployment")
    deploy.add_argument("--json", action="store_true", help="events as JSON lines")
    deploy.add_argument(
        "--override-gate",
        metavar="REASON",
        help="deploy even if the pre-deploy checklist or policy says no (the reason is journaled)",
    )
    deploy.add_argument(
        "--skip-watch",
        metavar="REASON",
        help="confirm without the post-deploy watch ([policy] watch_minutes); the reason is"
        " journaled as an override of the watch gate",
    )
    add_common(deploy)
    deploy.set_defaults(func=run_deploy)

    rollback = sub.add_parser("rollback", help="roll back to the previous good release")
    rollback.add_argument("--headless", action="store_true", help="run without the console")
    rollback.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    rollback.add_argument("--reason", default="rollback requested", help="why (journaled)")
    rollback.add_argument(
        "--restore-db",
        action="store_true",
        help="also restore the database from the dump taken at BACKUP (destructive; needs --yes)",
    )
    rollback.add_argument(
        "--migrate-down",
        action="store_true",
        help="also undo the bad release's migrations: [steps.rollback] migrate_down, run in that"
        " release's directory (destructive; needs --yes; not with --restore-db)",
    )
    rollback.add_argument("--json", action="store_true", help="events as JSON lines")
    add_common(rollback)
    rollback.set_defaults(func=run_rollback)

    status = sub.add_parser("status", help="live release, lock, interrupted deployments")
    status.add_argument("--json", action="store_true", help="one JSON object")
    add_common(status)
    status.set_defaults(func=run_status)

    history = sub.add_parser("history", help="past deployments, newest first")
    history.add_argument("--json", action="store_true", help="JSON lines")
    history.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    add_common(history)
    history.set_defaults(func=run_history)

    unlock = sub.add_parser("unlock", help="break the deploy lock (after confirmation)")
    unlock.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    unlock.add_argument(
        "--force", action="store_true", help="break it even when its owner looks alive"
    )
    add_common(unlock)
    unlock.set_defaults(func=run_unlock)


# -- printing ----------------------------------------------------------------------------------


def format_event(ev: Event) -> str:
    t = datetime.fromtimestamp(ev.ts).strftime("%H:%M:%S")
    tail = []
    if ev.exit_status is not None:
        tail.append(f"exit {ev.exit_status}")
    if ev.duration is not None:
        tail.append(f"{ev.duration:.2f}s")
    extra = f" [{', '.join(tail)}]" if tail else ""
    return f"{t} {ev.host or '-'} {ev.step or '-'} {ev.kind} {ev.message}{extra}"


class Printer:
    """Prints the journal's events of this process as they are committed."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def event(self, ev: Event) -> None:
        if self.as_json:
            text = json.dumps(ev.to_json(), ensure_ascii=False)
        elif ev.kind in WATCH_LINE_KINDS:
            text = ev.message  # "finding: ..." / "suggestion: ...": the watch's own lines
        else:
            text = format_event(ev)
        print(text, flush=True)

    def output(self, host: str, line: str) -> None:
        if not self.as_json:
            print(f"    {host}| {_ANSI.sub('', line)}", flush=True)

    def watch_sample(self, watch: Watch, sample: WatchSample) -> None:
        """The countdown after each watch sample (the sample itself is a journal event)."""
        left = watch.remaining_s()
        if self.as_json:
            line = {
                "watch": {
                    "sample": sample.index,
                    "of": watch.expected_samples,
                    "remaining_s": round(left, 1),
                    "healthy": sample.healthy,
                }
            }
            print(json.dumps(line), flush=True)
        else:
            print(f"    watch| sample {sample.index}/{watch.expected_samples},"
                  f" {left:.0f} s left", flush=True)  # fmt: skip

    def result(self, outcome: str, message: str, **extra: Any) -> None:
        if self.as_json:
            print(json.dumps({"result": outcome, "message": message, **extra}), flush=True)
        else:
            print(f"shipdeck: {outcome}: {message}", flush=True)


# -- running ----------------------------------------------------------------------------------


def _confirm(args: argparse.Namespace, question: str) -> None:
    if getattr(args, "yes", False):
        return
    if not sys.stdin.isatty():
        raise CliError(f"{question.rstrip('?')}: needs --yes when not run from a terminal")
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise CliError("cancelled", ExitCode.FAILED)


def _need_headless(args: argparse.Namespace, what: str) -> None:
    if not args.headless:
        raise CliError(f"{what} from the command line needs --headless (the console uses keys)")


def _run_async(main: Coroutine[Any, Any, int]) -> int:
    async def runner() -> int:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        assert task is not None
        # SIGTERM ends a deploy like Ctrl-C does: cancellation, so the finally blocks run.
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        return await main

    try:
        return asyncio.run(runner())
    except (KeyboardInterrupt, asyncio.CancelledError):
        print(
            "shipdeck: interrupted; the deployment can be resumed or rolled back", file=sys.stderr
        )
        return 130


def _with_context(
    args: argparse.Namespace, body: Callable[[AppContext, Printer], Coroutine[Any, Any, int]]
) -> int:
    ctx = open_context(getattr(args, "config", None), getattr(args, "journal", None))
    printer = Printer(bool(getattr(args, "json", False)))

    async def main() -> int:
        # Team notifications (deploy started, step failed, confirmed, rollback) follow the
        # journal; at exit they get a bounded time to go out, never more.
        bridge = NotifyBridge.attach(ctx.config, ctx.journal)
        try:
            return await body(ctx, printer)
        except LockedError as err:
            printer.result("locked", str(err))
            print(f"shipdeck: {err}", file=sys.stderr)
            return ExitCode.LOCKED
        except (WorkflowError, TransportError) as err:
            printer.result("failed", str(err))
            print(f"shipdeck: {err}", file=sys.stderr)
            return ExitCode.FAILED
        finally:
            await bridge.drain(ctx.config.notify.timeout_s)
            bridge.detach()
            await ctx.pool.close()

    try:
        return _run_async(main())
    finally:
        ctx.close()


def run_deploy(args: argparse.Namespace) -> int:
    _need_headless(args, "deploy")
    if args.override_gate is not None and not args.override_gate.strip():
        raise CliError("--override-gate needs a reason (it goes into the journal and changelog)")
    if args.skip_watch is not None and not args.skip_watch.strip():
        raise CliError("--skip-watch needs a reason (it goes into the journal and changelog)")

    async def body(ctx: AppContext, printer: Printer) -> int:
        app = ctx.config.app
        ref = args.ref or app.ref
        if not args.resume:
            _confirm(args, f"Deploy {ref} of {app.name} to {ctx.config.primary_host.name}?")
        ctx.journal.add_listener(printer.event)
        # BACKUP dumps the database ([database]); an automatic rollback after a failed
        # DEPLOY/VERIFY (or a watch alarm) puts the code back only: restoring data or migrating
        # down is destructive and only ever done on an explicit `rollback --yes --restore-db`
        # or `rollback --yes --migrate-down`.
        wf = Workflow.from_context(ctx, on_output=printer.output, run_missing_checks=True)
        try:
            if args.resume:
                waiting = [d for d in mark_interrupted(ctx.journal, app.name)
                           if d.state == "interrupted"]  # fmt: skip
                if not waiting:
                    raise CliError("no interrupted deployment to resume", ExitCode.FAILED)
                _confirm(args, f"Resume deployment {waiting[0].id} of {app.name}?")
                await wf.resume(waiting[0].id)
            if args.override_gate:
                await _begin_with_gate_override(wf, ref, args.override_gate)
            # CONFIRM waits for a clean post-deploy watch, as in the console (same engine).
            from tui.core.workflow_watch import WorkflowWatch

            watch = WorkflowWatch(skip_reason=args.skip_watch, on_sample=printer.watch_sample)
            outcome = await wf.run_to_end(None if args.resume else ref, watch=watch)
        except GateClosed as err:
            print(f"shipdeck: {err}", file=sys.stderr)
            for line in err.decision.blocking + err.decision.policy_violations:
                print(f"  {line}", file=sys.stderr)
            printer.result("refused", str(err))
            rolled = await wf.rollback("the pre-deploy gate refused DEPLOY")
            printer.result(rolled.state, rolled.message)
            return ExitCode.FAILED
        finally:
            await wf.close()
        return _report(printer, outcome)

    return _with_context(args, body)


async def _begin_with_gate_override(wf: Workflow, ref: str, reason: str) -> None:
    """Open the deployment and record the operator's typed override of both gates, so that
    DEPLOY goes through whatever the checklist and the policy say (journaled, and in the
    changelog line)."""
    if wf.deployment is None:
        await wf.backup(ref)
    for gate in ("checklist", "policy"):
        override_gate(wf.journal, wf.deployment_id, gate, reason)


def _report(printer: Printer, outcome: Outcome) -> int:
    printer.result(outcome.state, outcome.message)
    if not outcome.ok:
        print(f"shipdeck: {outcome.state}: {outcome.message}", file=sys.stderr)
    return ExitCode.OK if outcome.ok else ExitCode.FAILED


def run_rollback(args: argparse.Namespace) -> int:
    _need_headless(args, "rollback")
    # The data ways are destructive: refused before anything is opened or asked.
    if args.restore_db and args.migrate_down:
        raise CliError(
            "--restore-db and --migrate-down exclude each other: restoring the pre-deploy dump"
            " already undoes the migrations"
        )
    if args.restore_db and not args.yes:
        raise CliError("--restore-db overwrites the database: it needs --yes as well")
    if args.migrate_down and not args.yes:
        raise CliError("--migrate-down changes the database schema: it needs --yes as well")

    async def body(ctx: AppContext, printer: Printer) -> int:
        app = ctx.config.app
        if args.restore_db and not ctx.config.database.enabled:
            raise CliError("--restore-db: [database] is not enabled in the config")
        if args.migrate_down and not ctx.config.steps.rollback.migrate_down:
            raise CliError("--migrate-down: [steps.rollback] migrate_down is empty in the config")
        _confirm(args, f"Roll back {app.name} on {ctx.config.primary_host.name}?")
        ctx.journal.add_listener(printer.event)
        wf = Workflow.from_context(ctx, on_output=printer.output)
        try:
            waiting = [d for d in mark_interrupted(ctx.journal, app.name)
                       if d.state == "interrupted"]  # fmt: skip
            if waiting:
                await wf.resume(waiting[0].id, purpose="rollback")
            outcome = await wf.rollback(args.reason, data_choice(args))
        finally:
            await wf.close()
        return _report(printer, outcome)

    return _with_context(args, body)


def data_choice(args: argparse.Namespace) -> DataRollback:
    """`--restore-db` / `--migrate-down` (exclusive; checked before) as the core's choice."""
    if args.restore_db:
        return DataRollback.RESTORE
    return DataRollback.MIGRATE_DOWN if args.migrate_down else DataRollback.CODE_ONLY


def _dep_line(d: Deployment) -> str:
    started = datetime.fromtimestamp(d.started_at).strftime("%Y-%m-%d %H:%M:%S")
    took = f" {d.ended_at - d.started_at:.0f}s" if d.ended_at else ""
    versions = f"{d.from_version or '?'} -> {d.to_version or '?'}"
    step = f" at {d.step}" if not d.finished and d.step else ""
    return f"#{d.id} {started} {d.state}{step} {d.app} {d.ref} {versions} by {d.who}{took}"


def run_status(args: argparse.Namespace) -> int:
    async def body(ctx: AppContext, printer: Printer) -> int:
        status = await gather_status(ctx.config, ctx.journal, ctx.pool)
        report = status.to_json()
        if args.json:
            print(json.dumps(report, ensure_ascii=False, default=str))
        else:
            _print_status(report, status.unfinished, status.recent)
        sys.stdout.flush()  # the report first, then (on a shared pipe too) the reason
        if status.error:
            # The exit status alone says nothing: why it failed is one line on stderr, also
            # beside --json (whose report carries it as "error" too).
            print(f"shipdeck: status failed: {status.error}", file=sys.stderr)
            return ExitCode.FAILED
        return ExitCode.OK

    return _with_context(args, body)


def _print_status(report: dict[str, Any], unfinished: list[Deployment], recent: list[Deployment]):
    print(f"app {report['app']} on {report['host']} ({report.get('layout', '?')} layout)")
    if "error" not in report:  # the why goes to stderr (run_status), once
        for line in status_lines(report):
            print(f"  {line}")
        for r in report.get("releases", []):
            print(f"    {r['id']} {r['state']}{' <- live' if r['live'] else ''}")
    for d in unfinished:
        label = "INTERRUPTED" if d.state == "interrupted" else "RUNNING"
        print(f"  {label}: {_dep_line(d)}")
        if d.state == "interrupted":
            print("    resume: shipdeck deploy --headless --yes --resume; "
                  "undo: shipdeck rollback --headless --yes")  # fmt: skip
    if recent:
        print("  recent:")
        for d in recent:
            print(f"    {_dep_line(d)}")


def run_history(args: argparse.Namespace) -> int:
    async def body(ctx: AppContext, printer: Printer) -> int:
        mark_interrupted(ctx.journal, ctx.config.app.name)
        for d in ctx.journal.deployments(ctx.config.app.name, limit=max(1, args.limit)):
            print(json.dumps(d.to_json(), ensure_ascii=False) if args.json else _dep_line(d))
        return ExitCode.OK

    return _with_context(args, body)


def run_unlock(args: argparse.Namespace) -> int:
    async def body(ctx: AppContext, printer: Printer) -> int:
        wf = Workflow.from_context(ctx)
        lock: DeployLock = wf.lock
        cmd: Commander = wf.cmd
        holder = await lock.read(cmd)
        if holder is None:
            print("shipdeck: no deploy lock is held")
            return ExitCode.OK
        stale = is_stale(holder, lock.stale_minutes)
        print(f"{holder.describe()}{' (stale)' if stale else ' (owner looks alive)'}")
        if not stale and not args.force:
            raise CliError("the lock's owner looks alive: add --force to break it anyway",
                           ExitCode.LOCKED)  # fmt: skip
        _confirm(args, f"Break the deploy lock of {ctx.config.app.name}?")
        await lock.break_(cmd, reason="shipdeck unlock")
        ctx.journal.audit(
            "unlock", host=ctx.config.primary_host.name, ssh_user=ctx.config.primary_host.user,
            detail=holder.describe(), deployment_id=holder.deployment_id,
        )  # fmt: skip
        print("shipdeck: lock broken")
        return ExitCode.OK

    return _with_context(args, body)
