"""The VERIFY results of a deployment: one row per check, its status coloured, from the journal."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import DataTable

from tui.core.journal import Event

_STATUS_STYLE = {"PASS": "bold green", "FAIL": "bold red", "WARNING": "bold yellow"}


def latest_verify_results(events: Iterable[Event]) -> dict[tuple[str, str], Event]:
    """The newest VERIFY check event per (host, check name): a re-run replaces older rows."""
    latest: dict[tuple[str, str], Event] = {}
    for event in events:
        if event.kind == "check" and event.step == "verify" and "name" in event.data:
            latest[(event.host, str(event.data["name"]))] = event
    return latest


class VerifyPanel(DataTable):
    DEFAULT_CSS = """
    VerifyPanel {
        height: auto;
        max-height: 8;
    }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", **kwargs)  # type: ignore[arg-type]

    def on_mount(self) -> None:
        self.add_column("host", width=8, key="host")
        self.add_column("check", width=13, key="check")
        self.add_column("status", width=8, key="status")
        self.add_column("detail", key="detail")

    def show(self, events: Iterable[Event]) -> None:
        """Rebuild from the deployment's events (a handful of rows: a rebuild is cheap)."""
        self.clear()
        for (host, name), event in latest_verify_results(events).items():
            status = str(event.data.get("status", ""))
            self.add_row(
                host,
                name,
                Text(status, style=_STATUS_STYLE.get(status, "")),
                str(event.data.get("detail", "")),
                key=f"{host}/{name}",
            )
