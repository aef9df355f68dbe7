"""A `pm2 describe`-like view of one process (env var NAMES only), and other read-only text."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from tui.core.metrics import ProcSample
from tui.core.pm2 import Pm2Process
from widgets.process_table import format_bytes, format_uptime


def describe_rows(
    host: str, proc: Pm2Process, sample: ProcSample | None, now: float
) -> list[tuple[str, str]]:
    cpu = sample.cpu_percent if sample else proc.cpu_percent
    mem = sample.rss_bytes if sample else proc.memory_bytes
    created = (
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(proc.created_at_ms / 1000))
        if proc.created_at_ms
        else "-"
    )
    rows = [
        ("host", host),
        ("name", proc.name),
        ("id", str(proc.pm_id)),
        ("status", proc.status),
        ("pid", str(proc.pid or "-")),
        ("exec mode", proc.exec_mode or proc.mode),
        ("restarts", str(proc.restarts)),
        ("unstable restarts", str(proc.unstable_restarts)),
        ("uptime", format_uptime(proc.uptime_since_ms, now)),
        ("created at", created),
        ("cpu", f"{cpu:.1f}%"),
        ("memory", format_bytes(mem)),
        ("version", proc.version or "-"),
        ("script path", proc.exec_path or "-"),
        ("exec cwd", proc.cwd or "-"),
        ("interpreter", proc.interpreter or "-"),
        ("node version", proc.node_version or "-"),
        ("out log", proc.out_log or "-"),
        ("error log", proc.err_log or "-"),
    ]
    if proc.versioning:
        rows += [(f"versioning {k}", v) for k, v in proc.versioning]
    else:
        rows.append(("versioning", "-"))
    # Names only: values may be secrets (parse_jlist never keeps them anyway).
    rows.append((f"env ({len(proc.env_names)} names)", ", ".join(proc.env_names) or "-"))
    return rows


class ProcessDetailModal(ModalScreen[None]):
    DEFAULT_CSS = """
    ProcessDetailModal {
        align: center middle;
    }
    ProcessDetailModal > VerticalScroll {
        width: 90%;
        height: 80%;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    ProcessDetailModal #detail-title {
        text-style: bold;
        margin-bottom: 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "close",
            "Close",
            id="detail.close",
            tooltip="Back to the monitor",
        ),
        Binding(
            "enter",
            "close",
            "Close",
            id="detail.close_enter",
            tooltip="Back to the monitor",
            show=False,
        ),
    ]

    def __init__(self, title: str, rows: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.rows = list(rows)

    @classmethod
    def for_process(
        cls, host: str, proc: Pm2Process, sample: ProcSample | None, now: float
    ) -> ProcessDetailModal:
        rows = describe_rows(host, proc, sample, now)
        return cls(f"{proc.name} #{proc.pm_id} on {host}", rows)

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column(overflow="fold")
        for key, value in self.rows:
            table.add_row(key, value)
        with VerticalScroll():
            yield Label(self.title_text, id="detail-title")
            yield Static(table, id="detail-body")

    def action_close(self) -> None:
        self.dismiss(None)
