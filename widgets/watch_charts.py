"""The watch window's two charts: health latency and error rate, over the whole window.

Each chart keeps its points in a bounded deque (about twice the plot width: more points than
braille dot columns buy nothing), takes one sample at a time with ``add_sample()`` and replots
at most once per sample, and not at all while it cannot be seen (then it marks itself stale and
replots when shown). The x axis is the watch window itself (minutes since DEPLOY), so the chart
also shows how far the watch has come.
"""

from __future__ import annotations

from collections import deque

from textual_plotext import PlotextPlot

from tui.core.watch_rules import AlarmRules, WatchBaseline, WatchSample
from widgets.visibility import widget_can_be_seen

# Twice a 120-column terminal's width: one point per dot column of a full-width chart.
MAX_POINTS = 240


class WatchChart(PlotextPlot):
    DEFAULT_CSS = """
    WatchChart {
        height: 1fr;
        min-height: 8;
    }
    """

    TITLE = ""
    UNIT = ""

    def __init__(self, window_minutes: float = 15.0, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.window_minutes = max(window_minutes, 1 / 60)
        self.points: deque[tuple[float, ...]] = deque(maxlen=MAX_POINTS)
        self.alarm_at: list[float] = []  # minutes since deploy, drawn as red vertical lines
        self.stale = False
        self.replots = 0  # for tests: how often the picture was really rebuilt

    def can_be_seen(self) -> bool:
        return widget_can_be_seen(self)

    def add_sample(self, sample: WatchSample) -> None:
        """One new sample: replot now if visible (once), else remember to."""
        point = self.point(sample)
        if point is not None:
            self.points.append(point)
        self.stale = True
        if self.can_be_seen():
            self.replot()

    def point(self, sample: WatchSample) -> tuple[float, ...] | None:
        raise NotImplementedError

    def mark_alarm(self, minutes: float) -> None:
        self.alarm_at.append(minutes)
        self.stale = True
        if self.can_be_seen():
            self.replot()

    def catch_up(self) -> None:
        """Replot if samples arrived while hidden and it shows now. Textual sends no Show to the
        widgets of a screen that comes back from under another one, so the panel's once-a-second
        tick calls this."""
        if self.stale and self.can_be_seen():
            self.replot()

    def on_show(self) -> None:
        self.catch_up()

    def on_resize(self) -> None:
        if self.points or self.stale:
            self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.TITLE)
        plt.xlabel("minutes since deploy")
        plt.xlim(0, self.window_minutes)
        self.draw(list(self.points))
        for x in self.alarm_at:
            plt.vline(x, "red")
        self.stale = False
        self.replots += 1
        self.refresh()

    def draw(self, points: list[tuple[float, ...]]) -> None:
        raise NotImplementedError


class LatencyChart(WatchChart):
    """Health latency per sample (ms) and the running p95 over the window."""

    TITLE = "health latency (ms)"

    def point(self, sample: WatchSample) -> tuple[float, ...] | None:
        if sample.health_latency_ms is None:
            return None  # a failed probe has no latency; the status line says it failed
        return (
            sample.elapsed_s / 60.0,
            sample.health_latency_ms,
            sample.latency_p95_ms if sample.latency_p95_ms is not None else 0.0,
        )

    def draw(self, points: list[tuple[float, ...]]) -> None:
        plt = self.plt
        if not points:
            plt.ylim(0, 10)
            return
        xs = [p[0] for p in points]
        plt.plot(xs, [p[1] for p in points], label="latency", color="cyan", marker="braille")
        plt.plot(xs, [p[2] for p in points], label="p95", color="magenta", marker="braille")
        top = max(max(p[1] for p in points), max(p[2] for p in points))
        plt.ylim(0, max(1.0, top * 1.25))


class ErrorRateChart(WatchChart):
    """Errors per minute per sample, with the alarm threshold the rules use."""

    TITLE = "errors per minute"

    def __init__(
        self,
        window_minutes: float = 15.0,
        *,
        baseline: WatchBaseline | None = None,
        rules: AlarmRules | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(window_minutes, **kwargs)
        self.baseline = baseline or WatchBaseline()
        self.rules = rules or AlarmRules()

    @property
    def threshold(self) -> float:
        return self.rules.error_threshold(self.baseline.errors_per_minute)

    def point(self, sample: WatchSample) -> tuple[float, ...] | None:
        if sample.errors_per_minute is None:
            return None
        return (sample.elapsed_s / 60.0, sample.errors_per_minute)

    def draw(self, points: list[tuple[float, ...]]) -> None:
        plt = self.plt
        limit = self.threshold
        plt.hline(limit, "red")
        if points:
            plt.plot([p[0] for p in points], [p[1] for p in points], label="errors/min",
                     color="yellow", marker="braille")  # fmt: skip
        top = max([limit, *(p[1] for p in points)])
        plt.ylim(0, max(1.0, top * 1.25))
