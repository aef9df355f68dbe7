"""Fixtures for Pilot and snapshot tests: a console over a real journal and a local host.

Times are fixed (journal clock, TZ=UTC) so that snapshots are stable; the host's pm2 binary
does not exist, which is a real state the monitor must show ("pm2 not installed").
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui.context import AppContext
from tui.core.config import load_config
from tui.core.hosts import HostPool
from tui.core.journal import Journal
from tui.core.redact import Redactor

CONFIG = """
[app]
name = "demo"
root = "/srv/demo"
environment = "production"
pm2_bin = "/nonexistent/pm2"

[[hosts]]
name = "local"
transport = "local"
"""

T0 = 1_764_158_400.0  # 2025-11-26 12:00:00 UTC


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


class FixedClock:
    def __init__(self, start: float = T0) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 1.5
        return self.now


@pytest.fixture
def ui_ctx(tmp_path: Path) -> Iterator[AppContext]:
    path = tmp_path / "shipdeck.toml"
    path.write_text(CONFIG)
    config = load_config(path)
    redactor = Redactor.from_config(config)
    journal = Journal(tmp_path / "journal.sqlite3", redactor=redactor, clock=FixedClock())
    pool = HostPool(config, journal)
    ctx = AppContext(
        config=config, journal=journal, pool=pool, redactor=redactor, clock=lambda: T0 + 3600
    )
    yield ctx
    ctx.close()
