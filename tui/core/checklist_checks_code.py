"""The Code Quality checks: tests, lint, TypeScript, console.log, run in the checkout (``Site``:
on the jump host, or the release built on the target)."""

from __future__ import annotations

import re

from tui.core.checklist import ChecklistItem, ItemState
from tui.core.checklist_context import (
    MAX_LISTED,
    CheckContext,
    Verdict,
    exit_verdict,
    hits_summary,
    last_line,
    output_text,
    require_script,
    require_site,
    run_command,
    time_limit,
)

CONSOLE_LOG_RE = r"console\.log[[:space:]]*\("  # grep -E, not a Python regex


_TEST_COUNTS = (
    re.compile(r"^# (pass|fail) (\d+)$", re.M),  # node --test (TAP)
    re.compile(r"Tests:\s+(.*)$", re.M),  # jest
    re.compile(r"(\d+) (passing|failing)", re.M),  # mocha
)


def _test_counts(text: str) -> str:
    tap = dict(_TEST_COUNTS[0].findall(text))
    if tap:
        return f"{tap.get('pass', '0')} passed, {tap.get('fail', '0')} failed"
    jest = _TEST_COUNTS[1].findall(text)
    if jest:
        return jest[-1].strip()
    mocha = _TEST_COUNTS[2].findall(text)
    return ", ".join(f"{n} {w}" for n, w in mocha)


async def check_tests(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    await require_script(ctx, item, "test")
    site = require_site(ctx)
    result = await run_command(site.transport, ["npm", "test"], cwd=site.workdir,
                               timeout=time_limit(ctx), env={"CI": "true"})  # fmt: skip
    text = output_text(result)
    counts = _test_counts(text)
    verdict = exit_verdict(result, counts or "exit 0", text)
    if not result.ok and counts:
        return Verdict(
            ItemState.FAIL, f"exit {result.exit_status}: {counts}", text, data=verdict.data
        )
    return verdict


_PROBLEMS = re.compile(r"(\d+) problems?")


async def check_lint(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    await require_script(ctx, item, "lint")
    site = require_site(ctx)
    result = await run_command(site.transport, ["npm", "run", "lint"], cwd=site.workdir,
                               timeout=time_limit(ctx))  # fmt: skip
    text = output_text(result)
    found = _PROBLEMS.findall(text)
    if not result.ok and found:
        return Verdict(ItemState.FAIL, f"{found[-1]} problem(s): {last_line(text)}", text)
    return exit_verdict(result, "no lint errors", text)


_TS_ERROR = re.compile(r"^(.+?)\((\d+),\d+\): error (TS\d+)", re.M)


async def check_typescript(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    site = require_site(ctx)
    probe = await run_command(
        site.transport,
        ["test", "-f", "tsconfig.json"],
        cwd=site.workdir,
        timeout=time_limit(ctx, 30),
    )
    if not probe.ok:
        return Verdict(ItemState.SKIPPED, "no tsconfig.json: not a TypeScript project")
    argv = ctx.config.checklist.tsc_command
    if not argv:
        return Verdict(ItemState.SKIPPED, "no [checklist] tsc_command configured")
    result = await run_command(site.transport, argv, cwd=site.workdir, timeout=time_limit(ctx))
    text = output_text(result)
    errors = _TS_ERROR.findall(text)
    if result.ok:
        return Verdict(ItemState.PASS, "tsc --noEmit: no errors", text)
    if errors:
        where = ", ".join(f"{f}:{ln} {code}" for f, ln, code in errors[:MAX_LISTED])
        more = f" and {len(errors) - MAX_LISTED} more" if len(errors) > MAX_LISTED else ""
        return Verdict(ItemState.FAIL, f"{len(errors)} error(s): {where}{more}", text,
                       data={"errors": len(errors)})  # fmt: skip
    return exit_verdict(result, detail=text)


async def check_console_log(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    site = require_site(ctx)
    dirs = list(ctx.config.checklist.source_dirs)
    found = await run_command(
        site.transport,
        ["find", *dirs, "-maxdepth", "0", "-type", "d"],
        cwd=site.workdir,
        timeout=time_limit(ctx, 30),
    )
    present = [d for d in dirs if d.rstrip("/") in {x.rstrip("/") for x in found.stdout.split()}]
    if not present:
        return Verdict(ItemState.FAIL, f"no source dir found ({', '.join(dirs)}) in {site.where}")
    includes = [f"--include=*.{ext}" for ext in ctx.config.checklist.source_extensions]
    argv = [
        "grep",
        "-rnIE",
        *includes,
        "--exclude-dir=node_modules",
        CONSOLE_LOG_RE,
        "--",
        *present,
    ]
    result = await run_command(site.transport, argv, cwd=site.workdir, timeout=time_limit(ctx, 120))
    if result.exit_status == 1:
        return Verdict(ItemState.PASS, f"none in {', '.join(present)}")
    if result.exit_status != 0:
        return Verdict(
            ItemState.FAIL, f"grep failed: {last_line(result.stderr)}", output_text(result)
        )
    hits = []
    for line in result.stdout.splitlines():
        path, _, rest = line.partition(":")
        lineno = rest.partition(":")[0]
        if path and lineno.isdigit():
            hits.append(f"{path}:{lineno}")
    return Verdict(ItemState.FAIL, hits_summary(hits), result.stdout, data={"hits": hits})
