"""The pm2 process table: one row per process per host, updated in place, sortable.

Rows are keyed ``host/pm_id`` and updated cell by cell (``update_cell`` costs half of a clear +
add_rows and keeps the cursor). CPU and memory come from the 1 Hz /proc samples when there is one
for the pid, else from pm2's own ``monit`` figures of the last jlist.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.widgets import DataTable

if TYPE_CHECKING:  # types only: the metrics service and pm2 load after the first frame
    from tui.core.metrics import ProcSample
    from tui.core.metrics_service import HostView
    from tui.core.pm2 import Pm2Process

STATUS_STYLE = {
    "online": "bold green",
    "stopped": "grey50",
    "stopping": "yellow",
    "launching": "yellow",
    "errored": "bold red",
    "one-launch-status": "yellow",
}


def format_bytes(value: int) -> str:
    """Short sizes; whole MB from 10 MB up, so a live RSS does not change the text (and make
    the table re-render) every second over a few hundred KB of garbage collection."""
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            if unit in ("B", "KB") or (unit == "MB" and size >= 10):
                return f"{size:.0f}{unit}"
            return f"{size:.1f}{unit}"
        size /= 1024
    return f"{size:.1f}GB"


def format_uptime(since_ms: int, now: float) -> str:
    if since_ms <= 0:
        return "-"
    seconds = max(0, int(now - since_ms / 1000))
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

    # What an operator reads first comes first: in the dashboard's narrow pane the columns on
    # the right (mode, pid) are the ones cut off, not memory or the version.
    COLUMNS = (
        ("host", 8), ("name", 12), ("id", 3), ("status", 9), ("↺", 3), ("cpu", 5),
        ("mem", 8), ("version", 8), ("uptime", 6), ("mode", 7), ("pid", 7),
    )
    SORTABLE = ("host", "name", "id", "pid", "status", "↺", "uptime", "cpu", "mem")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", **kwargs)
        self._notes: dict[str, str] = {}
        self._procs: dict[str, tuple[str, Pm2Process]] = {}
        self._raw: dict[str, dict[str, Any]] = {}
        self.sort_column: str | None = None
        self.sort_reverse = False

    def on_mount(self) -> None:
        for label, width in self.COLUMNS:
            self.add_column(label, width=width, key=label)

    # ------------------------------------------------------------------ data

    def show_host(
        self,
        host: str,
        processes: list[Pm2Process] | tuple[Pm2Process, ...],
        now: float,
        samples: Mapping[int, ProcSample] | None = None,
    ) -> None:
        """Replace one host's rows; rows of the same process are updated in place (keeps cursor)."""
        self._drop_note(host)
        samples = samples or {}
        wanted = {f"{host}/{p.pm_id}": p for p in processes}
        for key in [k.value for k in self.rows if k.value and k.value.startswith(f"{host}/")]:
            if key not in wanted:
                self.remove_row(key)
                self._procs.pop(key, None)
                self._raw.pop(key, None)
        changed_sort_value = False
        for key, proc in wanted.items():
            live = samples.get(proc.pid) if proc.status == "online" else None
            cpu = live.cpu_percent if live is not None else proc.cpu_percent
            mem = live.rss_bytes if live is not None else proc.memory_bytes
            by_label = {
                "host": host, "name": proc.name, "id": str(proc.pm_id), "mode": proc.mode,
                "pid": str(proc.pid or "-"),
                "status": Text(proc.status, style=STATUS_STYLE.get(proc.status, "yellow")),
                "↺": str(proc.restarts), "uptime": format_uptime(proc.uptime_since_ms, now),
                "cpu": f"{cpu:.0f}%" if proc.status == "online" else "-",
                "mem": format_bytes(mem) if proc.status == "online" else "-",
                "version": proc.version or "-",
            }  # fmt: skip
            cells = tuple(by_label[label] for label, _ in self.COLUMNS)
            if proc.status != "online":
                cpu, mem = 0.0, 0
            raw = {
                "host": host, "name": proc.name, "id": proc.pm_id, "pid": proc.pid,
                "status": proc.status, "↺": proc.restarts, "uptime": -proc.uptime_since_ms,
                "cpu": cpu, "mem": mem,
            }  # fmt: skip
            if self.sort_column and self._raw.get(key, {}).get(self.sort_column) != raw.get(
                self.sort_column
            ):
                changed_sort_value = True
            self._procs[key] = (host, proc)
            self._raw[key] = raw
            if key in self.rows:
                for (label, _), value in zip(self.COLUMNS, cells, strict=True):
                    if self.get_cell(key, label) != value:
                        self.update_cell(key, label, value)
            else:
                self.add_row(*cells, key=key)
                changed_sort_value = True
        if changed_sort_value and self.sort_column:
            self._apply_sort()

    def show_view(self, view: HostView, now: float) -> None:
        """A host as the monitor service sees it: its processes, or why there are none.

        A host that dropped shows "disconnected since T" instead of rows that look live.
        """
        if view.jlist_at == 0 and view.disconnected_since is None:
            return  # the first process list has not arrived yet
        if view.disconnected_since is not None or not view.processes:
            self.show_note(view.name, view.note or "no pm2 processes")
        else:
            self.show_host(view.name, view.processes, now=now, samples=view.samples)

    def show_note(self, host: str, note: str) -> None:
        """A host whose process list can't be read: say why instead of showing stale rows."""
        for key in [k.value for k in self.rows if k.value and k.value.startswith(f"{host}/")]:
            self.remove_row(key)
            self._procs.pop(key, None)
            self._raw.pop(key, None)
        key = f"{host}!note"
        cells = [host, Text(note, style="bold red")] + [""] * (len(self.COLUMNS) - 2)
        if key in self.rows:
            if self._notes.get(host) != note:
                self.update_cell(key, "name", cells[1], update_width=False)
        else:
            self.add_row(*cells, key=key)
        self._notes[host] = note

    def _drop_note(self, host: str) -> None:
        if self._notes.pop(host, None) is not None:
            self.remove_row(f"{host}!note")

    # ------------------------------------------------------------------ selection & sort

    def selected(self) -> tuple[str, Pm2Process] | None:
        """(host, process) under the cursor, or None (empty table, or a note row)."""
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None
        return self._procs.get(key or "")

    def selected_host(self) -> str | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value or ""
        except Exception:
            return None
        return key.split("/", 1)[0].split("!", 1)[0] or None

    def processes(self, host: str | None = None) -> list[Pm2Process]:
        return [p for h, p in self._procs.values() if host is None or h == host]

    def sort_by(self, column: str) -> None:
        """Sort by ``column``; the same column again flips the order."""
        if column not in self.SORTABLE:
            return
        if self.sort_column == column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = column, column in ("cpu", "mem", "↺")
        self._apply_sort()

    def cycle_sort(self) -> str:
        columns = self.SORTABLE
        index = columns.index(self.sort_column) + 1 if self.sort_column in columns else 0
        self.sort_column = None
        self.sort_by(columns[index % len(columns)])
        return self.sort_column or ""

    def _apply_sort(self) -> None:
        column = self.sort_column
        if column is None:
            return
        raw = self._raw

        def key(row: tuple[Any, ...]) -> tuple[int, Any]:
            host, pm_id = str(row[0]), str(row[1])
            values = raw.get(f"{host}/{pm_id}")
            # Note rows (no raw values) sort last whatever the direction.
            return (0, values[column]) if values else (1, 0)

        self.sort("host", "id", key=key, reverse=self.sort_reverse)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(str(event.column_key.value))
