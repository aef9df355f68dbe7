"""KeyFooter: Textual's Footer, recomposed only when the keys it would show change.

Textual recomposes the Footer on every bindings signal, and a focus change sends two
(`Screen.set_focus` refreshes the bindings at once and again after the refresh). A recompose
removes every key and styles new ones: measured 30-90 ms of CPU for the dashboard's ten keys
under the console's stylesheet, three times in its first second. The keys shown depend only on
the screen's active bindings (key, binding, enabled, tooltip) and the Footer's own settings.
"""

from __future__ import annotations

from collections.abc import Hashable

from textual.dom import NoScreen
from textual.widgets import Footer


class KeyFooter(Footer):
    _shown: Hashable = None

    def _what_it_shows(self) -> Hashable:
        if not self._bindings_ready:
            return None
        bindings = tuple(
            (key, binding, enabled, tooltip, self.app.get_key_display(binding))
            for key, (_node, binding, enabled, tooltip) in self.screen.active_bindings.items()
        )
        return (self.compact, self.show_command_palette, self.combine_groups, bindings)

    async def recompose(self) -> None:
        if not self.is_attached:
            return  # its screen was dismissed while a bindings signal was on its way
        try:
            shown = self._what_it_shows()
        except NoScreen:
            return
        if shown is not None and shown == self._shown:
            return
        self._shown = shown
        await super().recompose()
