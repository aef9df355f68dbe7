"""The dashboard: host bar, the four panes, the timeline as a live view of the journal."""

from __future__ import annotations

import asyncio

from tests.helpers import wait_for
from tui.app import ShipdeckApp
from tui.context import AppContext
from widgets.checklist_pane import ChecklistPane
from widgets.host_bar import HostBar
from widgets.process_table import ProcessTable
from widgets.timeline import Timeline

SIZE = (120, 40)


def seed_events(ctx: AppContext) -> None:
    dep = ctx.journal.start_deployment("demo", "v1.1.0")
    ctx.journal.record(kind="step.start", step="backup", host="web1", message="BACKUP",
                       deployment_id=dep.id)
    ctx.journal.record(kind="command", step="backup", host="web1", message="git log -1 --oneline",
                       argv=("git", "log", "-1", "--oneline"), exit_status=0, duration=0.12,
                       output_tail="3f2ba2a v1.0.0", deployment_id=dep.id)
    ctx.journal.record(kind="step.ok", step="backup", host="web1", message="BACKUP done",
                       duration=1.4, deployment_id=dep.id)
    ctx.journal.record(kind="command", step="build", host="web1", message="npm run build",
                       argv=("npm", "run", "build"), exit_status=1, duration=3.2,
                       deployment_id=dep.id)


async def test_dashboard_shows_panes_and_journal_backlog(ui_ctx: AppContext) -> None:
    seed_events(ui_ctx)
    app = ShipdeckApp(ui_ctx)
    async with app.run_test(size=SIZE) as pilot:
        timeline = app.screen.query_one(Timeline)
        assert timeline.row_count == 4
        assert len(app.screen.query_one(ChecklistPane).root.children) == 5
        # The host bar shows the local host as connected once the pool has connected it.
        bar = app.screen.query_one(HostBar)
        await wait_for(lambda: any(s.state == "connected" for s in bar.states), pilot)
        # pm2 is missing on this host: the table says so instead of showing nothing.
        table = app.screen.query_one(ProcessTable)
        await wait_for(lambda: "local!note" in table.rows, pilot)
        note = str(table.get_cell("local!note", "name"))
        assert "pm2" in note


async def test_timeline_follows_new_journal_events(ui_ctx: AppContext) -> None:
    app = ShipdeckApp(ui_ctx, poll_processes=False)
    async with app.run_test(size=SIZE) as pilot:
        timeline = app.screen.query_one(Timeline)
        assert timeline.row_count == 0
        ui_ctx.journal.record(kind="alarm", host="web1", message="health failed twice")
        await wait_for(lambda: timeline.row_count == 1, pilot)
        row = timeline.get_row_at(0)
        assert "health failed twice" in str(row[4])
        # Recorded from another thread (as a worker thread would): still arrives.
        await asyncio.to_thread(ui_ctx.journal.record, kind="note", message="from a thread")
        await wait_for(lambda: timeline.row_count == 2, pilot)
        assert timeline.cursor_row == 1


async def test_quit_key_exits(ui_ctx: AppContext) -> None:
    app = ShipdeckApp(ui_ctx, poll_processes=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await wait_for(lambda: app.return_code is not None, pilot)
    assert app.return_code == 0


def test_dashboard_snapshot(snap_compare, ui_ctx: AppContext) -> None:
    seed_events(ui_ctx)
    app = ShipdeckApp(ui_ctx)

    async def settle(pilot) -> None:
        # The dashboard is the app's first screen: the pilot may start before its panes mount.
        await wait_for(lambda: bool(app.screen.query(ProcessTable)), pilot)
        table = app.screen.query_one(ProcessTable)
        await wait_for(lambda: "local!note" in table.rows, pilot)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=settle)



def footer_text(app: ShipdeckApp) -> str:
    from textual.widgets import Footer

    return " ".join(str(key.render()) for key in app.screen.query_one(Footer).children)


async def test_footer_shows_the_main_keys_and_question_mark_lists_every_key(
    ui_ctx: AppContext,
) -> None:
    from textual.widgets import HelpPanel
    from textual.widgets._key_panel import BindingsTable

    app = ShipdeckApp(ui_ctx, poll_processes=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: "1-5 Steps" in footer_text(app), pilot)
        footer = footer_text(app)
        for shown in ("d Deploy", "m Monitor", "L Logs", "! Emergency", "c Run checks", "? Keys"):
            assert shown in footer
        for hidden in ("Rollback", "Override", "Run item", "2 Build"):
            assert hidden not in footer
        await pilot.press("question_mark")
        await wait_for(lambda: bool(app.screen.query(HelpPanel)), pilot)
        await wait_for(lambda: bool(app.screen.query(BindingsTable)), pilot)
        table = app.screen.query_one(BindingsTable).render_bindings_table()
        keys = [str(cell) for cell in table.columns[0].cells]
        descriptions = " ".join(str(cell) for cell in table.columns[1].cells)
        for key in ("R", "2", "5", "x", "o", "⏎"):
            assert key in keys, key
        for text in ("Rollback", "Build", "Confirm", "Run item", "Override", "Output"):
            assert text in descriptions, text
        await pilot.press("question_mark")
        await wait_for(lambda: not app.screen.query(HelpPanel), pilot)


async def test_hidden_step_keys_still_work_from_the_dashboard(ui_ctx: AppContext) -> None:
    app = ShipdeckApp(ui_ctx, poll_processes=False)
    opened: list[str | None] = []
    app.show_deploy = lambda step=None, rollback=False: opened.append(  # type: ignore[method-assign]
        "rollback" if rollback else step
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("1", "3", "5", "R")
        await wait_for(lambda: len(opened) == 4, pilot)
    assert opened == ["backup", "deploy", "confirm", "rollback"]


async def test_steps_entry_follows_the_keymap(ui_ctx: AppContext) -> None:
    from dataclasses import replace

    from tui.core.config_models import FrozenMap

    config = replace(ui_ctx.config, keymap=FrozenMap({"workflow.backup": "b"}))
    ctx = replace(ui_ctx, config=config)
    app = ShipdeckApp(ctx, poll_processes=False)
    opened: list[str | None] = []
    app.show_deploy = lambda step=None, rollback=False: opened.append(step)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: "b 2 3 4 5 Steps" in footer_text(app), pilot)
        await pilot.press("b", "2")
        await wait_for(lambda: len(opened) == 2, pilot)
    assert opened == ["backup", "build"]


async def test_footer_recomposes_only_when_its_keys_change(ui_ctx: AppContext) -> None:
    from widgets.key_footer import KeyFooter

    app = ShipdeckApp(ui_ctx, poll_processes=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: "1-5 Steps" in footer_text(app), pilot)
        footer = app.screen.query_one(KeyFooter)
        keys = list(footer.children)
        app.screen.refresh_bindings()  # what a focus change does, twice over
        app.screen.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        assert list(footer.children) == keys  # the same widgets: not rebuilt
        app.screen.query_one(ProcessTable).focus()  # other keys: rebuilt
        await wait_for(lambda: "Sign off" not in footer_text(app), pilot)
        assert "d Deploy" in footer_text(app)


async def test_enter_on_a_checklist_item_opens_its_detail(ui_ctx: AppContext) -> None:
    # The pane asks, the app opens the screen (a widget never imports a screen).
    from screens.checklist_detail import ChecklistDetailScreen

    app = ShipdeckApp(ui_ctx, poll_processes=False, connect_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.screen.query_one(ChecklistPane)
        pane.focus()
        pane.cursor_line = 1  # the first item of the first section
        item = pane.cursor_node.data if pane.cursor_node else None
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, ChecklistDetailScreen), pilot)
        assert app.screen.item.id == item  # type: ignore[attr-defined]
        await pilot.press("escape")
        await wait_for(lambda: app.screen is app.dashboard, pilot)


def hint_text(app: ShipdeckApp) -> str | None:
    from textual.widgets import Static

    found = app.screen.query("#first-run-hint")
    return str(found.only_one(Static).render()) if found else None


async def test_first_run_hint_says_what_to_press_until_the_first_deployment(
    ui_ctx: AppContext,
) -> None:
    app = ShipdeckApp(ui_ctx, poll_processes=False, connect_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: hint_text(app) is not None, pilot)
        assert hint_text(app) == (
            "First deploy: press d, then 1-5 (BACKUP, BUILD, DEPLOY, VERIFY, CONFIRM) to deploy "
            "main  ·  ? lists every key"
        )
        dep = ui_ctx.journal.start_deployment("demo", "main")
        ui_ctx.journal.record(kind="deploy.start", message="deploy of main started",
                              deployment_id=dep.id)  # fmt: skip
        await wait_for(lambda: hint_text(app) is None, pilot)


async def test_first_run_hint_stays_in_the_demo_and_follows_the_keymap(
    ui_ctx: AppContext,
) -> None:
    from dataclasses import replace

    from tui.core.config_models import FrozenMap

    ui_ctx.journal.start_deployment("demo", "v1.1.0")  # the demo shows it after deployments too
    app_cfg = replace(ui_ctx.config.app, environment="demo", ref="v1.1.0")
    config = replace(ui_ctx.config, app=app_cfg, keymap=FrozenMap({"deploy.open": "D"}))
    app = ShipdeckApp(replace(ui_ctx, config=config), poll_processes=False,
                      connect_on_start=False)  # fmt: skip
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: hint_text(app) is not None, pilot)
        assert hint_text(app) == (
            "First deploy: press D, then 1-5 (BACKUP, BUILD, DEPLOY, VERIFY, CONFIRM) to deploy "
            "v1.1.0  ·  ? lists every key"
        )
        # Fits one line of a 120-column terminal, above the panes.
        hint = app.screen.query_one("#first-run-hint")
        assert hint.region.height == 1 and hint.region.y == 1
