"""Whether the operator can see a screen or widget: charts and tickers skip work when not.

Textual's ``Screen.is_current`` is also true for the screen right under ANY pushed screen,
opaque or not, so it can't tell "covered" from "visible". Here a screen is seen when every
screen above it lets it through (a modal's dimmed, see-through backdrop does; a full screen
does not).
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widget import Widget


def seen_by_user(screen: Screen[Any]) -> bool:
    try:
        stack = screen.app.screen_stack
    except Exception:
        return False
    if screen not in stack:
        return False
    above = stack[stack.index(screen) + 1 :]
    return all(s.styles.background.a < 1 for s in above)


def widget_can_be_seen(widget: Widget) -> bool:
    try:
        return bool(
            widget.is_mounted
            and seen_by_user(widget.screen)
            and widget.display
            and widget.size.width > 0
            and widget.size.height > 0
        )
    except Exception:
        return False
