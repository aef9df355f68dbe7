"""Whether the operator can see a screen or widget: charts and tickers skip work when not.

Textual's ``Screen.is_current`` is also true for the screen right under ANY pushed screen,
opaque or not, so it can't tell "covered" from "visible". Here a screen is seen when every
screen above it lets it through (a modal's dimmed, see-through backdrop does; a full screen
does not).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.dom import DOMNode
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


def after_first_frame(node: DOMNode, callback: Callable[[], object]) -> None:
    """Run ``callback`` once the console's first frame is shown (ShipdeckApp.after_first_frame:
    after the Footer has its keys), or, in an app without that hook, after the next refresh."""
    schedule = getattr(node.app, "after_first_frame", None)
    if schedule is None:
        node.call_after_refresh(callback)
    else:
        schedule(callback)
