"""`shipdeck --read-only` as typed: the console the command line opens refuses a deploy key.

The app is the one tui.cli builds (its argument parsing, its open_context, its ShipdeckApp
call); only App.run is swapped for a Pilot session, so what runs is what an operator gets, not a
`ShipdeckApp(read_only=True)` made by hand.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.ui.conftest import CONFIG
from tests.ui.test_dashboard import SIZE, wait_for
from tui import cli
from tui.app import ShipdeckApp
from widgets.step_bar import StepBar


def open_console(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, drive: Any
) -> tuple[int, dict[str, Any]]:
    """`shipdeck ARGV --config ... --journal ...` through tui.cli.main, with the console it
    opens driven by ``drive(app, pilot, seen)`` instead of a terminal."""
    config = tmp_path / "shipdeck.toml"
    # The app root under tmp_path: should a regression let a key through, it acts there.
    assert 'root = "/srv/demo"' in CONFIG
    config.write_text(CONFIG.replace('root = "/srv/demo"', f'root = "{tmp_path / "app"}"'))
    seen: dict[str, Any] = {}

    async def session(app: ShipdeckApp) -> None:
        async with app.run_test(size=SIZE) as pilot:
            seen["read_only"] = app.read_only
            await drive(app, pilot, seen)

    def run(self: ShipdeckApp, *args: object, **kwargs: object) -> None:
        asyncio.run(session(self))

    monkeypatch.setattr(ShipdeckApp, "run", run)
    code = cli.main([*argv, "--config", str(config), "--journal", str(tmp_path / "j.sqlite3")])
    return code, seen


async def press_backup(app: ShipdeckApp, pilot: Any, seen: dict[str, Any]) -> None:
    await pilot.press("d")
    await wait_for(lambda: app.screen.id == "deploy", pilot)
    bar = app.screen.query_one(StepBar)
    await pilot.press("1")  # BACKUP: the first step of a deploy
    await wait_for(lambda: "read-only" in bar.status, pilot)
    seen["status"] = bar.status
    seen["deployments"] = app.ctx.journal.deployments("demo")
    seen["events"] = [e.kind for e in app.ctx.journal.events(kinds=["step.start", "action"])]


@pytest.mark.parametrize("argv", [["--read-only"], ["--read-only", "tui"], ["tui", "--read-only"]])
def test_read_only_flag_opens_a_console_that_refuses_a_deploy_key(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, seen = open_console(argv, tmp_path, monkeypatch, press_backup)
    assert code == 0
    assert seen["read_only"] is True
    assert "actions are disabled" in seen["status"]
    assert seen["deployments"] == [] and seen["events"] == []


@pytest.mark.parametrize("argv", [[], ["tui"]])
def test_without_the_flag_the_console_is_not_read_only(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def look(app: ShipdeckApp, pilot: Any, seen: dict[str, Any]) -> None:
        await pilot.pause()

    code, seen = open_console(argv, tmp_path, monkeypatch, look)
    assert code == 0 and seen["read_only"] is False
