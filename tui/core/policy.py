"""Deploy policies: no-deploy days and hours, and small deploys.

The clock is injected (a ``() -> float`` epoch, like ``time.time``) and read in the jump host's
local time zone unless one is given, so tests never wait for a Friday. Window violations close
the gate (an override with a typed reason lets it through); too many commits is a warning.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from tui.core.config import PolicyConfig
from tui.core.config_models import WEEKDAYS
from tui.core.transport import Transport, TransportError
from tui.core.transport_errors import one_line

Clock = Callable[[], float]

_DAY_NAMES = {
    "Mon": "Mondays", "Tue": "Tuesdays", "Wed": "Wednesdays", "Thu": "Thursdays",
    "Fri": "Fridays", "Sat": "Saturdays", "Sun": "Sundays",
}  # fmt: skip


@dataclass(frozen=True)
class PolicyReport:
    violations: tuple[str, ...] = ()  # close the gate
    warnings: tuple[str, ...] = ()  # shown, do not close it


def local_now(clock: Clock = time.time, tz: tzinfo | None = None) -> datetime:
    ts = clock()
    return datetime.fromtimestamp(ts, tz) if tz is not None else datetime.fromtimestamp(ts)


def window_violations(
    policy: PolicyConfig, clock: Clock = time.time, tz: tzinfo | None = None
) -> list[str]:
    """Why now is outside the deploy window (empty when it is inside)."""
    now = local_now(clock, tz)
    found = []
    day = WEEKDAYS[now.weekday()]
    if day in policy.no_deploy_days:
        found.append(
            f"no deploys on {_DAY_NAMES[day]} (policy.no_deploy_days; it is {day} {now:%H:%M})"
        )
    cutoff = policy.no_deploy_after.strip()
    if cutoff:
        hh, mm = (int(x) for x in cutoff.split(":"))
        if (now.hour, now.minute) >= (hh, mm):
            found.append(f"no deploys after {cutoff} (policy.no_deploy_after; it is {now:%H:%M})")
    return found


def commits_warning(count: int | None, policy: PolicyConfig, from_ref: str, to_ref: str) -> str:
    """A warning when ``to_ref`` is more than max_commits_ahead commits past ``from_ref``."""
    if count is None or policy.max_commits_ahead <= 0 or count <= policy.max_commits_ahead:
        return ""
    return (
        f"{to_ref} is {count} commits ahead of {from_ref} (policy.max_commits_ahead = "
        f"{policy.max_commits_ahead}): consider smaller deploys"
    )


async def commits_ahead(
    transport: Transport, repo_dir: str, from_ref: str, to_ref: str, *, timeout: float = 60.0
) -> tuple[int | None, str]:
    """(count, problem): ``git rev-list --count FROM..TO`` run in ``repo_dir`` on the host."""
    if not from_ref or not to_ref:
        return None, "no previous deployed ref to compare with"
    try:
        result = await transport.run(
            ["git", "rev-list", "--count", f"{from_ref}..{to_ref}", "--"],
            cwd=repo_dir, timeout=timeout,
        )  # fmt: skip
    except TransportError as err:
        return None, one_line(err)
    text = result.stdout.strip()
    if not result.ok or not text.isdigit():
        return None, one_line(result.stderr) or f"git rev-list exited {result.exit_status}"
    return int(text), ""


def evaluate(
    policy: PolicyConfig,
    clock: Clock = time.time,
    *,
    tz: tzinfo | None = None,
    commits: int | None = None,
    from_ref: str = "",
    to_ref: str = "",
) -> PolicyReport:
    warning = commits_warning(commits, policy, from_ref, to_ref)
    return PolicyReport(tuple(window_violations(policy, clock, tz)), (warning,) if warning else ())
