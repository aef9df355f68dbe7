"""Fixtures for the integration tests: the real rig (sshd, pm2, nginx, PostgreSQL on
127.0.0.1) that rig/up stands up. Every test in this directory is marked `integration`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_workflow_support import OwnApp, make_own_app, remove_own_app
from tests.rigenv import ENV_OVERRIDE, RigEnv, RigError, ensure_rig_up, load_rig_env, run_rig_script

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The hook sees every collected item of the session, not only this directory's.
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def rig() -> RigEnv:
    """The running rig. rig/up needs root; without it an already-running rig is used if its
    env.sh exists (or $SHIPDECK_RIG_ENV names one), else the tests are skipped."""
    try:
        if os.geteuid() != 0 and not os.environ.get(ENV_OVERRIDE):
            try:
                return load_rig_env()
            except RigError as err:
                pytest.skip(f"rig/up needs root and no rig is up: {err}")
        return ensure_rig_up()
    except RigError as err:
        pytest.fail(f"the test rig is not available: {err}", pytrace=False)


@pytest.fixture(scope="session")
def rig_ssh_argv(rig: RigEnv) -> list[str]:
    """`ssh -i KEY -o UserKnownHostsFile=... -p PORT deploy@127.0.0.1`; append a command."""
    return list(rig.ssh_argv)


@pytest.fixture
def fresh_app(rig: RigEnv) -> RigEnv:
    """The app as a fresh rig has it: only the v1.0.0 release, live, pm2 running just the demo
    app. Costs about two seconds (rig/reset-app), and restarts the app."""
    try:
        run_rig_script("reset-app", timeout=300)
    except RigError as err:
        pytest.fail(f"rig/reset-app failed: {err}", pytrace=False)
    return rig


@pytest.fixture
def app(rig: RigEnv, tmp_path: Path) -> Iterator[OwnApp]:
    """An app of the test's own on the rig host (v1.0.0 live, own pm2 name and port), removed
    afterwards: tests that deploy leave the rig's shared `demo` app alone."""
    own = make_own_app(rig, tmp_path)
    try:
        yield own
    finally:
        remove_own_app(own)
