"""Checks of the config's own items: a command run on every host and judged by its exit status,
a regex over its output, or a number against a budget; and the infrastructure-as-code plan."""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Sequence
from typing import Any

from tui.core.checklist import ChecklistItem, ItemState
from tui.core.checklist_context import (
    CheckAbort,
    CheckContext,
    Verdict,
    exit_verdict,
    output_text,
    require_site,
    run_command,
    time_limit,
)
from tui.core.iac_plan import judge_plan, parse_plan
from tui.core.transport import Result, Transport


def _line_of(text: str, match: re.Match[str]) -> str:
    """The line a match is on, trimmed for a summary."""
    start = text.rfind("\n", 0, match.start()) + 1
    end = text.find("\n", match.end())
    line = text[start : end if end >= 0 else len(text)].strip()
    return line[:120]


def _number(text: str) -> float | None:
    try:
        value = float(text.strip().replace(",", "").replace("_", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def judge_output(item: ChecklistItem, result: Result) -> tuple[bool, str, Any]:
    """(passed, why, number) of one host's run under the item's judge ("exit0", "regex",
    "budget"). Regex and budget judge the output (stdout then stderr, ``^``/``$`` at line ends),
    not the exit status, except that a command that could not run (126, 127) fails."""
    text = output_text(result)
    if item.judge not in ("regex", "budget"):
        return result.ok, exit_verdict(result).summary, None
    if result.exit_status in (126, 127):
        return False, exit_verdict(result).summary, None
    if item.judge == "regex":
        if item.fail_pattern:
            bad = re.search(item.fail_pattern, text, re.M)
            if bad is not None:
                return False, f"fail_pattern matched: {_line_of(text, bad)}", None
        if not item.pattern:
            return True, "fail_pattern not matched", None
        good = re.search(item.pattern, text, re.M)
        if good is None:
            return False, f'no match for pattern "{item.pattern}"', None
        return True, f"matched: {_line_of(text, good)}", None
    matches = list(re.finditer(item.pattern, text, re.M))
    if not matches:
        return False, f'no number: no match for pattern "{item.pattern}"', None
    raw = matches[-1].group(1) or ""
    number = _number(raw)
    if number is None:
        return False, f'"{raw[:40]}" (pattern "{item.pattern}") is not a number', None
    if number > item.budget:
        return False, f"{number:g} > {item.budget:g} budget", number
    return True, f"{number:g} of {item.budget:g} budget", number


async def check_custom(
    ctx: CheckContext, item: ChecklistItem, hosts: Sequence[Transport]
) -> Verdict:
    """A configured command run on every host, judged on each (``judge_output``): the item
    passes when it passes everywhere."""

    async def one(t: Transport) -> tuple[str, Result | str]:
        try:
            return t.host.name, await run_command(
                t, item.command, cwd=ctx.target_dir or None, timeout=time_limit(ctx)
            )
        except CheckAbort as err:
            return t.host.name, err.verdict.summary

    outcomes = await asyncio.gather(*(one(t) for t in hosts))
    judged = [(h, (False, r, None) if isinstance(r, str) else judge_output(item, r))
              for h, r in outcomes]  # fmt: skip
    failed = [f"{h}: {why}" for h, (ok, why, _) in judged if not ok]
    detail = "\n\n".join(
        f"== {h}\n{r if isinstance(r, str) else output_text(r)}" for h, r in outcomes
    )
    numbers = {h: n for h, (_, _, n) in judged if n is not None}
    data: dict[str, Any] = {"judge": item.judge}
    if item.judge == "budget":
        data.update(budget=item.budget, values=numbers)
    if failed:
        return Verdict(ItemState.FAIL, "; ".join(failed), detail, data=data)
    if item.judge in ("regex", "budget"):
        return Verdict(ItemState.PASS, "; ".join(f"{h}: {why}" for h, (_, why, _) in judged),
                       detail, data=data)  # fmt: skip
    return Verdict(ItemState.PASS, f"exit 0 on {len(outcomes)} host(s)", detail, data=data)


async def check_iac_plan(ctx: CheckContext, item: ChecklistItem, allow_destroy: bool) -> Verdict:
    site = require_site(ctx)
    result = await run_command(
        site.transport, item.command, cwd=site.workdir, timeout=time_limit(ctx)
    )
    text = output_text(result)
    plan = parse_plan(result.stdout)
    if plan is None:
        return (
            exit_verdict(result, detail=text)
            if not result.ok
            else Verdict(ItemState.FAIL, "no plan summary in the output", text)
        )
    ok, summary = judge_plan(plan, allow_destroy=allow_destroy)
    # terraform plan -detailed-exitcode exits 2 for "changes present": that is not a failure.
    if result.exit_status not in (0, 2):
        return exit_verdict(result, detail=text)
    state = ItemState.PASS if ok else ItemState.FAIL
    return Verdict(state, summary, text, data=plan.to_json())
