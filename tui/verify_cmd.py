"""`shipdeck verify`: the post-deploy checks, headless; replaces the seed's post-deploy-check.sh.

One line per check in the seed's shape (`Health Check: PASS`, `API Status: FAIL (...)`), prefixed
with the host name when the config has several. Exit 0 when nothing failed, 1 when something did
(a WARNING is not a failure, as in the seed), 2 for config errors. Each result is also journaled
as a "check" event.
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
from tui.core.exit_codes import ExitCode
from tui.core.health import CheckResult, Verifier, any_failed
from tui.core.journal import JournalError
from tui.core.lines import one_line
from tui.core.transport import TransportError


def register(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    parser = sub.add_parser(
        "verify",
        help="run the post-deploy checks: health, API status, error logs, processes, memory",
        description=(
            "Run the post-deploy checks on each host. Exit 0 when nothing failed, 1 when a "
            "check failed or a host could not be reached, 2 for config errors."
        ),
    )
    add_common(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON document instead")
    parser.add_argument(
        "--host",
        metavar="NAME",
        action="append",
        help="check only this host (repeatable; default: every host in the config)",
    )
    parser.set_defaults(func=run)


HostOutcome = tuple[str, list[CheckResult], str]  # host, results, one-line error ("" if none)


async def _verify_host(ctx: AppContext, name: str) -> HostOutcome:
    transport = ctx.pool[name]
    try:
        await transport.connect()
        results = await Verifier(ctx.config, transport).run_all()
    except TransportError as err:
        return name, [], str(err)
    except Exception as err:  # never a traceback: the operator gets one line and exit 1
        return (
            name,
            [],
            f"{name}: verify failed unexpectedly: {type(err).__name__}: {one_line(err)}",
        )
    return name, results, ""


async def _verify_all(ctx: AppContext, names: list[str]) -> list[HostOutcome]:
    try:
        return list(await asyncio.gather(*(_verify_host(ctx, n) for n in names)))
    finally:
        await ctx.pool.close()


def _hosts(ctx: AppContext, wanted: list[str] | None) -> list[str]:
    if not wanted:
        return ctx.pool.names
    unknown = [n for n in wanted if n not in ctx.pool.names]
    if unknown:
        known = ", ".join(ctx.pool.names)
        raise CliError(
            f"unknown host {unknown[0]!r} (hosts in the config: {known})", ExitCode.USAGE
        )
    return list(dict.fromkeys(wanted))


def _journal(ctx: AppContext, outcomes: list[HostOutcome]) -> None:
    for host, results, error in outcomes:
        if error:
            ctx.journal.record(
                host=host, step="verify", kind="check", message=error, data={"status": "FAIL"}
            )
        for r in results:
            ctx.journal.record(
                host=host,
                step="verify",
                kind="check",
                message=r.line,
                data=r.event_data(),
            )


def _print(ctx: AppContext, outcomes: list[HostOutcome], as_json: bool) -> None:
    redact = ctx.redactor
    if as_json:
        doc = {
            "ok": not _failed(outcomes),
            "results": [{"host": h, **r.to_json()} for h, rs, _ in outcomes for r in rs],
            "errors": [{"host": h, "message": redact(e)} for h, _, e in outcomes if e],
        }
        print(redact(json.dumps(doc, indent=2)))
        return
    prefix = len(ctx.pool.names) > 1
    for host, results, error in outcomes:
        if error:
            print(f"shipdeck: {redact(error)}", file=sys.stderr)
        for r in results:
            print(redact(f"[{host}] {r.line}" if prefix else r.line))


def _failed(outcomes: list[HostOutcome]) -> bool:
    return any(e or any_failed(rs) for _, rs, e in outcomes)


def run(args: argparse.Namespace) -> int:
    ctx = open_context(getattr(args, "config", None), getattr(args, "journal", None))
    try:
        names = _hosts(ctx, getattr(args, "host", None))
        outcomes = asyncio.run(_verify_all(ctx, names))
        try:
            _journal(ctx, outcomes)  # first written, then shown
        except JournalError as err:
            print(f"shipdeck: results not journaled: {one_line(err)}", file=sys.stderr)
        try:
            _print(ctx, outcomes, bool(args.json))
            sys.stdout.flush()
        except BrokenPipeError:
            # `shipdeck verify | head`: the reader left; the exit status still tells the story.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        ctx.close()
    return ExitCode.FAILED if _failed(outcomes) else ExitCode.OK
