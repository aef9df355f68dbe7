"""The post-deploy watch in the console: countdown, status, the two charts, the alarm banner.

The panel is a view of a ``tui.core.watch.Watch`` that the deploy screen runs in a worker:

    panel = WatchPanel(watch)                   # before watch.run() starts
    watch.on_sample = panel.sample_callback     # or pass them to Watch(...)
    watch.on_alarm = panel.alarm_callback
    self.run_worker(watch.run(), group="watch", exclusive=True, exit_on_error=False)

The callbacks only post messages (the watch never touches widgets); the countdown and status
come from the watch itself once a second. ``R`` posts ``WatchPanel.RollbackRequested``: the
screen asks THE confirm modal (convention 6), then calls ``watch.roll_back(reason)``.
"""

from __future__ import annotations

import math
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from tui.core.watch import ALARMED, CANCELLED, CLEAN, PENDING, RUNNING, Watch
from tui.core.watch_rules import Alarm, WatchSample
from widgets.visibility import seen_by_user
from widgets.watch_charts import ErrorRateChart, LatencyChart


def mmss(seconds: float) -> str:
    # Rounded up: "00:01" until the last second is really over.
    whole = max(0, math.ceil(seconds - 1e-6))
    return f"{whole // 60:02d}:{whole % 60:02d}"


class WatchPanel(Widget, can_focus=True):
    DEFAULT_CSS = """
    WatchPanel {
        height: 1fr;
        layout: vertical;
    }
    WatchPanel #watch-status {
        height: 1;
        padding: 0 1;
        background: $boost;
        text-style: bold;
    }
    WatchPanel #watch-status.-clean {
        background: $success 40%;
    }
    WatchPanel #watch-banner {
        display: none;
        height: auto;
        padding: 0 1;
        background: $error;
        color: $text;
        text-style: bold;
    }
    WatchPanel.-alarmed #watch-banner {
        display: block;
    }
    WatchPanel #watch-last {
        height: auto;
        max-height: 3;
        padding: 0 1;
        color: $text-muted;
    }
    WatchPanel #watch-charts {
        height: 1fr;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("R", "rollback", "Roll back", id="watch.rollback",
                tooltip="Roll back to the previous release now (asks for confirmation first)"),
    ]  # fmt: skip

    class Sampled(Message):
        """A watch sample arrived (posted by ``sample_callback``)."""

        def __init__(self, sample: WatchSample) -> None:
            super().__init__()
            self.sample = sample

    class Alarmed(Message):
        def __init__(self, alarm: Alarm) -> None:
            super().__init__()
            self.alarm = alarm

    class RollbackRequested(Message):
        """The operator pressed R: confirm, then ``watch.roll_back(reason)``."""

        def __init__(self, watch: Watch, reason: str) -> None:
            super().__init__()
            self.watch = watch
            self.reason = reason

    last_sample: reactive[WatchSample | None] = reactive(None, layout=False)

    def __init__(self, watch: Watch, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.watch = watch
        self.alarms: list[Alarm] = []
        minutes = watch.duration_s / 60.0
        self.latency_chart = LatencyChart(minutes, id="watch-latency")
        self.error_chart = ErrorRateChart(
            minutes, baseline=watch.baseline, rules=watch.rules, id="watch-errors"
        )

    # -- wiring --------------------------------------------------------------------------------

    def sample_callback(self, sample: WatchSample) -> None:
        self.post_message(self.Sampled(sample))

    def alarm_callback(self, alarm: Alarm) -> None:
        self.post_message(self.Alarmed(alarm))

    def compose(self) -> ComposeResult:
        yield Static(id="watch-status")
        yield Static(id="watch-banner")
        with Horizontal(id="watch-charts"):
            yield self.latency_chart
            yield self.error_chart
        yield Static(id="watch-last")

    def on_mount(self) -> None:
        # Samples already taken (the panel opened mid-watch) are drawn once.
        for sample in list(self.watch.samples):
            self._take(sample)
        self.alarms = list(self.watch.alarms)
        self.refresh_status()
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        # The countdown only matters where it can be seen; the charts' catch-up needs the same.
        if seen_by_user(self.screen):
            self.refresh_status()

    # -- updates -------------------------------------------------------------------------------

    def on_watch_panel_sampled(self, message: Sampled) -> None:
        message.stop()
        self._take(message.sample)
        self.refresh_status()

    def on_watch_panel_alarmed(self, message: Alarmed) -> None:
        message.stop()
        if message.alarm not in self.alarms:
            self.alarms.append(message.alarm)
            # The alarm follows its own sample's message, so the last sample is its time.
            at = self.last_sample.elapsed_s / 60.0 if self.last_sample is not None else 0.0
            self.latency_chart.mark_alarm(at)
            self.error_chart.mark_alarm(at)
        self.refresh_status()

    def _take(self, sample: WatchSample) -> None:
        self.latency_chart.add_sample(sample)
        self.error_chart.add_sample(sample)
        self.last_sample = sample
        self.query_one("#watch-last", Static).update(sample.line(self.watch.expected_samples))

    def status_text(self) -> str:
        w = self.watch
        n, total = len(w.samples), w.expected_samples
        auto = "auto-rollback on" if w.auto_rollback else "auto-rollback off"
        if w.state == PENDING:
            return f"WATCH waiting to start · {mmss(w.duration_s)} window · {auto}"
        if w.state == RUNNING:
            health = "healthy"
            if self.last_sample is not None and not self.last_sample.healthy:
                health = "UNHEALTHY"
            if self.alarms:
                health = "ALARM"
            return (
                f"WATCH {mmss(w.remaining_s())} left · sample {n}/{total} · {health}"
                f" · CONFIRM locked until the watch completes · {auto}"
            )
        if w.state == CLEAN:
            return f"WATCH complete · {n} samples, no alarm · CONFIRM unlocked"
        if w.state == ALARMED:
            rolled = " · rolled back" if w.rolled_back else " · CONFIRM locked"
            return f"WATCH ended with an alarm after {n} samples{rolled}"
        if w.state == CANCELLED:
            return f"WATCH cancelled after {n} samples · CONFIRM locked"
        return f"WATCH {w.state}"

    def banner_text(self) -> str:
        if not self.alarms:
            return ""
        causes = "\n".join(f"ALARM: {a.cause}" for a in self.alarms)
        w = self.watch
        if w.rolled_back:
            return f"{causes}\nRolled back."
        if w.rollback_error:
            return f"{causes}\nRollback failed: {w.rollback_error}"
        if w.auto_rollback and w.rollback is not None:
            return f"{causes}\nRolling back by itself (policy.auto_rollback)…"
        return f"{causes}\nPress R to roll back."

    def refresh_status(self) -> None:
        if not self.is_mounted:
            return
        self.latency_chart.catch_up()
        self.error_chart.catch_up()
        status = self.query_one("#watch-status", Static)
        status.update(self.status_text())
        status.set_class(self.watch.state == CLEAN, "-clean")
        self.set_class(bool(self.alarms), "-alarmed")
        self.query_one("#watch-banner", Static).update(self.banner_text())

    # -- the one key ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "rollback":
            w = self.watch
            return w.rollback is not None and not w.rolled_back and w.state != PENDING
        return True

    def action_rollback(self) -> None:
        cause = self.alarms[0].cause if self.alarms else "operator rollback during the watch"
        self.post_message(self.RollbackRequested(self.watch, f"watch: {cause}"))
