"""Command-palette entries for a screen's own bindings: the same actions as the keys.

A screen lists ``BindingsProvider`` in its COMMANDS; every Binding of that screen with a
description becomes a palette entry (title = description, help = tooltip). Actions the screen
disables (``check_action`` returning None/False, e.g. read-only mode) are left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider


class BindingsProvider(Provider):
    def _entries(self) -> Iterator[tuple[str, str, str]]:
        screen: Any = self.screen
        for binding in getattr(type(screen), "BINDINGS", ()):
            if not isinstance(binding, Binding) or not binding.description:
                continue
            action = binding.action
            if action in ("back", "close", "cancel"):
                continue
            if not screen.check_action(action, ()):
                continue
            yield action, binding.description, binding.tooltip or ""

    async def _run(self, action: str) -> None:
        await self.screen.run_action(action)

    async def discover(self) -> Hits:
        for action, title, help_text in self._entries():
            yield DiscoveryHit(title, partial(self._run, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for action, title, help_text in self._entries():
            score = matcher.match(f"{title} {help_text}")
            if score > 0:
                yield Hit(
                    score, matcher.highlight(title), partial(self._run, action), help=help_text
                )
