"""What many tests share: waiting on a condition with a deadline (never sleep-and-hope)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


async def wait_for(
    cond: Callable[[], Any], pilot: Any = None, timeout: float = 15.0, what: str = "condition"
) -> None:
    """Return as soon as ``cond()`` is true; fail the test when it is not within ``timeout``
    seconds. With a Textual ``pilot`` the app gets to process messages between checks."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        assert loop.time() < deadline, f"{what} not met within {timeout:g}s"
        if pilot is not None:
            await pilot.pause(0.05)
        else:
            await asyncio.sleep(0.02)


async def until(cond: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> None:
    """``wait_for`` outside a Textual app."""
    await wait_for(cond, None, timeout, what)
