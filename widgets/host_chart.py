"""A chart of the monitor's history: host and app series over the last minutes.

The data lives in the core's bounded deque (``History``); the chart keeps only a reference and
downsamples to its own width when it replots (a plotext build of 3 x 900 points costs ~50 ms,
of 60 points a fraction of that). ``show_history()`` is called once per sample at most; it
replots only when the chart can be seen, otherwise it marks itself stale and replots when shown.

And it replots only when the picture can change: with the x axis fixed to the history span, one
braille dot column covers span / (2 x width) seconds (~12 s for 15 min in a third of 120
columns), so replotting every 1 Hz sample would redraw the same picture a dozen times.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from textual_plotext import PlotextPlot

from tui.core.metrics import History, HistoryPoint, downsample
from widgets.visibility import seen_by_user, widget_can_be_seen

__all__ = ["HistoryChart", "Series", "seen_by_user"]


@dataclass(frozen=True)
class Series:
    label: str
    color: str
    value: Callable[[HistoryPoint], float]


class HistoryChart(PlotextPlot):
    DEFAULT_CSS = """
    HistoryChart {
        height: 1fr;
        min-height: 6;
    }
    """

    def __init__(
        self,
        title: str,
        series: Sequence[Series],
        *,
        y_max: float | None = None,
        clock: Callable[[], float] = time.time,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.title = title
        self.series = tuple(series)
        self.y_max = y_max
        self.clock = clock
        self.history: History | None = None
        self.stale = False
        self.replots = 0  # for tests and the bench: how often it really rebuilt
        self._last_replot = float("-inf")

    def can_be_seen(self) -> bool:
        return widget_can_be_seen(self)

    def show_history(self, history: History | None) -> None:
        """New data arrived: replot now if visible, else remember to."""
        self.history = history
        self.stale = True
        if self.can_be_seen() and self.clock() - self._last_replot >= self.min_interval():
            self.replot()

    def min_interval(self) -> float:
        """Seconds of history one dot column of the plot covers."""
        if self.history is None:
            return 0.0
        dots = max(1, 2 * (self.size.width - 10))
        return self.history.span_minutes * 60.0 / dots

    def on_show(self) -> None:
        if self.stale:
            self.replot()

    def on_resize(self) -> None:
        if self.history is None:
            return
        if self.can_be_seen():
            self.replot()
        else:
            self.stale = True

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.title(self.title)
        points = list(self.history.points) if self.history is not None else []
        width = max(10, self.size.width - 10)
        if points:
            now = self.clock()
            xs = downsample([(p.ts - now) / 60.0 for p in points], width)
            top = 0.0
            for series in self.series:
                ys = downsample([series.value(p) for p in points], width)
                # downsample takes the max per bucket: x positions too, so lengths match.
                n = min(len(xs), len(ys))
                plt.plot(xs[:n], ys[:n], label=series.label, color=series.color, marker="braille")
                top = max(top, *ys) if ys else top
            plt.xlabel("minutes ago")
            assert self.history is not None
            span = self.history.span_minutes
            plt.xlim(-span, 0)
            ceiling = self.y_max if self.y_max is not None else max(1.0, top * 1.2)
            plt.ylim(0, ceiling)
        self.stale = False
        self.replots += 1
        self._last_replot = self.clock()
        self.refresh()
