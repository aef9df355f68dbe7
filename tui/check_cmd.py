"""`shipdeck check`: the pre-deploy checklist, headless.

Runs the automated items and prints one line per item in the checklist's shape
(`[Code Quality] No console.log statements: FAIL (src/a.js:12, src/b.js:40)`), signed items as
pending/signed, then the gate. Exit 0 when the gate is open, 1 when it is closed, 2 for config
errors. Results are journaled (check events) like the console's, so the pane shows them too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from tui.context import AppContext, CliError, open_context
from tui.core.checklist_gate import GateDecision
from tui.core.checklist_runner import ChecklistRunner
from tui.core.checklist_state import current_deployment
from tui.core.exit_codes import ExitCode
from tui.core.journal import JournalError
from tui.core.lines import one_line


def register(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    parser = sub.add_parser(
        "check",
        help="run the pre-deploy checklist and show the gate",
        description=(
            "Run the automated checklist items (in the project checkout: --workdir or [checklist] "
            "workdir, else the release the open deployment built, else the current directory) "
            "and print one line "
            "per item. Exit 0 when the gate is open, 1 when it is closed, 2 for config errors."
        ),
    )
    add_common(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON document instead")
    parser.add_argument(
        "--workdir", metavar="DIR",
        help="the project checkout to check (default: [checklist] workdir of the config)",
    )  # fmt: skip
    parser.add_argument(
        "--deployment", metavar="ID", type=int,
        help="the deployment whose checklist this is (default: the open one, else pre-flight)",
    )  # fmt: skip
    parser.add_argument(
        "--sign", metavar="ITEM", action="append", default=[],
        help="sign off an item as the local user first (repeatable), e.g. --sign review",
    )  # fmt: skip
    parser.add_argument("--note", default="", help="note for --sign")
    parser.add_argument("--link", default="", help="link for --sign (a PR, a runbook)")
    parser.add_argument(
        "--no-run", action="store_true", help="show the recorded state without running checks"
    )
    parser.set_defaults(func=run)


def _runner(ctx: AppContext, args: argparse.Namespace) -> ChecklistRunner:
    dep_id = args.deployment
    if dep_id is None:
        dep = current_deployment(ctx.journal, ctx.config.app.name)
        dep_id = dep.id if dep else None
    elif ctx.journal.deployment(dep_id) is None:
        raise CliError(f"no deployment {dep_id} in the journal {ctx.journal.path}", ExitCode.USAGE)
    if args.workdir and not os.path.isdir(args.workdir):
        raise CliError(f"--workdir {args.workdir}: not a directory", ExitCode.USAGE)
    return ChecklistRunner(
        ctx.config, ctx.journal, ctx.pool, deployment_id=dep_id, workdir=args.workdir
    )


async def _check(runner: ChecklistRunner, run_checks: bool) -> GateDecision:
    try:
        if run_checks:
            await runner.run()
        await runner.refresh_journal_items()
        violations, warnings = await runner.policy()
    finally:
        if runner.pool is not None:
            await runner.pool.close()
    return runner.decision(violations, warnings)


def _print(runner: ChecklistRunner, decision: GateDecision, as_json: bool) -> None:
    redact = runner.journal.redactor
    if as_json:
        items = []
        for item in runner.items:
            res = runner.results.get(item.id)
            items.append({
                "id": item.id, "section": item.section, "label": item.label,
                "kind": str(item.kind), "optional": item.optional,
                "state": str(res.state) if res else "pending",
                "summary": res.summary if res else "", "who": res.who if res else "",
                "line": runner.line(item.id),
            })  # fmt: skip
        doc = {"deployment_id": runner.deployment_id, **decision.to_json(), "items": items}
        print(redact(json.dumps(doc, indent=2, ensure_ascii=False)))
        return
    for line in runner.lines():
        print(redact(line))
    for violation in decision.policy_violations:
        print(redact(f"[Policy] {violation}"))
    for warning in decision.warnings:
        if warning.startswith("["):
            continue  # optional items: their line above already says so
        print(redact(f"[Policy] warning: {warning}"))
    # "Gate: OPEN", not "Gate: OPEN (gate open)"; overrides and refusals in parentheses.
    detail = decision.overrides() if decision.open else decision.message()
    state = "OPEN" if decision.open else "CLOSED"
    print(redact(f"Gate: {state} ({detail})" if detail else f"Gate: {state}"))


def run(args: argparse.Namespace) -> int:
    ctx = open_context(getattr(args, "config", None), getattr(args, "journal", None))
    try:
        runner = _runner(ctx, args)
        for item_id in args.sign:
            if item_id not in runner.by_id:
                known = ", ".join(i.id for i in runner.items)
                raise CliError(f"--sign {item_id}: no such item (items: {known})", ExitCode.USAGE)
            try:
                runner.sign(item_id, note=args.note, link=args.link)
            except ValueError as err:
                raise CliError(f"--sign {item_id}: {err}", ExitCode.USAGE) from None
        try:
            decision = asyncio.run(_check(runner, not args.no_run))
        except JournalError as err:
            raise CliError(f"checklist not journaled: {one_line(err)}", ExitCode.FAILED) from None
        try:
            _print(runner, decision, bool(args.json))
            sys.stdout.flush()
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        ctx.close()
    return ExitCode.OK if decision.open else ExitCode.FAILED
