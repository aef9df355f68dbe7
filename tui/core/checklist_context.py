"""What every automated check of the checklist works with: its ``CheckContext``, the ``Verdict``
it returns, and the helpers the checks share (run a command, read package.json, judge an exit
status).

Rule: a check never raises for a host's trouble; a command that cannot run or times out ends the
check with a FAIL verdict (``CheckAbort`` carries it out). Timeouts, commands and patterns of
the checks are ``[checklist]`` keys (config_models).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tui.core.checklist import ChecklistItem, ItemState
from tui.core.checklist_state import Scope
from tui.core.config import Config
from tui.core.journal import Journal
from tui.core.transport import CommandTimeout, Result, Transport, TransportError
from tui.core.transport_errors import one_line

MAX_LISTED = 8  # names listed in a summary before "and N more"


@dataclass(frozen=True)
class Verdict:
    state: ItemState
    summary: str = ""
    detail: str = ""
    signable: bool = False
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Site:
    """A checkout to run code checks in: ``workdir`` as seen by ``transport``."""

    transport: Transport
    workdir: str
    where: str  # for messages: "jump host ~/src/shop" or "web1:/srv/shop/releases/20260101"


@dataclass
class CheckContext:
    config: Config
    journal: Journal
    scope: Scope
    site: Site | None
    site_problem: str  # why there is no site, when site is None
    target: Transport | None  # the primary host, for environment checks
    target_dir: str  # the app's directory on the target (the release being deployed or live)
    clock: Callable[[], float] = time.time
    console: bool = False
    _package: dict[str, Any] | None = None
    _build: asyncio.Future[Result | Verdict] | None = None

    def build_future(self) -> asyncio.Future[Result | Verdict]:
        if self._build is None:
            self._build = asyncio.get_running_loop().create_future()
        return self._build


class CheckAbort(Exception):
    """A check cannot go on; carries the verdict to report."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.summary)
        self.verdict = verdict


def output_text(result: Result) -> str:
    """stdout then stderr of a command, without trailing newlines."""
    out, err = result.stdout.rstrip("\n"), result.stderr.rstrip("\n")
    return "\n".join(x for x in (out, err) if x)


def last_line(text: str) -> str:
    """The last non-blank line, cut to 160 characters: the "why" of a summary."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:160] if lines else ""


def time_limit(ctx: CheckContext, cap: float | None = None) -> float:
    """The time a command of a check may take: [checklist] check_timeout_s, or less."""
    limit = ctx.config.checklist.check_timeout_s
    return limit if cap is None else min(cap, limit)


async def run_command(
    transport: Transport,
    argv: Sequence[str],
    *,
    cwd: str | None,
    timeout: float,
    env: Mapping[str, str] | None = None,
) -> Result:
    """Run a check's command; a timeout or a transport error ends the check as FAIL."""
    try:
        return await transport.run(list(argv), cwd=cwd, timeout=timeout, env=env)
    except CommandTimeout as err:
        raise CheckAbort(
            Verdict(ItemState.FAIL, f"timed out after {timeout:g}s", str(err))
        ) from None
    except TransportError as err:
        raise CheckAbort(Verdict(ItemState.FAIL, one_line(err))) from None


def require_site(ctx: CheckContext) -> Site:
    """The checkout to run in; a FAIL verdict (CheckAbort) when there is none."""
    if ctx.site is None:
        raise CheckAbort(Verdict(ItemState.FAIL, ctx.site_problem or "no checkout to check"))
    return ctx.site


async def package_json(ctx: CheckContext) -> dict[str, Any]:
    """The checkout's package.json, read once per context."""
    if ctx._package is None:
        site = require_site(ctx)
        result = await run_command(
            site.transport, ["cat", "package.json"], cwd=site.workdir, timeout=time_limit(ctx, 30)
        )
        if not result.ok:
            raise CheckAbort(Verdict(ItemState.FAIL, f"no package.json in {site.where}"))
        try:
            parsed = json.loads(result.stdout)
        except ValueError as err:
            raise CheckAbort(Verdict(ItemState.FAIL, f"package.json: {one_line(err)}")) from None
        ctx._package = parsed if isinstance(parsed, dict) else {}
    return ctx._package


async def require_script(ctx: CheckContext, item: ChecklistItem, name: str) -> None:
    """FAIL (CheckAbort) when package.json has no script ``name``."""
    scripts = (await package_json(ctx)).get("scripts") or {}
    if name not in scripts:
        raise CheckAbort(Verdict(
            ItemState.FAIL,
            f"package.json has no {name!r} script (add one, or list {item.id!r} in "
            "[checklist] optional)",
        ))  # fmt: skip


def exit_verdict(result: Result, passed: str = "exit 0", detail: str | None = None) -> Verdict:
    """PASS on exit 0, else FAIL with the exit status and the output's last line."""
    text = output_text(result) if detail is None else detail
    if result.ok:
        return Verdict(ItemState.PASS, passed, text, data={"exit_status": 0})
    why = last_line(text)
    summary = f"exit {result.exit_status}" + (f": {why}" if why else "")
    return Verdict(ItemState.FAIL, summary, text, data={"exit_status": result.exit_status})


def hits_summary(hits: list[str]) -> str:
    """The first MAX_LISTED hits, then "and N more"."""
    shown = ", ".join(hits[:MAX_LISTED])
    return shown + (f" and {len(hits) - MAX_LISTED} more" if len(hits) > MAX_LISTED else "")


CheckFn = Callable[[CheckContext, ChecklistItem], Awaitable[Verdict]]
