"""The deploy screen as a view of the journal: step bar states, interrupted deployments,
the production rollback confirmation and read-only mode. (Keys 1-5 against the real rig are
in tests/integration/test_console_deploy.py.)"""

from __future__ import annotations

from tests.ui.test_dashboard import SIZE, wait_for
from tui.app import ShipdeckApp
from tui.context import AppContext
from widgets.confirm_modal import ConfirmModal
from widgets.step_bar import StepBar
from widgets.timeline import Timeline
from widgets.verify_panel import VerifyPanel

VERIFY_RESULTS = (
    ("Health Check", "PASS", ""),
    ("API Status", "PASS", "version 1.1.0"),
    ("Error Check", "WARNING", "7 errors detected"),
    ("Processes", "PASS", "2/2 online"),
)


def seed_deployment(ctx: AppContext, *, upto: str, state: str = "running") -> int:
    journal = ctx.journal
    dep = journal.start_deployment("demo", "v1.1.0", ssh_user="deploy", from_version="1.0.0")
    journal.record(kind="deploy.start", host="web1", message="deploy of v1.1.0 started",
                   deployment_id=dep.id)
    steps = ["backup", "build", "deploy", "verify", "confirm"]
    for step in steps[: steps.index(upto)]:
        journal.record(kind="step.start", step=step, host="web1", message=step.upper(),
                       deployment_id=dep.id)
        journal.record(kind="command", step=step, host="web1", message=f"{step} command",
                       argv=("true",), exit_status=0, duration=0.8, deployment_id=dep.id)
        if step == "verify":
            for name, status, detail in VERIFY_RESULTS:
                journal.record(kind="check", step=step, host="web1", deployment_id=dep.id,
                               message=f"{name}: {status}",
                               data={"name": name, "status": status, "detail": detail})
        journal.record(kind="step.ok", step=step, host="web1", message=f"{step.upper()} ok",
                       duration=1.1, deployment_id=dep.id)
    if state == "running" or state == "interrupted":
        journal.record(kind="step.start", step=upto, host="web1", message=upto.upper(),
                       deployment_id=dep.id)
    journal.update_deployment(dep.id, step=upto, to_version="1.1.0")
    if state == "interrupted":
        # The console that ran it is gone: a pid that cannot exist.
        journal.update_deployment(dep.id, pid=2**22 + 7)
    elif state != "running":
        journal.update_deployment(dep.id, state=state)
    return dep.id


async def open_deploy(app: ShipdeckApp, pilot) -> StepBar:
    await pilot.press("d")
    await wait_for(lambda: app.screen.id == "deploy", pilot)
    return app.screen.query_one(StepBar)


async def test_step_bar_shows_where_an_open_deployment_stands(ui_ctx: AppContext) -> None:
    dep_id = seed_deployment(ui_ctx, upto="deploy")
    app = ShipdeckApp(ui_ctx, poll_processes=False, connect_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        bar = await open_deploy(app, pilot)
        assert bar.states == {"backup": "ok", "build": "ok", "deploy": "running"}
        assert f"deployment #{dep_id}" in bar.headline and "1.0.0 → 1.1.0" in bar.headline
        assert app.screen.query_one("#deploy-timeline", Timeline).row_count == 8


async def test_an_interrupted_deployment_offers_resume(ui_ctx: AppContext) -> None:
    dep_id = seed_deployment(ui_ctx, upto="build", state="interrupted")
    app = ShipdeckApp(ui_ctx, poll_processes=False, connect_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        bar = await open_deploy(app, pilot)
        assert "[interrupted]" in bar.headline and "stopped during BUILD" in bar.headline
        assert ui_ctx.journal.deployment(dep_id).state == "interrupted"
        await pilot.press("2")
        await wait_for(lambda: isinstance(app.screen, ConfirmModal), pilot)
        assert f"#{dep_id}" in app.screen.title_text
        await pilot.press("escape")
        await wait_for(lambda: app.screen.id == "deploy", pilot)
        # Cancelled: nothing happened to the deployment.
        assert ui_ctx.journal.deployment(dep_id).state == "interrupted"


async def test_production_rollback_asks_to_type_the_app_name(ui_ctx: AppContext) -> None:
    seed_deployment(ui_ctx, upto="verify")
    app = ShipdeckApp(ui_ctx, poll_processes=False, connect_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_deploy(app, pilot)
        before = len(ui_ctx.journal.events())
        await pilot.press("R")
        await wait_for(lambda: isinstance(app.screen, ConfirmModal), pilot)
        modal = app.screen
        assert modal.require_text == "demo"
        confirm = modal.query_one("#confirm")
        assert confirm.disabled
        await pilot.press("d", "e", "m")
        assert confirm.disabled
        await pilot.press("escape")
        await wait_for(lambda: app.screen.id == "deploy", pilot)
        assert len(ui_ctx.journal.events()) == before


async def test_read_only_console_refuses_steps(ui_ctx: AppContext) -> None:
    app = ShipdeckApp(ui_ctx, read_only=True, poll_processes=False, connect_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        bar = await open_deploy(app, pilot)
        await pilot.press("1")
        await wait_for(lambda: "read-only" in bar.status, pilot)
        assert ui_ctx.journal.deployments("demo") == []


async def test_verify_results_panel_shows_the_latest_result_per_check(ui_ctx: AppContext) -> None:
    dep_id = seed_deployment(ui_ctx, upto="confirm")
    app = ShipdeckApp(ui_ctx, poll_processes=False, connect_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_deploy(app, pilot)
        panel = app.screen.query_one(VerifyPanel)
        assert panel.row_count == 4
        assert str(panel.get_cell("web1/Error Check", "status")) == "WARNING"
        # A re-run of VERIFY replaces the row of the same check.
        ui_ctx.journal.record(kind="check", step="verify", host="web1", deployment_id=dep_id,
                              message="Error Check: PASS",
                              data={"name": "Error Check", "status": "PASS", "detail": "0 errors"})
        await wait_for(lambda: str(panel.get_cell("web1/Error Check", "status")) == "PASS", pilot)
        assert panel.row_count == 4


def test_deploy_screen_mid_deploy_snapshot(snap_compare, ui_ctx: AppContext) -> None:
    seed_deployment(ui_ctx, upto="deploy")
    app = ShipdeckApp(ui_ctx, poll_processes=False, connect_on_start=False)
    assert snap_compare(app, terminal_size=SIZE, press=["d"])


def test_deploy_screen_after_snapshot(snap_compare, ui_ctx: AppContext) -> None:
    seed_deployment(ui_ctx, upto="confirm", state="succeeded")
    app = ShipdeckApp(ui_ctx, poll_processes=False, connect_on_start=False)
    assert snap_compare(app, terminal_size=SIZE, press=["d"])


async def test_a_failed_step_is_told_once(ui_ctx: AppContext, monkeypatch) -> None:
    """The engine's StepFailed already reads "BUILD failed: why": the bar must not say
    "BUILD failed: BUILD failed: why"."""
    from tui.core.workflow import Workflow
    from tui.core.workflow_steps import StepFailed

    seed_deployment(ui_ctx, upto="backup")

    async def failing_build(self, ref=None) -> None:
        raise StepFailed("build", "BUILD failed: app.repo is empty")

    monkeypatch.setattr(Workflow, "build", failing_build)
    app = ShipdeckApp(ui_ctx, poll_processes=False, connect_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        bar = await open_deploy(app, pilot)
        app.screen.run_step("build")
        await wait_for(lambda: "failed" in bar.status, pilot)
        assert bar.status == "BUILD failed: app.repo is empty"
