"""The logs pane and screen: batching, follow/pause with the new-lines counter, filters, search,
saving and copying; one snapshot per state at a fixed size."""

from __future__ import annotations

import re
import time
from pathlib import Path

from screens.logs import LogsScreen
from tests.helpers import wait_for
from tests.ui.conftest import T0
from tui.app import ShipdeckApp
from tui.context import AppContext
from tui.core.log_buffer import ERROR
from tui.core.log_format import LogFormat
from tui.core.logs import LogStore
from widgets.log_view import LineFormatter, LogView
from widgets.logs_pane import LogsPane

SIZE = (120, 40)
FIXTURES = Path(__file__).resolve().parents[1] / "unit" / "fixtures" / "logs"


def feed(store: LogStore, start: int, count: int, *, every_error: int = 5) -> None:
    """Request lines like the demo app's, on two hosts; every fifth is an error on stderr."""
    for i in range(start, start + count):
        host = "web1" if i % 2 == 0 else "web2"
        ts = T0 + i
        if i % every_error == every_error - 1:
            store.add_lines(host, f"demo/{i % 2}", "err",
                            [f"2025-11-26T12:00:{i % 60:02d}Z ERROR boom: failure {i}"], ts=ts)
        else:
            store.add_lines(host, f"demo/{i % 2}", "out",
                            [f"2025-11-26T12:00:{i % 60:02d}Z INFO GET /api/items/{i} 200 3.1ms"],
                            ts=ts)


async def open_logs(app: ShipdeckApp, pilot) -> LogsPane:
    await pilot.press("L")
    await wait_for(lambda: isinstance(app.screen, LogsScreen), pilot)
    return app.screen.query_one(LogsPane)


def fixed_store(app: ShipdeckApp) -> LogStore:
    store = app.ctx.log_hub().store
    store.clock = lambda: T0 + 60  # the error-rate window ends here
    return store


async def settle(pane: LogsPane, pilot) -> None:
    store = pane.store
    assert store is not None
    await wait_for(lambda: pane._seen_seq == store.buffer.last_seq, pilot)
    await pilot.pause()


# ----------------------------------------------------------------- behaviour


async def test_lines_reach_the_view_in_batches(ui_ctx: AppContext) -> None:
    app = ShipdeckApp(ui_ctx, poll_processes=False)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_logs(app, pilot)
        view = pane.view
        writes: list[int] = []
        original = view.write

        def counting(lines, **kwargs):  # type: ignore[no-untyped-def]
            writes.append(len(lines))
            return original(lines, **kwargs)

        view.write = counting  # type: ignore[method-assign]
        store = fixed_store(app)
        for i in range(50):  # 50 batches of 100 lines, arriving back to back
            store.add_lines("web1", "demo/0", "out", [f"line {i}-{j}" for j in range(100)])
        await settle(pane, pilot)
        assert sum(writes) == 5000
        assert len(writes) < 10, f"one write per batch or line is too many: {len(writes)}"
        assert view.lines[-1].endswith("line 49-99")


async def test_pause_counts_new_lines_and_resume_shows_all_in_order(ui_ctx: AppContext) -> None:
    app = ShipdeckApp(ui_ctx, poll_processes=False)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_logs(app, pilot)
        store = fixed_store(app)
        feed(store, 0, 10)
        await settle(pane, pilot)
        await pilot.press("space")
        assert pane.paused
        before = list(pane.view.lines)
        feed(store, 10, 1234)
        await settle(pane, pilot)
        assert list(pane.view.lines) == before  # nothing moves while paused
        assert pane.new_while_paused == 1234
        assert "+1,234 new" in pane.status_text().plain
        await pilot.press("space")
        await settle(pane, pilot)
        numbers = [int(line.rsplit(" ", 3 if "INFO" in line else 1)[1 if "INFO" in line else -1]
                       .rsplit("/", 1)[-1]) for line in pane.view.lines]
        assert numbers == list(range(1244))
        assert not pane.paused and pane.new_while_paused == 0


async def test_level_host_and_regex_filters(ui_ctx: AppContext) -> None:
    app = ShipdeckApp(ui_ctx, poll_processes=False)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_logs(app, pilot)
        store = fixed_store(app)
        feed(store, 0, 100)
        await settle(pane, pilot)
        await pilot.press("l", "l")  # all -> warnings+ -> errors only
        assert pane.filter.min_level == ERROR
        assert len(pane.view.lines) == 20 and all(" ERROR " in ln for ln in pane.view.lines)
        await pilot.press("h", "h")  # all -> local (configured) -> web1
        assert pane.filter.hosts == {"web1"}
        assert all(" web1 " in ln for ln in pane.view.lines)
        await pilot.press("x")
        await pilot.press("f")
        await pilot.press(*"items/1\\d", "space", "!", *"/1[05]", "enter")
        await pilot.pause()
        shown = [ln.rsplit(" ", 3)[1] for ln in pane.view.lines]
        assert shown == [f"/api/items/{i}" for i in range(10, 20) if i not in (10, 15)
                         and i % 5 != 4]
        # A bad regex is one readable line and leaves the filter as it was.
        await pilot.press("f", "ctrl+u", "(", "enter")
        await pilot.pause()
        assert "bad regex" in pane.error and pane.filter.query == "items/1\\d !/1[05]"


async def test_search_jumps_and_highlights(ui_ctx: AppContext) -> None:
    app = ShipdeckApp(ui_ctx, poll_processes=False)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_logs(app, pilot)
        store = fixed_store(app)
        feed(store, 0, 200)
        await settle(pane, pilot)
        await pilot.press("slash", *"failure 1\\d4", "enter")
        await pilot.pause()
        view: LogView = pane.view
        hits = [y for y, ln in enumerate(view.lines) if re.search(r"failure 1\d4", ln)]
        assert len(hits) == 10
        assert view.current_hit == hits[-1] and pane.paused
        await pilot.press("N")
        assert view.current_hit == hits[-2]
        await pilot.press("n", "n")
        assert view.current_hit == hits[0]  # wraps around
        assert "failure 104" in pane.current_line()


async def test_save_view_and_copy_line(ui_ctx: AppContext, tmp_path: Path) -> None:
    app = ShipdeckApp(ui_ctx, poll_processes=False)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_logs(app, pilot)
        screen = app.screen
        assert isinstance(screen, LogsScreen)
        screen.save_dir = tmp_path
        store = fixed_store(app)
        feed(store, 0, 50)
        await settle(pane, pilot)
        await pilot.press("l", "l", "s")
        saved = list(tmp_path.glob("shipdeck-logs-demo-*.log"))
        assert len(saved) == 1
        lines = saved[0].read_text().splitlines()
        assert len(lines) == 10 and all(" ERROR " in ln for ln in lines)
        assert lines[0].startswith("2025-11-26 12:00:04 ERROR web1 demo/0 err │")
        await pilot.press("c")
        assert app.clipboard == pane.view.lines[-1]


async def test_dropped_lines_are_counted_not_hidden(ui_ctx: AppContext) -> None:
    app = ShipdeckApp(ui_ctx, poll_processes=False)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.screen.query_one(LogsPane)
        store = LogStore(100, clock=lambda: T0)
        pane.store.remove_listener(pane._on_store_change)  # type: ignore[union-attr]
        pane.store = store
        store.add_listener(pane._on_store_change)
        await pilot.press("tab")
        pane.pause()
        store.add_lines("web1", "demo/0", "out", [f"l{i}" for i in range(250)])
        await settle(pane, pilot)
        assert "150 dropped" in pane.status_text().plain
        pane.resume()
        assert "were dropped from the buffer while paused" in pane.view.lines[0]
        assert pane.view.lines[-1].endswith("l249")


async def test_dashboard_pane_paints_lines_that_fit_without_scrolling(
    ui_ctx: AppContext,
) -> None:
    # The demo's first lines (a few pm2 log lines) fit in the dashboard's pane: following them
    # scrolls nothing, so nothing repainted the view and the pane stayed blank while its
    # status line said "following 3 lines" (the full logs screen, mounted later, showed them).
    app = ShipdeckApp(ui_ctx, poll_processes=False, connect_on_start=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: bool(app.screen.query(LogsPane)), pilot)
        pane = app.screen.query_one(LogsPane)
        await pilot.pause(0.2)  # painted once, empty
        store = fixed_store(app)
        store.add_lines("local", "demo/0", "out", [f"GET /health {i}" for i in range(3)])
        await settle(pane, pilot)
        assert "following  3 lines" in pane.status_text().plain
        await pilot.pause(0.1)
        # What the terminal shows (the compositor's strips, widgets' cached lines included).
        screen = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
        for i in range(3):
            assert f"local demo/0 out │ GET /health {i}" in screen


# ----------------------------------------------------------------- snapshots


def _snapshot(snap_compare, ui_ctx: AppContext, keys: tuple[str, ...], more: int = 0) -> bool:
    app = ShipdeckApp(ui_ctx, poll_processes=False, connect_on_start=False)

    async def run_before(pilot) -> None:
        pane = await open_logs(app, pilot)
        store = fixed_store(app)
        feed(store, 0, 60)
        await settle(pane, pilot)
        await pilot.press(*keys)
        if more:
            feed(store, 60, more)
        await settle(pane, pilot)

    return snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_snapshot_following(snap_compare, ui_ctx: AppContext) -> None:
    assert _snapshot(snap_compare, ui_ctx, ())


def test_snapshot_paused_with_new_lines(snap_compare, ui_ctx: AppContext) -> None:
    assert _snapshot(snap_compare, ui_ctx, ("space",), more=1234)


def test_snapshot_errors_only(snap_compare, ui_ctx: AppContext) -> None:
    assert _snapshot(snap_compare, ui_ctx, ("l", "l"))


def test_snapshot_search_highlight(snap_compare, ui_ctx: AppContext) -> None:
    assert _snapshot(snap_compare, ui_ctx, ("slash", *"items/4", "enter"))


async def test_escape_closes_the_prompt_then_leaves_the_screen(ui_ctx: AppContext) -> None:
    app = ShipdeckApp(ui_ctx, poll_processes=False)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_logs(app, pilot)
        await pilot.press("slash", "a")
        assert pane._prompt_mode == "search"
        await pilot.press("escape")
        assert pane._prompt_mode == "" and isinstance(app.screen, LogsScreen)
        assert pane.search_text == ""
        await pilot.press("escape")
        await wait_for(lambda: not isinstance(app.screen, LogsScreen), pilot)


async def test_secrets_are_masked_on_screen_in_copies_and_saves(
    ui_ctx: AppContext, tmp_path: Path
) -> None:
    app = ShipdeckApp(ui_ctx, poll_processes=False)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_logs(app, pilot)
        app.screen.save_dir = tmp_path  # type: ignore[attr-defined]
        store = fixed_store(app)
        store.add_lines("web1", "demo/0", "out", ["connecting with password=hunter2 to db"], ts=T0)
        await settle(pane, pilot)
        assert "hunter2" not in pane.view.lines[-1] and "***" in pane.view.lines[-1]
        await pilot.press("c", "s")
        assert "hunter2" not in (app.clipboard or "")
        saved = next(tmp_path.glob("shipdeck-logs-*.log")).read_text()
        assert "hunter2" not in saved and "connecting with" in saved


async def test_dashboard_starts_following_and_says_why_nothing_comes(ui_ctx: AppContext) -> None:
    # The fixture's host has no pm2: the follower's problem is a state in the status line,
    # not an exception and not a fake gap line.
    app = ShipdeckApp(ui_ctx)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.screen.query_one(LogsPane)
        hub = app.ctx.log_hub()
        await wait_for(lambda: hub.followers["local"].state == "interrupted", pilot)
        assert hub.running
        await wait_for(lambda: "local: pm2 not installed" in pane.status_text().plain, pilot)
        assert pane.view.line_count == 0


async def test_prompt_is_mounted_when_first_needed(ui_ctx: AppContext) -> None:
    # The prompt is mounted after the first frame; a "/" before that mounts it on the spot and
    # the keys typed right after it still land in it.
    app = ShipdeckApp(ui_ctx, poll_processes=False)
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_logs(app, pilot)
        await pane.query("#log-input").remove()
        assert not pane.query("#log-input")
        await pilot.press("slash", *"boom", "enter")
        await wait_for(lambda: pane.search_text == "boom", pilot)
        assert pane._prompt_mode == "" and len(pane.query("#log-input")) == 1


def test_a_line_shows_the_apps_own_time_when_it_starts_with_one() -> None:
    # The backlog shown at start arrives at once, long after it was written: its arrival time
    # would be a lie. tests/ui runs with TZ=UTC.
    fmt = LineFormatter()
    arrived = T0 + 3600.0

    def shown(text: str) -> str:
        return fmt((1, arrived, "web1", "api/0", "out", 1, text)).split(" ", 1)[0]

    assert shown("2026-11-26T18:31:24.880Z INFO GET /health") == "18:31:24"
    assert shown("2026-11-26 18:31:24+02:00 worker started") == "16:31:24"
    assert shown("2026-11-26T18:31:24: pm2's own time prefix") == "18:31:24"
    assert shown("2026-11-26T18:31:24 no zone: the host's local time") == "18:31:24"
    assert shown("plain line") == fmt.hms(arrived)
    assert shown("2026-11-26T25:99:99Z not a time") == fmt.hms(arrived)


def test_a_json_line_shows_its_time_level_and_message_with_the_rest_folded() -> None:
    fmt = LineFormatter()
    pino = (FIXTURES / "pino.jsonl").read_text().splitlines()[2]  # a real pino error line
    line = (1, T0, "web1", "orders/0", "out", ERROR, pino)
    shown = fmt(line)
    when = time.strftime("%H:%M:%S", time.gmtime(1796648512.511))
    assert shown.startswith(f"{when} ERROR web1 orders/0 out │ request errored  ")
    assert '"level"' not in shown and "msg=" not in shown
    assert "pid=30794" in shown and 'err={"type":"Error"' in shown
    # With format = "text" the line is shown as written.
    plain = LineFormatter(log_format=LogFormat("text"))
    assert plain(line).endswith(pino)
