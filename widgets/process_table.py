"""The pm2 process table: one row per process per host, updated in place."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import DataTable

from tui.core.pm2 import Pm2Process

_STATUS_STYLE = {
    "online": "green", "stopped": "grey50", "errored": "bold red", "launching": "yellow"
}


def format_bytes(value: int) -> str:
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f}{unit}" if unit in ("B", "KB") else f"{size:.1f}{unit}"
        size /= 1024
    return f"{size:.1f}GB"


def format_uptime(since_ms: int, now: float | None = None) -> str:
    if since_ms <= 0:
        return "-"
    seconds = max(0, int((now if now is not None else time.time()) - since_ms / 1000))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class ProcessTable(DataTable):
    DEFAULT_CSS = """
    ProcessTable {
        height: 1fr;
    }
    """

    COLUMNS = (
        ("host", 8), ("name", 12), ("id", 3), ("mode", 7), ("pid", 7), ("status", 9),
        ("↺", 3), ("uptime", 6), ("cpu", 5), ("mem", 8), ("version", 8),
    )

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", **kwargs)  # type: ignore[arg-type]
        self._notes: dict[str, str] = {}

    def on_mount(self) -> None:
        for label, width in self.COLUMNS:
            self.add_column(label, width=width, key=label)

    def show_host(self, host: str, processes: list[Pm2Process], now: float | None = None) -> None:
        """Replace one host's rows; rows of the same process are updated in place (keeps cursor)."""
        self._drop_note(host)
        wanted = {f"{host}/{p.pm_id}": p for p in processes}
        for key in [k.value for k in self.rows if k.value and k.value.startswith(f"{host}/")]:
            if key not in wanted:
                self.remove_row(key)
        for key, proc in wanted.items():
            cells = (
                host, proc.name, str(proc.pm_id), proc.mode, str(proc.pid or "-"),
                Text(proc.status, style=_STATUS_STYLE.get(proc.status, "yellow")),
                str(proc.restarts), format_uptime(proc.uptime_since_ms, now),
                f"{proc.cpu_percent:.0f}%", format_bytes(proc.memory_bytes), proc.version or "-",
            )
            if key in self.rows:
                for (label, _), value in zip(self.COLUMNS, cells, strict=True):
                    self.update_cell(key, label, value)
            else:
                self.add_row(*cells, key=key)

    def show_note(self, host: str, note: str) -> None:
        """A host whose process list can't be read: say why instead of showing stale rows."""
        for key in [k.value for k in self.rows if k.value and k.value.startswith(f"{host}/")]:
            self.remove_row(key)
        key = f"{host}!note"
        cells = [host, Text(note, style="bold red")] + [""] * (len(self.COLUMNS) - 2)
        if key in self.rows:
            self.update_cell(key, "name", cells[1])
        else:
            self.add_row(*cells, key=key)
        self._notes[host] = note

    def _drop_note(self, host: str) -> None:
        if self._notes.pop(host, None) is not None:
            self.remove_row(f"{host}!note")
