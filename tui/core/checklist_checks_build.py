"""The Build checks: the production build, its warnings and the bundle size against its budget.

Rule: the build runs once per checklist run; the warnings and bundle checks wait for its result
(``CheckContext.build_future``) instead of building again.
"""

from __future__ import annotations

import asyncio
import math
import re

from tui.core.checklist import ChecklistItem, ItemState
from tui.core.checklist_context import (
    CheckAbort,
    CheckContext,
    Verdict,
    exit_verdict,
    output_text,
    require_script,
    require_site,
    run_command,
    time_limit,
)
from tui.core.transport import Result

# "3 warnings" / "no warnings" are tallies, not warnings of their own.
WARNING_TALLY_RE = re.compile(r"(?i)\b(\d+|no) warnings?\b")


async def check_build(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    future = ctx.build_future()
    try:
        argv = ctx.config.steps.build.build
        if tuple(argv[:2]) == ("npm", "run") and len(argv) > 2:
            await require_script(ctx, item, argv[2])
        site = require_site(ctx)
        result = await run_command(
            site.transport, argv, cwd=site.workdir, timeout=ctx.config.steps.build.timeout_s
        )
    except CheckAbort as err:
        if not future.done():
            future.set_result(err.verdict)
        raise
    if not future.done():
        future.set_result(result)
    return exit_verdict(result, "built", output_text(result))


async def _build_result(ctx: CheckContext) -> Result:
    got = await asyncio.shield(ctx.build_future())
    if isinstance(got, Verdict) or not got.ok:
        raise CheckAbort(Verdict(ItemState.FAIL, "no build to judge: the production build failed"))
    return got


def count_warnings(text: str, pattern: str) -> list[str]:
    """The warning lines (``pattern``) of a build's output; a tally ("2 warnings") alone counts
    as that many when the build printed no warning lines of its own."""
    warning = re.compile(pattern)
    found = [ln.strip() for ln in text.splitlines()
             if warning.search(ln) and not WARNING_TALLY_RE.search(ln)]  # fmt: skip
    if found:
        return found
    tallies = [ln.strip() for ln in text.splitlines() if WARNING_TALLY_RE.search(ln)]
    counts = [int(m.group(1)) for ln in tallies for m in WARNING_TALLY_RE.finditer(ln)
              if m.group(1).isdigit()]  # fmt: skip
    return tallies[-1:] * max(counts, default=0)


async def check_build_warnings(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    result = await _build_result(ctx)
    warnings = count_warnings(output_text(result), ctx.config.checklist.warning_pattern)
    if not warnings:
        return Verdict(ItemState.PASS, "0 warnings", data={"warnings": 0})
    return Verdict(
        ItemState.FAIL, f"{len(warnings)} warning(s): {warnings[0][:120]}", "\n".join(warnings),
        data={"warnings": len(warnings)},
    )  # fmt: skip


async def check_bundle_size(ctx: CheckContext, item: ChecklistItem) -> Verdict:
    await _build_result(ctx)
    site = require_site(ctx)
    build_dir = ctx.config.checklist.build_dir
    result = await run_command(
        site.transport, ["find", build_dir, "-type", "f", "-printf", r"%s\t%P\n"],
        cwd=site.workdir, timeout=time_limit(ctx, 60),
    )  # fmt: skip
    if not result.ok:
        return Verdict(ItemState.FAIL, f"no build output in {build_dir}/", output_text(result))
    files = []
    for line in result.stdout.splitlines():
        size, _, name = line.partition("\t")
        if size.isdigit():
            files.append((int(size), name))
    total = sum(s for s, _ in files)
    kb = math.ceil(total / 1024)
    budget = ctx.config.checklist.bundle_budget_kb
    files.sort(reverse=True)
    largest = ", ".join(f"{n} {math.ceil(s / 1024)} KB" for s, n in files[:3])
    detail = "\n".join(f"{math.ceil(s / 1024):>8} KB  {n}" for s, n in files)
    data = {"kb": kb, "budget_kb": budget, "files": len(files)}
    if kb > budget:
        return Verdict(ItemState.FAIL, f"{kb} KB > {budget} KB budget (largest: {largest})",
                       detail, data=data)  # fmt: skip
    return Verdict(ItemState.PASS, f"{kb} KB of {budget} KB budget", detail, data=data)
