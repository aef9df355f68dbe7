"""Emergency triage: sections, keys, and the incident steps in order."""

from __future__ import annotations

from screens.emergency import EmergencyScreen
from tests.helpers import wait_for
from tests.ui.monitor_fixtures import NOW, SNAPSHOT, fixed_service
from tui.app import ShipdeckApp
from tui.context import AppContext
from widgets.confirm_modal import ConfirmModal

SIZE = (120, 40)


async def open_emergency(app: ShipdeckApp, pilot) -> EmergencyScreen:
    screen = EmergencyScreen(fixed_service(app.ctx), "local", live=False, clock=lambda: NOW)
    await app.push_screen(screen)
    screen.show_snapshot(SNAPSHOT)
    await pilot.pause()
    return screen


def incident_steps(ctx: AppContext) -> list[str]:
    return [e.message for e in ctx.journal.events() if e.step == "incident" and e.kind == "note"]


async def test_steps_are_recorded_in_order(ui_ctx: AppContext) -> None:
    app = ShipdeckApp(ui_ctx, connect_on_start=False, poll_processes=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_emergency(app, pilot)
        await pilot.press("n")  # notify the team
        await pilot.press("r")  # restart the app: production, so it asks
        await wait_for(lambda: isinstance(app.screen, ConfirmModal), pilot)
        await pilot.press("escape")
        await wait_for(lambda: app.screen is screen and len(screen.incident.steps) == 3, pilot)
        await pilot.press("escape")
    steps = incident_steps(ui_ctx)
    assert steps == [
        "incident: opened emergency triage",
        "notify team: 🚨 emergency on local: demo (production)",
        "incident: notified the team",
        "incident: restart the app: cancelled",
        "incident: left emergency triage",
    ]
    assert [e for e in ui_ctx.journal.events() if e.kind == "action"] == []


async def test_read_only_disables_rescues(ui_ctx: AppContext) -> None:
    app = ShipdeckApp(ui_ctx, read_only=True, connect_on_start=False, poll_processes=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_emergency(app, pilot)
        for key in ("r", "b", "1", "plus", "n"):
            await pilot.press(key)
        await pilot.pause(0.2)
        assert app.screen is screen
        assert screen.check_action("rollback", ()) is None
        assert len(screen.incident.steps) == 1


def test_emergency_snapshot(snap_compare, ui_ctx: AppContext) -> None:
    app = ShipdeckApp(ui_ctx, connect_on_start=False, poll_processes=False)

    async def run_before(pilot) -> None:
        await open_emergency(app, pilot)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


async def test_status_line_says_what_shipdeck_status_says(ui_ctx: AppContext) -> None:
    """The same facts from tui.core.status as `shipdeck status`: one source, two views."""
    from textual.widgets import Static

    from tui.core.status import gather_status, status_lines

    app = ShipdeckApp(ui_ctx, connect_on_start=False, poll_processes=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_emergency(app, pilot)
        box = screen.query_one("#em-status", Static)
        assert not box.display  # nothing is claimed before the host answered
        screen.load_status()
        await wait_for(lambda: box.display, pilot, what="the status line")
        expected = status_lines((await gather_status(
            ui_ctx.config, ui_ctx.journal, ui_ctx.pool, host="local")).to_json())
        assert str(box.render()) == " · ".join(expected)
        assert expected[0].startswith(("live: version", "status unknown:"))
