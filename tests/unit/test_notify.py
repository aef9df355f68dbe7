"""Webhook notifications against a real HTTP server on 127.0.0.1: bodies, retries, bounds."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tui.core.checklist import DEFAULT_ITEMS, ItemState
from tui.core.checklist_checks import CheckContext, check_team_notified
from tui.core.checklist_state import Scope
from tui.core.config import Config, NotifyConfig, load_config
from tui.core.journal import Journal
from tui.core.notify import (
    DEPLOY_STARTED,
    Notifier,
    NotifyBridge,
    delivered_notifications,
    mask_url,
    notification_for,
)
from tui.core.redact import Redactor


class Hooks:
    def __init__(self) -> None:
        self.received: list[tuple[str, dict]] = []
        self.release = threading.Event()
        self.hits: dict[str, int] = {}


@pytest.fixture
def hooks() -> Iterator[tuple[Hooks, str]]:
    state = Hooks()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = self.path.split("?")[0]
            state.hits[path] = state.hits.get(path, 0) + 1
            if path.startswith("/hang"):
                state.release.wait(10)  # bounded: the server thread must end with the test
                return
            state.received.append((path, json.loads(body)))
            code = 500 if path.startswith("/fail") else 200
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    state.release.set()
    server.shutdown()
    server.server_close()


def notifier(journal: Journal | None, *urls: str, **kw) -> Notifier:
    cfg = NotifyConfig(webhooks=urls, timeout_s=kw.pop("timeout_s", 1.0),
                       retries=kw.pop("retries", 2), format=kw.pop("format", "slack"))  # fmt: skip
    return Notifier(cfg, journal, app="shop", environment="production", backoff_s=0.01, **kw)


def test_mask_url_hides_the_secret_part() -> None:
    assert mask_url("https://hooks.slack.com/services/T0/B0/XyZ?x=1") == "https://hooks.slack.com/…"
    assert mask_url("http://127.0.0.1:8080/hook/abc") == "http://127.0.0.1:8080/…"


async def test_slack_and_json_bodies_delivered_and_journaled(hooks) -> None:
    state, base = hooks
    journal = Journal(":memory:")
    dep = journal.start_deployment("shop", "v2")
    slack = await notifier(journal, f"{base}/ok/slack/SECRET").send(
        DEPLOY_STARTED, "deploy of v2 started", deployment_id=dep.id
    )
    generic = await notifier(journal, f"{base}/ok/json/SECRET", format="json").send(
        DEPLOY_STARTED, "deploy of v2 started", deployment_id=dep.id, data={"ref": "v2"}
    )
    assert slack[0].delivered and generic[0].delivered
    bodies = dict(state.received)
    assert bodies["/ok/slack/SECRET"] == {
        "text": "[shop production] deploy started: deploy of v2 started"
    }
    doc = bodies["/ok/json/SECRET"]
    assert (doc["event"], doc["app"], doc["deployment_id"], doc["data"]) == (
        DEPLOY_STARTED,
        "shop",
        dep.id,
        {"ref": "v2"},
    )
    sent = delivered_notifications(journal, dep.id)
    assert [d["delivered"] for d in sent] == [True, True]
    # The URL's secret part is never journaled.
    assert all("SECRET" not in e.message for e in journal.events())


async def test_500_is_retried_then_journaled_as_not_delivered(hooks) -> None:
    state, base = hooks
    journal = Journal(":memory:")
    result = await notifier(journal, f"{base}/fail/x", retries=2).send(DEPLOY_STARTED, "m")
    assert not result[0].delivered
    assert (result[0].attempts, result[0].status, state.hits["/fail/x"]) == (3, 500, 3)
    note = journal.events()[-1]
    assert "NOT delivered" in note.message and "HTTP 500" in note.message


async def test_a_hanging_or_failing_webhook_does_not_delay_the_caller(hooks) -> None:
    _state, base = hooks
    journal = Journal(":memory:")
    n = notifier(journal, f"{base}/hang/a", f"{base}/fail/b", timeout_s=0.5, retries=1)
    task = n.fire(DEPLOY_STARTED, "rollback started")
    # What a rollback would do next runs at once: fire() is synchronous and hands back the
    # delivery still under way (the hanging hook has not answered), instead of waiting for it.
    assert task is not None and not task.done() and n.pending == 1
    # In the background each attempt is bounded by timeout_s (2 attempts + backoff): the
    # delivery ends by itself, well before this deadline.
    deliveries = await asyncio.wait_for(task, timeout=5)
    assert [d.delivered for d in deliveries] == [False, False]
    assert "no answer within 0.5s" in deliveries[0].error


async def test_drain_cancels_what_is_still_hanging(hooks) -> None:
    _, base = hooks
    n = notifier(None, f"{base}/hang/c", timeout_s=60, retries=0)
    n.fire(DEPLOY_STARTED, "x")
    # Drain gives up at its own bound and cancels: far sooner than the hook's 60 s timeout.
    assert await asyncio.wait_for(n.drain(0.2), timeout=20) is False


def _config(tmp_path: Path, url: str) -> Config:
    path = tmp_path / "shipdeck.toml"
    path.write_text(f'[app]\nname = "shop"\nroot = "/srv/shop"\n[[hosts]]\nname = "l"\n'
                    f'transport = "local"\n[notify]\nwebhooks = ["{url}"]\n')  # fmt: skip
    return load_config(path)


async def test_bridge_notifies_on_journal_events_and_satisfies_team_notified(
    hooks, tmp_path: Path
) -> None:
    state, base = hooks
    config = _config(tmp_path, f"{base}/ok/team/SECRET")
    journal = Journal(":memory:", redactor=Redactor.from_config(config))
    bridge = NotifyBridge.attach(config, journal)
    dep = journal.start_deployment("shop", "v2")
    journal.record(kind="deploy.start", message="deploy of v2 started", deployment_id=dep.id)
    # Recorded from another thread too (a worker): handed to the loop.
    await asyncio.to_thread(journal.record, kind="alarm", message="health failed")
    assert await bridge.drain(5)
    deadline = time.monotonic() + 5
    while len(state.received) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        await bridge.drain(1)
    texts = sorted(body["text"] for _, body in state.received)
    assert texts == ["[shop production] deploy started: deploy of v2 started",
                     "[shop production] watch alarm: health failed"]  # fmt: skip
    bridge.detach()
    team = next(i for i in DEFAULT_ITEMS if i.id == "team_notified")
    ctx = CheckContext(config=config, journal=journal, scope=Scope(dep.id, 0.0), site=None,
                       site_problem="", target=None, target_dir="")  # fmt: skip
    verdict = await check_team_notified(ctx, team)
    assert verdict.state == ItemState.PASS
    assert verdict.summary == f"'deploy started' delivered to {base}/…"


def test_which_journal_events_notify() -> None:
    journal = Journal(":memory:")

    def ev(**kw):
        return journal.record(**{"message": "m", **kw})

    assert notification_for(ev(kind="deploy.end", data={"state": "succeeded"}))[0] == (
        "deploy.confirmed"
    )
    assert notification_for(ev(kind="deploy.end", data={"state": "rolled_back"}))[0] == (
        "rollback.finished"
    )
    assert notification_for(ev(kind="step.start", step="rollback"))[0] == "rollback.started"
    assert notification_for(ev(kind="step.fail", step="build"))[0] == "step.failed"
    assert notification_for(ev(kind="note", step="incident", message="notify team: down"))[0] == (
        "emergency.action"
    )
    assert notification_for(ev(kind="note", step="notify")) is None
    assert notification_for(ev(kind="command", step="build")) is None


async def test_send_within_returns_at_the_callers_bound(hooks) -> None:
    _state, base = hooks
    n = notifier(None, f"{base}/hang/d", timeout_s=60, retries=0)
    sent = n.send_within(DEPLOY_STARTED, "rollback started", 0.2)
    # Back at the caller's bound, far sooner than the hook's 60 s timeout.
    assert await asyncio.wait_for(sent, timeout=20) is None
    assert n.pending == 1  # still trying in the background, bounded by timeout_s
    fast = notifier(None, f"{base}/ok/e")
    [delivery] = await fast.send_within(DEPLOY_STARTED, "x", 5)
    assert delivery.delivered
    await n.drain(0.1)
