"""The watch panel: countdown, status, charts, alarm banner and its one-key rollback.

The watch is a real ``tui.core.watch.Watch`` over a scripted Verifier with a fixed clock, driven
round by round (``start()`` + ``sample_once()``), so the pictures are stable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from tests.helpers import wait_for
from tests.unit.test_watch import BASE, Clock, ScriptedVerifier, results
from tui.context import AppContext
from tui.core.watch import CLEAN, Watch
from widgets.watch_charts import MAX_POINTS, ErrorRateChart, LatencyChart
from widgets.watch_panel import WatchPanel, mmss

SIZE = (120, 40)


class WatchHost(App[None]):
    """A bare screen holding the panel, as the deploy screen will."""

    def __init__(self, watch: Watch) -> None:
        super().__init__()
        self.watch = watch
        self.requests: list[WatchPanel.RollbackRequested] = []

    def compose(self) -> ComposeResult:
        panel = WatchPanel(self.watch, id="watch")
        self.watch.on_sample = panel.sample_callback
        self.watch.on_alarm = panel.alarm_callback
        yield panel
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(WatchPanel).focus()

    def on_watch_panel_rollback_requested(self, message: WatchPanel.RollbackRequested) -> None:
        self.requests.append(message)


def make_watch(
    ui_ctx: AppContext,
    script: Callable[[int], list[Any]],
    rates: list[float] | None = None,
    rollback: Any = None,
) -> tuple[Watch, Clock]:
    clock = Clock()
    verifier = ScriptedVerifier(ui_ctx.config, script)
    feed = iter(rates or [])
    watch = Watch(
        ui_ctx.config, verifier, ui_ctx.journal, deployment_id=None, baseline=BASE, clock=clock,
        sleep=clock.sleep, error_rate_source=lambda: next(feed, 0.0), rollback=rollback,
    )  # fmt: skip
    return watch, clock


async def drive(watch: Watch, clock: Clock, rounds: int, pilot: Any) -> None:
    if watch.state == "pending":
        watch.start()
    for _ in range(rounds):
        await watch.sample_once()
        clock.now += watch.interval_s
    await pilot.pause()
    watch.clock = lambda: clock.now - watch.interval_s  # the time of the last round, frozen
    pilot.app.query_one(WatchPanel).refresh_status()
    await pilot.pause()


def latency_script(n: int) -> list[Any]:
    return results(latency=4.0 + (n * 7 % 5) + (3.0 if n % 9 == 0 else 0.0))


RATES = [0.0, 0.0, 1.0, 1.0, 2.0, 1.0, 0.0, 0.0, 1.0, 3.0, 2.0, 1.0] * 3


async def test_countdown_status_and_charts_follow_the_samples(ui_ctx: AppContext) -> None:
    watch, clock = make_watch(ui_ctx, latency_script, RATES)
    app = WatchHost(watch)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(WatchPanel)
        assert "waiting to start" in panel.status_text()
        await drive(watch, clock, 6, pilot)
        text = panel.status_text()
        assert text.startswith("WATCH 14:10 left · sample 6/91 · healthy") and "locked" in text
        latency = panel.query_one(LatencyChart)
        errors = panel.query_one(ErrorRateChart)
        # At most one replot per sample (plus the first layout's).
        assert latency.replots <= 7 and errors.replots <= 7 and len(latency.points) == 6
        assert errors.threshold == 5.0
        assert not app.screen.query_one("#watch-banner").display


async def test_charts_do_not_replot_while_hidden_and_stay_bounded(ui_ctx: AppContext) -> None:
    watch, clock = make_watch(ui_ctx, latency_script, RATES)
    app = WatchHost(watch)
    async with app.run_test(size=SIZE) as pilot:
        await drive(watch, clock, 2, pilot)
        chart = app.query_one(LatencyChart)
        before = chart.replots
        await app.push_screen(Screen())
        await pilot.pause()
        await drive(watch, clock, 3, pilot)
        assert chart.replots == before and chart.stale and len(chart.points) == 5
        app.pop_screen()
        await wait_for(lambda: not chart.stale, pilot)  # the panel's tick, within a second
        assert chart.replots == before + 1
        for _ in range(MAX_POINTS + 10):
            chart.points.append((0.0, 1.0, 1.0))
        assert len(chart.points) == MAX_POINTS


async def test_clean_completion_unlocks_confirm(ui_ctx: AppContext) -> None:
    watch, _clock = make_watch(ui_ctx, latency_script)
    watch.duration_s = 30
    app = WatchHost(watch)
    async with app.run_test(size=SIZE) as pilot:
        result = await watch.run()
        await pilot.pause()
        panel = app.query_one(WatchPanel)
        panel.refresh_status()
        assert result.state == CLEAN
        assert panel.status_text() == "WATCH complete · 4 samples, no alarm · CONFIRM unlocked"
        assert app.query_one("#watch-status").has_class("-clean")


async def test_alarm_banner_and_one_key_rollback(ui_ctx: AppContext) -> None:
    rolled: list[str] = []

    async def rollback(reason: str) -> None:
        rolled.append(reason)

    watch, clock = make_watch(ui_ctx, lambda n: results(healthy=n < 4), rollback=rollback)
    app = WatchHost(watch)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(WatchPanel)
        await pilot.press("R")  # not started yet: nothing to roll back from
        await pilot.pause()
        assert app.requests == []
        await drive(watch, clock, 5, pilot)
        assert panel.has_class("-alarmed")
        assert "Press R to roll back" in panel.banner_text()
        await pilot.press("R")
        await pilot.pause()
        (request,) = app.requests
        assert request.watch is watch and request.reason.startswith("watch: unhealthy 2 times")
        # The screen confirms, then rolls back through the watch.
        await watch.roll_back(request.reason)
        panel.refresh_status()
        await pilot.pause()
        assert rolled == [request.reason] and panel.banner_text().endswith("Rolled back.")
        assert "rolled back" in panel.status_text()


def test_mmss() -> None:
    assert (mmss(900), mmss(59.2), mmss(0.0), mmss(-3)) == ("15:00", "01:00", "00:00", "00:00")


def test_snapshot_countdown_with_charts(snap_compare, ui_ctx: AppContext) -> None:
    watch, clock = make_watch(ui_ctx, latency_script, RATES)
    app = WatchHost(watch)

    async def settle(pilot) -> None:
        await drive(watch, clock, 30, pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_snapshot_alarm_banner(snap_compare, ui_ctx: AppContext) -> None:
    async def rollback(reason: str) -> None:
        await asyncio.sleep(0)

    watch, clock = make_watch(
        ui_ctx, lambda n: results(healthy=n < 12, latency=5.0 + n % 3), RATES, rollback=rollback
    )
    app = WatchHost(watch)

    async def settle(pilot) -> None:
        await drive(watch, clock, 14, pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


async def test_a_panel_opened_mid_watch_draws_what_was_sampled(ui_ctx: AppContext) -> None:
    watch, clock = make_watch(ui_ctx, latency_script, RATES)
    watch.start()
    for _ in range(4):
        await watch.sample_once()
        clock.now += watch.interval_s
    app = WatchHost(watch)
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one(ErrorRateChart)
        await wait_for(lambda: chart.replots >= 1 and not chart.stale, pilot)
        assert len(chart.points) == 4
        assert "sample 4/91" in app.query_one(WatchPanel).status_text()
