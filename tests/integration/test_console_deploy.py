"""Keys 1-5 and R in the console drive the real workflow against the rig over SSH."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.rigenv import RigEnv
from tests.ui.test_dashboard import wait_for
from tui.app import ShipdeckApp
from tui.context import AppContext, open_context
from tui.core.watch import CLEAN, confirm_gate, watch_outcome
from widgets.confirm_modal import ConfirmModal
from widgets.data_rollback_modal import DataRollbackModal
from widgets.reason_modal import ReasonModal
from widgets.step_bar import StepBar
from widgets.watch_panel import WatchPanel

STEP_TIMEOUT = 180.0


def short_watch(text: str) -> str:
    """The rig's config with a 15-second post-deploy watch sampling every 3 s."""
    return text.replace("[policy]\n", "[policy]\nwatch_minutes = 0.25\nwatch_interval_s = 3.0\n")


def latest_states(ctx: AppContext) -> dict[str, str]:
    """The step states of the newest deployment of the rig's app ({} before the first)."""
    deps = ctx.journal.deployments("demo", limit=1)
    return ctx.journal.step_states(deps[0].id) if deps else {}


def served_version(rig: RigEnv) -> str:
    return httpx.get(f"{rig.app_url}/api/status", timeout=5).json()["version"]


async def test_keys_drive_a_deploy_and_a_rollback(fresh_app: RigEnv, tmp_path: Path) -> None:
    rig = fresh_app
    assert served_version(rig) == "1.0.0"
    config = tmp_path / "shipdeck.toml"
    config.write_text(short_watch(rig.config.read_text()))
    ctx = open_context(str(config), str(tmp_path / "journal.sqlite3"))
    app = ShipdeckApp(ctx, poll_processes=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("1")  # from the dashboard: opens the deploy screen, runs BACKUP
            await wait_for(lambda: latest_states(ctx).get("backup") == "ok", pilot, STEP_TIMEOUT)
            assert app.screen.id == "deploy"
            await pilot.press("2")
            await wait_for(lambda: latest_states(ctx).get("build") == "ok", pilot, STEP_TIMEOUT)
            assert served_version(rig) == "1.0.0"  # built, not live yet

            await pilot.press("3")  # production: a confirmation first
            await wait_for(lambda: isinstance(app.screen, ConfirmModal), pilot)
            await pilot.click("#confirm")
            await wait_for(lambda: latest_states(ctx).get("deploy") == "ok", pilot, STEP_TIMEOUT)
            assert served_version(rig) == "1.1.0"

            # DEPLOY started the post-deploy watch; CONFIRM is locked until it ends clean.
            panel = app.screen.query_one(WatchPanel)
            await pilot.press("4")
            await wait_for(lambda: latest_states(ctx).get("verify") == "ok", pilot, STEP_TIMEOUT)
            dep_id = ctx.journal.deployments("demo", limit=1)[0].id
            assert not confirm_gate(ctx.journal, dep_id).unlocked
            await wait_for(lambda: watch_outcome(ctx.journal, dep_id) == CLEAN, pilot, 90)
            assert len(panel.watch.samples) >= 3
            await pilot.press("5")
            # CONFIRM's step.ok comes before retention and the end of the deployment.
            await wait_for(
                lambda: ctx.journal.deployments("demo", limit=1)[0].state == "succeeded",
                pilot, STEP_TIMEOUT,
            )  # fmt: skip
            dep = ctx.journal.deployments("demo", limit=1)[0]
            assert (dep.from_version, dep.to_version) == ("1.0.0", "1.1.0")
            bar = app.screen.query_one(StepBar)
            all_steps = ("backup", "build", "deploy", "verify", "confirm")
            assert bar.states == dict.fromkeys(all_steps, "ok")

            # BACKUP dumped the rig's database ([database] is enabled in its config).
            assert any("pg_dump" in " ".join(e.argv) for e in ctx.journal.events(
                deployment_id=dep.id))

            await pilot.press("R")  # production: type the app name
            await wait_for(lambda: isinstance(app.screen, ConfirmModal), pilot)
            await pilot.press(*"demo", "enter")
            # Then the data question: restoring the BACKUP dump needs the database's name
            # typed (also "demo") before its button is enabled.
            await wait_for(lambda: isinstance(app.screen, DataRollbackModal), pilot)
            restore = app.screen.query_one("#restore-db")
            assert restore.disabled
            await pilot.press("tab", *"demo")
            await wait_for(lambda: not restore.disabled, pilot)
            await pilot.click("#restore-db")
            await wait_for(
                lambda: ctx.journal.deployments("demo", limit=1)[0].state == "rolled_back",
                pilot, STEP_TIMEOUT,
            )  # fmt: skip
            await wait_for(lambda: "rolled back" in bar.status, pilot)
            assert served_version(rig) == "1.0.0"
            rollback = ctx.journal.deployments("demo", limit=1)[0]
            restored = [e for e in ctx.journal.events(deployment_id=rollback.id)
                        if "pg_restore" in " ".join(e.argv) and "--clean" in e.argv]
            assert restored and restored[-1].exit_status == 0
            assert f"deploy-{dep.id}.dump" in " ".join(restored[-1].argv)
    finally:
        ctx.close()


async def test_a_closed_gate_refuses_deploy_until_a_typed_override(
    fresh_app: RigEnv, tmp_path: Path
) -> None:
    import re

    rig = fresh_app
    config = tmp_path / "shipdeck.toml"
    # Every checklist item required again (the rig's config makes most of them optional).
    config.write_text(re.sub(r"(?m)^optional = \[.*\]$", "", short_watch(rig.config.read_text())))
    ctx = open_context(str(config), str(tmp_path / "journal.sqlite3"))
    app = ShipdeckApp(ctx, poll_processes=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("1")
            await wait_for(lambda: latest_states(ctx).get("backup") == "ok", pilot, STEP_TIMEOUT)
            await pilot.press("2")
            await wait_for(lambda: latest_states(ctx).get("build") == "ok", pilot, STEP_TIMEOUT)
            await pilot.press("3")
            await wait_for(lambda: isinstance(app.screen, ConfirmModal), pilot)
            await pilot.click("#confirm")
            await wait_for(lambda: isinstance(app.screen, ReasonModal), pilot, STEP_TIMEOUT)
            assert "Code reviewed and approved" in app.screen.what
            assert served_version(rig) == "1.0.0"  # refused: nothing switched
            reason = "hotfix reviewed on the incident call"
            await pilot.press(*reason, "enter")
            await wait_for(lambda: latest_states(ctx).get("deploy") == "ok", pilot, STEP_TIMEOUT)
            assert served_version(rig) == "1.1.0"
            dep = ctx.journal.deployments("demo", limit=1)[0]
            overrides = [(o.gate, o.reason) for o in ctx.journal.overrides(dep.id)]
            assert ("checklist", reason) in overrides
            await pilot.press("R")
            await wait_for(lambda: isinstance(app.screen, ConfirmModal), pilot)
            await pilot.press(*"demo", "enter")
            await wait_for(lambda: isinstance(app.screen, DataRollbackModal), pilot)
            await pilot.press("escape")  # code only
            await wait_for(lambda: served_version(rig) == "1.0.0", pilot, STEP_TIMEOUT)
    finally:
        ctx.close()
