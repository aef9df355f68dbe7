"""Monitor screen, process detail, read-only mode: Pilot behaviour and SVG snapshots."""

from __future__ import annotations

from textual.screen import Screen

from screens.monitor import MonitorScreen
from tests.helpers import wait_for
from tests.ui.monitor_fixtures import NOW, fixed_service
from tui.app import ShipdeckApp
from tui.context import AppContext
from widgets.confirm_modal import ConfirmModal
from widgets.host_chart import HistoryChart
from widgets.process_detail import ProcessDetailModal
from widgets.process_table import ProcessTable

SIZE = (120, 40)


def quiet_app(ctx: AppContext, read_only: bool = False) -> ShipdeckApp:
    return ShipdeckApp(ctx, read_only=read_only, connect_on_start=False, poll_processes=False)


async def open_monitor(app: ShipdeckApp, pilot) -> MonitorScreen:
    screen = MonitorScreen(fixed_service(app.ctx), clock=lambda: NOW)
    await app.push_screen(screen)
    await pilot.pause()
    return screen


async def test_table_shows_processes_with_live_samples_and_sorts(ui_ctx: AppContext) -> None:
    app = quiet_app(ui_ctx)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_monitor(app, pilot)
        table = screen.query_one(ProcessTable)
        assert table.row_count == 3
        # CPU/memory come from the /proc samples, not pm2's monit figures.
        assert str(table.get_cell("local/0", "cpu")) == "12%"
        assert str(table.get_cell("local/0", "mem")) == "58MB"
        assert str(table.get_cell("local/2", "status")) == "stopped"
        assert str(table.get_cell("local/0", "uptime")) == "1h"
        await pilot.press("o")  # host
        await pilot.press("o")  # name
        await pilot.press("o")  # id
        await pilot.press("o")  # pid
        assert table.sort_column == "pid"
        first = table.get_row_at(0)
        pid = [label for label, _ in table.COLUMNS].index("pid")
        assert str(first[pid]) == "-"  # the stopped one (pid 0) sorts first
        table.sort_by("cpu")  # busiest first
        assert str(table.get_row_at(0)[2]) == "0"


async def test_charts_replot_only_when_visible(ui_ctx: AppContext) -> None:
    app = quiet_app(ui_ctx)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_monitor(app, pilot)
        chart = screen.query_one("#chart-cpu", HistoryChart)
        await wait_for(lambda: chart.replots >= 1, pilot)
        await pilot.pause(0.2)
        history = screen.service.views["local"].history
        before = chart.replots
        # Covered by another (opaque) screen: new data marks it stale but does not replot.
        await app.push_screen(Screen())
        await pilot.pause()
        chart._last_replot = float("-inf")
        chart.show_history(history)
        assert chart.replots == before and chart.stale
        app.pop_screen()
        await wait_for(lambda: chart.replots == before + 1 and not chart.stale, pilot)
        # Within one dot column's time, a new sample does not rebuild the picture either.
        chart.show_history(history)
        await pilot.pause()
        replots = chart.replots
        chart.show_history(history)
        assert chart.replots == replots
        assert chart.min_interval() > 1.0


async def test_detail_shows_env_names_never_values(ui_ctx: AppContext) -> None:
    app = quiet_app(ui_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await open_monitor(app, pilot)
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, ProcessDetailModal)
        rows = dict(detail.rows)
        assert rows["env (3 names)"] == "DB_PASSWORD, NODE_ENV, PORT"
        assert rows["error log"].endswith("demo-error-0.log")
        assert rows["unstable restarts"] == "0" and rows["restarts"] == "2"


async def test_stop_in_production_asks_to_type_the_app_name(ui_ctx: AppContext) -> None:
    app = quiet_app(ui_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await open_monitor(app, pilot)
        await pilot.press("s")
        await wait_for(lambda: isinstance(app.screen, ConfirmModal), pilot)
        modal = app.screen
        assert modal.require_text == "demo"
        assert modal.query_one("#confirm").disabled
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, MonitorScreen), pilot)
        assert [e for e in ui_ctx.journal.events() if e.kind == "action"] == []
        # Typing the name enables it; the action runs (pm2 is missing here: it fails, journaled).
        await pilot.press("s")
        await wait_for(lambda: isinstance(app.screen, ConfirmModal), pilot)
        await pilot.press("d", "e", "m", "o")
        assert not app.screen.query_one("#confirm").disabled
        await pilot.press("enter")
        await wait_for(
            lambda: any(e.kind == "action" for e in ui_ctx.journal.events()), pilot
        )
        action = next(e for e in ui_ctx.journal.events() if e.kind == "action")
        assert action.data["action"] == "stop" and action.data["outcome"] == "failed"
        assert action.argv[-2:] == ("stop", "0")


async def test_read_only_disables_every_action(ui_ctx: AppContext) -> None:
    app = quiet_app(ui_ctx, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_monitor(app, pilot)
        for key in ("r", "l", "s", "S", "x", "plus", "minus", "w"):
            await pilot.press(key)
        await pilot.pause(0.2)
        assert app.screen is screen
        assert [e for e in ui_ctx.journal.events() if e.kind == "action"] == []
        assert screen.check_action("restart", ()) is None  # shown, disabled
        assert screen.check_action("detail", ()) is True


def test_monitor_snapshot(snap_compare, ui_ctx: AppContext) -> None:
    app = quiet_app(ui_ctx)

    async def run_before(pilot) -> None:
        await open_monitor(app, pilot)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_monitor_read_only_snapshot(snap_compare, ui_ctx: AppContext) -> None:
    app = quiet_app(ui_ctx, read_only=True)

    async def run_before(pilot) -> None:
        await open_monitor(app, pilot)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_process_detail_snapshot(snap_compare, ui_ctx: AppContext) -> None:
    app = quiet_app(ui_ctx)

    async def run_before(pilot) -> None:
        await open_monitor(app, pilot)
        await pilot.press("enter")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


async def test_actions_are_remappable_by_binding_id(ui_ctx: AppContext) -> None:
    app = quiet_app(ui_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await open_monitor(app, pilot)
        app.set_keymap({"monitor.stop": "k"})  # what [keymap] in the config does at start
        await pilot.press("k")
        await wait_for(lambda: isinstance(app.screen, ConfirmModal), pilot)
        await pilot.press("escape")
        screen = app.screen
        bindings = [b for b in MonitorScreen.BINDINGS if not isinstance(b, tuple)]
        assert all(b.id and b.description and b.tooltip for b in bindings)
        assert isinstance(screen, MonitorScreen)


async def test_command_palette_runs_the_same_actions(ui_ctx: AppContext) -> None:
    app = quiet_app(ui_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await open_monitor(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"stop the selected")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, ConfirmModal), pilot)
        assert app.screen.require_text == "demo"


async def test_read_only_palette_offers_no_actions(ui_ctx: AppContext) -> None:
    from widgets.screen_commands import BindingsProvider

    app = quiet_app(ui_ctx, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_monitor(app, pilot)
        provider = BindingsProvider(screen)
        titles = [title for _, title, _ in provider._entries()]
        assert "Describe" in titles and "Sort" in titles
        assert not {"Restart", "Stop", "Delete", "Scale +1", "pm2 save"} & set(titles)
