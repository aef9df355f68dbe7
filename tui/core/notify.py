"""Team notifications: webhooks (Slack-compatible ``{"text": ...}`` or generic JSON) over httpx.

Deliveries never hold up the caller: ``fire()`` schedules one and returns at once, retries with
exponential backoff run in the background, and each attempt is bounded by ``timeout_s`` (with an
outer asyncio deadline too, as httpx's timeouts are per read and a server could trickle bytes).
A rollback that notifies therefore waits for nothing. Every delivery (or its failure) is a
journal ``note`` of step "notify", which is what "Team notified" on the checklist reads.

The webhook URL is a secret: only ``mask_url`` of it is ever shown or journaled (the journal's
redactor also knows the URLs, as a second line of defence).

``NotifyBridge`` turns journal events into notifications (deploy started, step failed, deploy
confirmed, rollback started/finished, watch alarm, emergency action), so the workflow and the
screens only have to journal what they do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tui.core.config import Config, NotifyConfig
from tui.core.journal import Event, Journal

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

NOTIFY_STEP = "notify"

DEPLOY_STARTED = "deploy.started"
STEP_FAILED = "step.failed"
DEPLOY_CONFIRMED = "deploy.confirmed"
DEPLOY_FAILED = "deploy.failed"
ROLLBACK_STARTED = "rollback.started"
ROLLBACK_FINISHED = "rollback.finished"
WATCH_ALARM = "watch.alarm"
EMERGENCY = "emergency.action"

LABELS = {
    DEPLOY_STARTED: "deploy started",
    STEP_FAILED: "step failed",
    DEPLOY_CONFIRMED: "deploy confirmed",
    DEPLOY_FAILED: "deploy failed",
    ROLLBACK_STARTED: "rollback started",
    ROLLBACK_FINISHED: "rollback finished",
    WATCH_ALARM: "watch alarm",
    EMERGENCY: "emergency action",
}


def mask_url(url: str) -> str:
    """``https://hooks.slack.com/…``: scheme and host only; path and query are the secret."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "…"
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme or 'https'}://{host}{port}/…"


def build_body(
    fmt: str, event: str, text: str, *, app: str = "", deployment_id: int | None = None,
    data: Mapping[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    if fmt == "slack":
        return {"text": text}
    return {
        "event": event,
        "text": text,
        "app": app,
        "deployment_id": deployment_id,
        "data": dict(data or {}),
    }


@dataclass(frozen=True)
class Delivery:
    event: str
    target: str  # masked URL
    delivered: bool
    status: int | None
    attempts: int
    error: str = ""


Sleep = Callable[[float], Awaitable[None]]


class Notifier:
    def __init__(
        self,
        notify: NotifyConfig,
        journal: Journal | None = None,
        *,
        app: str = "",
        environment: str = "",
        transport: httpx.AsyncBaseTransport | None = None,
        backoff_s: float | None = None,  # default: [notify] backoff_s
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.cfg = notify
        self.journal = journal
        self.app = app
        self.environment = environment
        self._transport = transport
        self.backoff_s = notify.backoff_s if backoff_s is None else backoff_s
        self._sleep = sleep
        self._tasks: set[asyncio.Task[list[Delivery]]] = set()

    @classmethod
    def from_config(cls, config: Config, journal: Journal | None = None, **kw: Any) -> Notifier:
        return cls(config.notify, journal, app=config.app.name,
                   environment=config.app.environment, **kw)  # fmt: skip

    @property
    def enabled(self) -> bool:
        return bool(self.cfg.webhooks)

    @property
    def pending(self) -> int:
        return sum(not t.done() for t in self._tasks)

    def text_for(self, event: str, message: str) -> str:
        where = " ".join(x for x in (self.app, self.environment) if x)
        prefix = f"[{where}] " if where else ""
        return f"{prefix}{LABELS.get(event, event)}: {message}"

    async def send(
        self, event: str, message: str, *, deployment_id: int | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> list[Delivery]:  # fmt: skip
        """Deliver to every webhook (concurrently, with retries) and journal each outcome."""
        if not self.cfg.webhooks:
            return []
        import httpx  # ~0.1 s: only once there is something to send, not at console start

        text = self.text_for(event, message)
        body = build_body(self.cfg.format, event, text, app=self.app,
                          deployment_id=deployment_id, data=data)  # fmt: skip
        async with httpx.AsyncClient(
            transport=self._transport, timeout=httpx.Timeout(self.cfg.timeout_s)
        ) as client:
            deliveries = await asyncio.gather(
                *(self._deliver(client, url, event, body) for url in self.cfg.webhooks)
            )
        for d in deliveries:
            self._journal(d, deployment_id)
        return list(deliveries)

    async def _deliver(
        self, client: httpx.AsyncClient, url: str, event: str, body: dict[str, Any]
    ) -> Delivery:
        import httpx

        target = mask_url(url)
        attempts = 1 + max(0, self.cfg.retries)
        status: int | None = None
        error = ""
        for attempt in range(1, attempts + 1):
            try:
                response = await asyncio.wait_for(
                    client.post(url, json=body), timeout=self.cfg.timeout_s + 0.5
                )
                status = response.status_code
                if 200 <= status < 300:
                    return Delivery(event, target, True, status, attempt)
                error = f"HTTP {status}"
                if 400 <= status < 500 and status not in (408, 429):
                    return Delivery(event, target, False, status, attempt, error)  # no retry
            except (TimeoutError, httpx.TimeoutException):
                status, error = None, f"no answer within {self.cfg.timeout_s:g}s"
            except httpx.HTTPError as err:
                # The URL is the secret: never let an exception text (which quotes it) through.
                status, error = None, f"{type(err).__name__} talking to {target}"
            if attempt < attempts:
                await self._sleep(self.backoff_s * 2 ** (attempt - 1))
        return Delivery(event, target, False, status, attempts, error)

    def _journal(self, d: Delivery, deployment_id: int | None) -> None:
        if self.journal is None:
            return
        label = LABELS.get(d.event, d.event)
        if d.delivered:
            message = f"notification '{label}' delivered to {d.target} (HTTP {d.status})"
        else:
            message = (f"notification '{label}' NOT delivered to {d.target}: {d.error} "
                       f"after {d.attempts} attempt(s)")  # fmt: skip
        try:
            self.journal.record(
                kind="note", step=NOTIFY_STEP, message=message, deployment_id=deployment_id,
                data={"notify": d.event, "delivered": d.delivered, "target": d.target,
                      "status": d.status, "attempts": d.attempts, "error": d.error},
            )  # fmt: skip
        except Exception:  # a closed journal at exit must not surface from a background task
            log.exception("could not journal a notification")

    def fire(
        self, event: str, message: str, *, deployment_id: int | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> asyncio.Task[list[Delivery]] | None:  # fmt: skip
        """Send in the background and return at once (None when no webhook is configured).
        Must be called on the event loop's thread."""
        if not self.cfg.webhooks:
            return None
        task = asyncio.get_running_loop().create_task(
            self._safe_send(event, message, deployment_id, data), name=f"notify {event}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _safe_send(
        self, event: str, message: str, deployment_id: int | None, data: Mapping[str, Any] | None
    ) -> list[Delivery]:
        try:
            return await self.send(event, message, deployment_id=deployment_id, data=data)
        except Exception:
            log.exception("notification %s failed", event)
            return []

    async def send_within(
        self, event: str, message: str, bound_s: float, *, deployment_id: int | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> list[Delivery] | None:  # fmt: skip
        """Send, waiting at most ``bound_s`` (the caller's bound, e.g. before a rollback): the
        deliveries when they finished in time, else None while they go on in the background."""
        task = self.fire(event, message, deployment_id=deployment_id, data=data)
        if task is None:
            return []
        done, _ = await asyncio.wait({task}, timeout=bound_s)
        return task.result() if done else None

    async def drain(self, timeout: float) -> bool:
        """Give background deliveries up to ``timeout`` seconds (at exit); True if all ended.
        Those still running are cancelled."""
        tasks = [t for t in self._tasks if not t.done()]
        if not tasks:
            return True
        _, still = await asyncio.wait(tasks, timeout=timeout)
        for t in still:
            t.cancel()
        return not still


def delivered_notifications(journal: Journal, deployment_id: int) -> list[Mapping[str, Any]]:
    """The data of each journaled delivery attempt for a deployment, oldest first."""
    return [
        ev.data
        for ev in journal.events(deployment_id=deployment_id, kinds=["note"])
        if ev.step == NOTIFY_STEP and "notify" in ev.data
    ]


def notification_for(event: Event) -> tuple[str, str] | None:
    """(notification event, message) for a journal event worth telling the team about."""
    if event.step == NOTIFY_STEP:
        return None
    data = event.data or {}
    if event.kind == "deploy.start":
        return DEPLOY_STARTED, event.message
    if event.kind == "step.start" and event.step == "rollback":
        return ROLLBACK_STARTED, event.message
    if event.kind == "step.fail" and event.step not in ("rollback", "checklist"):
        return STEP_FAILED, event.message
    if event.kind == "deploy.end":
        state = data.get("state")
        kind = {"succeeded": DEPLOY_CONFIRMED, "rolled_back": ROLLBACK_FINISHED}.get(
            str(state), DEPLOY_FAILED
        )
        return kind, event.message
    if event.kind == "alarm":
        return WATCH_ALARM, event.message
    if event.step == "incident" and event.message.startswith("notify team:"):
        return EMERGENCY, event.message.removeprefix("notify team:").strip()
    return None


class NotifyBridge:
    """Listens to the journal and fires the matching notification for each event.

    ``attach`` must be called from the running event loop; events recorded on other threads
    are handed over to it. ``detach`` stops listening; ``drain`` waits (bounded) at exit."""

    def __init__(self, notifier: Notifier, journal: Journal) -> None:
        self.notifier = notifier
        self.journal = journal
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None

    @classmethod
    def attach(cls, config: Config, journal: Journal, **kw: Any) -> NotifyBridge:
        bridge = cls(Notifier.from_config(config, journal, **kw), journal)
        bridge._loop = asyncio.get_running_loop()
        bridge._thread = threading.get_ident()
        journal.add_listener(bridge._on_event)
        return bridge

    def detach(self) -> None:
        self.journal.remove_listener(self._on_event)

    def _on_event(self, event: Event) -> None:
        found = notification_for(event)
        if found is None or not self.notifier.enabled or self._loop is None:
            return
        kind, message = found

        def fire() -> None:
            self.notifier.fire(kind, message, deployment_id=event.deployment_id)

        if threading.get_ident() == self._thread:
            fire()
        else:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the app is gone
                self._loop.call_soon_threadsafe(fire)

    async def drain(self, timeout: float) -> bool:
        return await self.notifier.drain(timeout)
