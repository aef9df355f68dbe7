"""The console's services: the app makes them (typed fields of its context), screens and widgets
only read them, and the app closes them on quit: a notification still on its way at `q` is
delivered before the console is gone. Webhooks go to a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.ui.conftest import CONFIG, FixedClock
from tests.ui.test_dashboard import SIZE, wait_for
from tests.ui.test_emergency import open_emergency
from tui.app import ShipdeckApp
from tui.context import AppContext
from tui.core.config import load_config
from tui.core.hosts import HostPool
from tui.core.journal import Journal
from tui.core.notify import NOTIFY_STEP
from tui.core.redact import Redactor
from widgets.logs_pane import LogsPane

#: How long the hook takes to answer: longer than the console takes to quit without waiting.
ANSWER_AFTER_S = 1.0


class Hook:
    """A webhook that answers 200 after ANSWER_AFTER_S; what it was sent, when it started."""

    def __init__(self) -> None:
        self.url = ""
        self.started = threading.Event()
        self.bodies: list[dict[str, Any]] = []


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.started.set()
            time.sleep(ANSWER_AFTER_S)
            state.bodies.append(json.loads(body))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook/T000"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def hook_ctx(tmp_path: Path, hook: Hook) -> Iterator[AppContext]:
    """The UI fixtures' console (production app "demo" on a local host) with one webhook."""
    path = tmp_path / "shipdeck.toml"
    path.write_text(CONFIG + f'\n[notify]\nwebhooks = ["{hook.url}"]\ntimeout_s = 10\n'
                    "retries = 0\n")  # fmt: skip
    config = load_config(path)
    redactor = Redactor.from_config(config)
    journal = Journal(tmp_path / "journal.sqlite3", redactor=redactor, clock=FixedClock())
    ctx = AppContext(config=config, journal=journal, pool=HostPool(config, journal),
                     redactor=redactor)  # fmt: skip
    yield ctx
    ctx.close()


def deliveries(ctx: AppContext) -> list[dict[str, Any]]:
    return [e.data for e in ctx.journal.events(kinds=["note"]) if e.step == NOTIFY_STEP]


async def test_quit_delivers_a_notification_still_on_its_way(hook_ctx: AppContext, hook: Hook):
    app = ShipdeckApp(hook_ctx, connect_on_start=False, poll_processes=False)
    async with app.run_test(size=SIZE) as pilot:
        assert hook_ctx.notify is not None  # the app attached the bridge, not a pane
        hook_ctx.journal.record(kind="alarm", host="local", message="health failed twice")
        await wait_for(hook.started.is_set, pilot)  # on its way: the answer is a second off
        assert deliveries(hook_ctx) == []
        await pilot.press("q")
    # The console is gone, and the delivery finished before it went (not lost with the loop).
    assert hook.bodies == [{"text": "[demo production] watch alarm: health failed twice"}]
    [delivery] = deliveries(hook_ctx)
    assert delivery["delivered"] and delivery["status"] == 200
    assert hook_ctx.notify is None  # drained and detached


async def test_emergency_notify_says_where_it_went(hook_ctx: AppContext, hook: Hook) -> None:
    app = ShipdeckApp(hook_ctx, connect_on_start=False, poll_processes=False)
    said: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        await open_emergency(app, pilot)
        app.notify = lambda message, **kw: said.append(message)  # type: ignore[method-assign,assignment]
        await pilot.press("n")
        await wait_for(lambda: bool(deliveries(hook_ctx)), pilot)
    assert said == ["recorded: team notified (configured webhooks: 1)"]
    assert hook.bodies[0]["text"].startswith("[demo production] emergency action: 🚨 emergency")


async def test_emergency_notify_without_webhooks_says_so(ui_ctx: AppContext) -> None:
    app = ShipdeckApp(ui_ctx, connect_on_start=False, poll_processes=False)
    said: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        await open_emergency(app, pilot)
        app.notify = lambda message, **kw: said.append(message)  # type: ignore[method-assign,assignment]
        await pilot.press("n")
        await pilot.pause()
    assert said == ["recorded in the journal: no webhooks configured"]
    assert ui_ctx.notify is None


async def test_the_app_makes_the_services_and_the_panes_read_them(ui_ctx: AppContext) -> None:
    # The wall clock: the charts plot live samples, which a fixed clock would put in the future.
    ctx = replace(ui_ctx, clock=time.time)
    app = ShipdeckApp(ctx, connect_on_start=False)
    # The log hub before any pane mounts; the monitor service only after the first frame.
    assert ctx.logs is not None and ctx.monitor is None
    async with app.run_test(size=SIZE) as pilot:
        assert app.screen.query_one(LogsPane).store is ctx.logs.store
        await wait_for(lambda: ctx.monitor is not None and ctx.logs.running, pilot)
        # The monitor screen shows the same service, not one of its own.
        await pilot.press("m")
        await wait_for(lambda: app.screen.id == "monitor", pilot)
        assert app.screen.service is ctx.monitor  # type: ignore[attr-defined]
