"""Suite-wide rules.

Under CI (CI=true) a skipped test is a failed one: a prerequisite that CI lacks (npm, tmux,
node, root for a tmpfs, a reachable registry) must be installed by .ci/run, not quietly turn
a test off. Outside CI a skip stays a skip, with its reason in the summary (-rs).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if not (under_ci() and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    reason = reason.removeprefix("Skipped: ")
    report.longrepr = f"CI must run this test, but it was skipped: {reason}"
