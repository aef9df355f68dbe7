"""The guarded pm2 action, shared by the monitor and emergency screens.

``perform`` is the one path from a key to a pm2 action: read-only check, the confirm modal when
the action is destructive (typing the app name for stop/delete in production), the action itself
(which writes its ``action`` event to the journal), a one-line notification, and a prompt jlist.
Call it from a worker: the confirm modal is awaited with ``push_screen_wait``.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

from tui.context import context_of
from tui.core.metrics_service import MonitorService
from tui.core.pm2 import describe_action
from tui.core.transport import Result, TransportError
from tui.core.transport_errors import describe_argv
from widgets.confirm_modal import ConfirmModal


def needs_confirm(action: str, *, whole_app: bool, production: bool, count: Any = None) -> bool:
    if action in ("stop", "delete"):
        return True
    if action == "scale":
        return str(count) == "0"
    if action == "restart":
        # A hard restart of every instance drops what they serve; in production any restart.
        return whole_app or production
    return False


async def perform(
    screen: Screen[Any],
    service: MonitorService,
    host: str,
    action: str,
    target: str | int,
    *,
    count: int | str | None = None,
    whole_app: bool = True,
) -> Result | None:
    """Run one pm2 action after any confirmation; None if refused, cancelled or failed to run."""
    app = screen.app
    ctx = context_of(screen)
    if ctx.read_only:
        app.notify("read-only mode: actions are disabled", severity="warning")
        return None
    cfg = ctx.config
    production = cfg.app.environment == "production"
    backend = service.backend(host)
    args = [str(target)] if action != "scale" else [str(target), str(count)]
    command = describe_argv([backend.pm2_bin.rsplit("/", 1)[-1], action, *args])
    if needs_confirm(action, whole_app=whole_app, production=production, count=count):
        require = cfg.app.name if production and action in ("stop", "delete") else ""
        label = f"{cfg.app.name} #{target}" if str(target).isdigit() else str(target)
        what = describe_action(action, label, count)
        where = f"on {host} ({cfg.app.environment})"
        confirmed = await app.push_screen_wait(
            ConfirmModal(
                f"{action.capitalize()} {label}?",
                f"This will {what} {where}.",
                command,
                require_text=require,
                confirm_label=action.capitalize(),
            )
        )
        if not confirmed:
            app.notify(f"{action} cancelled: nothing was done")
            return None
    try:
        if action == "scale":
            assert count is not None
            result = await backend.scale(str(target), count)
        else:
            result = await getattr(backend, action)(target)
    except (TransportError, ValueError) as err:
        app.notify(str(err), severity="error", timeout=10)
        return None
    finally:
        service.refresh_soon(host)
    if result.ok:
        app.notify(f"{host}: {command}: ok")
    else:
        detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or [""]
        app.notify(
            f"{host}: {command} failed ({result.exit_status}) {detail[0]}",
            severity="error",
            timeout=10,
        )
    return result
