"""The emergency screen's rollback key on the rig: after a deploy to 1.1.0, `!` then `b` (and the
app name typed, production; code only at the data question) returns the app to 1.0.0 and records
the incident steps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.rigenv import REPO, RigEnv
from tests.ui.test_dashboard import wait_for
from tui.app import ShipdeckApp
from tui.context import open_context
from widgets.confirm_modal import ConfirmModal
from widgets.data_rollback_modal import DataRollbackModal


def served_version(rig: RigEnv) -> str:
    return httpx.get(f"{rig.app_url}/api/status", timeout=5).json()["version"]


async def test_emergency_rollback_returns_to_the_previous_release(
    fresh_app: RigEnv, tmp_path: Path
) -> None:
    rig = fresh_app
    journal = tmp_path / "journal.sqlite3"
    # The rig's config without the 15-minute post-deploy watch the headless deploy holds for.
    config = tmp_path / "shipdeck.toml"
    config.write_text(rig.config.read_text().replace("[policy]\n", "[policy]\nwatch_minutes = 0\n"))
    deployed = subprocess.run(
        [sys.executable, "-m", "tui.cli", "deploy", "--headless", "--yes",
         "--config", str(config), "--journal", str(journal)],
        cwd=REPO, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert served_version(rig) == "1.1.0"

    ctx = open_context(str(rig.config), str(journal))
    app = ShipdeckApp(ctx, poll_processes=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("exclamation_mark")
            await wait_for(lambda: app.screen.id != "dashboard", pilot)
            await pilot.press("b")
            await wait_for(lambda: isinstance(app.screen, ConfirmModal), pilot)
            assert app.screen.require_text == "demo"
            await pilot.press(*"demo", "enter")
            # Then the data question (the rig's config has [database] and a down-migration):
            # Escape keeps it to the code.
            await wait_for(lambda: isinstance(app.screen, DataRollbackModal), pilot)
            await pilot.press("escape")
            await wait_for(
                lambda: ctx.journal.deployments("demo", limit=1)[0].state == "rolled_back",
                pilot, 180,
            )  # fmt: skip
            assert served_version(rig) == "1.0.0"
            steps = [e.message for e in ctx.journal.events() if "roll back:" in e.message]
            assert any("started" in m for m in steps), steps
    finally:
        ctx.close()
