"""Deploy policy: the no-deploy window with an injected clock, and the commits-ahead warning."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

from tui.core.config import PolicyConfig
from tui.core.policy import commits_ahead, commits_warning, evaluate, window_violations
from tui.core.transport import LocalTransport


def at(text: str):
    ts = datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()
    return lambda: ts


def test_friday_is_refused_and_thursday_morning_is_fine() -> None:
    policy = PolicyConfig()
    # 2026-11-27 is a Friday.
    friday = window_violations(policy, at("2026-11-27 09:30"), UTC)
    assert friday == ["no deploys on Fridays (policy.no_deploy_days; it is Fri 09:30)"]
    assert window_violations(policy, at("2026-11-26 09:30"), UTC) == []


def test_after_the_cutoff_is_refused() -> None:
    policy = PolicyConfig()
    assert window_violations(policy, at("2026-11-26 15:59"), UTC) == []
    late = window_violations(policy, at("2026-11-26 16:00"), UTC)
    assert late == ["no deploys after 16:00 (policy.no_deploy_after; it is 16:00)"]
    both = window_violations(policy, at("2026-11-27 17:05"), UTC)
    assert len(both) == 2


def test_configured_days_and_no_cutoff() -> None:
    policy = PolicyConfig(no_deploy_days=("Sat", "Sun"), no_deploy_after="")
    assert window_violations(policy, at("2026-11-27 23:00"), UTC) == []
    assert window_violations(policy, at("2026-11-29 10:00"), UTC)[0].startswith(
        "no deploys on Sundays"
    )


def test_commits_warning_threshold() -> None:
    policy = PolicyConfig(max_commits_ahead=20)
    assert commits_warning(20, policy, "abc", "main") == ""
    assert commits_warning(None, policy, "abc", "main") == ""
    assert commits_warning(21, policy, "abc", "main").startswith("main is 21 commits ahead of abc")
    report = evaluate(policy, at("2026-11-26 10:00"), tz=UTC, commits=30, from_ref="a", to_ref="b")
    assert report.violations == () and len(report.warnings) == 1


async def test_commits_ahead_counts_with_git_rev_list(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(tmp_path), *args], check=True,
                              capture_output=True, text=True).stdout.strip()  # fmt: skip

    git("init", "-q", "-b", "main")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "0")
    first = git("rev-parse", "HEAD")
    for n in range(3):
        git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty",
            "-m", str(n + 1))  # fmt: skip
    count, problem = await commits_ahead(LocalTransport(), str(tmp_path), first, "main")
    assert (count, problem) == (3, "")
    count, problem = await commits_ahead(LocalTransport(), str(tmp_path), "nope", "main")
    assert count is None and problem
