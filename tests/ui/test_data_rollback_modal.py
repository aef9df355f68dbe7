"""The rollback's data question: which ways it offers for which config, the typed-name gate on
the destructive ones, Escape = code only; and how the deploy and emergency screens use it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.widgets import Button

from screens.deploy import DeployScreen
from tests.ui.conftest import CONFIG
from tests.ui.test_deploy_screen import open_deploy, seed_deployment
from tests.ui.test_emergency import incident_steps, open_emergency, wait_for
from tui.app import ShipdeckApp
from tui.context import AppContext
from tui.core.config import Config, load_config
from tui.core.workflow import Outcome
from widgets.confirm_modal import ConfirmModal
from widgets.data_rollback_modal import DataRollback, DataRollbackModal
from widgets.watch_panel import WatchPanel

SIZE = (100, 30)
DATABASE = '\n[database]\nenabled = true\nname = "shop_db"\n'
NO_MIGRATE_DOWN = "\n[steps.rollback]\nmigrate_down = []\n"


def config(tmp_path: Path, extra: str = "") -> Config:
    path = tmp_path / "shipdeck.toml"
    path.write_text(CONFIG + extra)
    return load_config(path)


class Host(App[None]):
    def __init__(self, modal: DataRollbackModal) -> None:
        super().__init__()
        self.modal = modal
        self.answers: list[DataRollback] = []

    def on_mount(self) -> None:
        self.push_screen(self.modal, self.answers.append)


def buttons(modal: DataRollbackModal) -> dict[str, bool]:
    """Button id -> enabled."""
    return {str(b.id): not b.disabled for b in modal.query(Button)}


def test_no_data_way_no_question(tmp_path: Path) -> None:
    assert DataRollbackModal.for_config(config(tmp_path, NO_MIGRATE_DOWN)) is None


@pytest.mark.parametrize(
    ("extra", "shown", "typed"),
    [
        ("", {"code-only", "migrate-down"}, "demo"),  # the default npm run migrate:down
        (NO_MIGRATE_DOWN + DATABASE, {"code-only", "restore-db"}, "shop_db"),
        (DATABASE, {"code-only", "migrate-down", "restore-db"}, "shop_db"),
    ],
)
async def test_the_ways_shown_follow_the_config(
    tmp_path: Path, extra: str, shown: set[str], typed: str
) -> None:
    modal = DataRollbackModal.for_config(config(tmp_path, extra))
    assert modal is not None and modal.require_text == typed
    app = Host(modal)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert buttons(modal) == {b: b == "code-only" for b in shown}
        if "migrate-down" in shown:
            label = str(modal.query_one("#migrate-down", Button).label)
            assert label == "Code + down-migration (npm run migrate:down)"


@pytest.mark.parametrize("key", ["enter", "escape"])
async def test_code_only_has_the_focus_and_escape_means_code_only(tmp_path: Path, key: str) -> None:
    app = Host(DataRollbackModal.for_config(config(tmp_path, DATABASE)))  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "code-only"
        await pilot.press(key)
        await wait_for(lambda: app.answers != [], pilot)
        assert app.answers == [DataRollback.CODE_ONLY]


@pytest.mark.parametrize(
    ("button", "choice"),
    [("#migrate-down", DataRollback.MIGRATE_DOWN), ("#restore-db", DataRollback.RESTORE_DB)],
)
async def test_a_data_way_needs_the_typed_database_name(
    tmp_path: Path, button: str, choice: DataRollback
) -> None:
    app = Host(DataRollbackModal.for_config(config(tmp_path, DATABASE)))  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("tab")  # Code only -> the name input
        assert app.focused is not None and app.focused.id == "confirm-input"
        await pilot.press(*"demo", "enter")  # the app name is not the database's
        assert app.answers == [] and app.modal.query_one(button, Button).disabled
        await pilot.press(*["backspace"] * 4, *"shop_db")
        assert not app.modal.query_one(button, Button).disabled
        await pilot.click(button)
        await wait_for(lambda: app.answers != [], pilot)
        assert app.answers == [choice]


async def test_enter_in_the_name_moves_on_and_never_picks_a_way(tmp_path: Path) -> None:
    app = Host(DataRollbackModal.for_config(config(tmp_path, DATABASE)))  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("tab", *"shop_db", "enter")
        assert app.answers == []
        assert app.focused is not None and app.focused.id == "migrate-down"


def test_data_rollback_modal_snapshot(snap_compare, tmp_path: Path) -> None:
    app = Host(DataRollbackModal.for_config(config(tmp_path, DATABASE)))  # type: ignore[arg-type]
    assert snap_compare(app, terminal_size=SIZE)


# -- the screens that ask it -------------------------------------------------------------------


async def test_deploy_screen_asks_after_the_typed_app_name(ui_ctx: AppContext) -> None:
    """R and the watch alarm's one key both go through both questions; Escape = code only."""
    seed_deployment(ui_ctx, upto="verify")
    app = ShipdeckApp(ui_ctx, poll_processes=False, connect_on_start=False)
    calls: list[tuple[str, DataRollback]] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await open_deploy(app, pilot)
        screen = app.screen
        assert isinstance(screen, DeployScreen)
        screen.rollback = lambda reason, choice: calls.append((reason, choice))  # type: ignore[method-assign]
        alarm = WatchPanel.RollbackRequested(None, "watch: 5xx rate 4x the baseline")  # type: ignore[arg-type]
        for start, choice in (("R", "escape"), ("R", "migrate-down"), (alarm, "escape")):
            if start == "R":
                await pilot.press("R")
            else:
                screen.post_message(start)  # type: ignore[arg-type]
            await wait_for(lambda: isinstance(app.screen, ConfirmModal), pilot)
            await pilot.press(*"demo", "enter")
            await wait_for(lambda: isinstance(app.screen, DataRollbackModal), pilot)
            if choice == "escape":
                await pilot.press("escape")
            else:
                await pilot.press("tab", *"demo")
                await pilot.click(f"#{choice}")
            await wait_for(lambda: app.screen is screen, pilot)
    assert calls == [
        ("operator rollback from the console", DataRollback.CODE_ONLY),
        ("operator rollback from the console", DataRollback.MIGRATE_DOWN),
        ("watch: 5xx rate 4x the baseline", DataRollback.CODE_ONLY),
    ]


async def test_emergency_rollback_asks_the_same_question(
    ui_ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui.core.workflow import Workflow

    calls: list[tuple[str, DataRollback]] = []

    async def fake_rollback(wf: Any, reason: str, data: DataRollback) -> Outcome:
        calls.append((reason, data))
        return Outcome(False, "rolled_back", "rolled back; database NOT migrated down: boom")

    monkeypatch.setattr(Workflow, "rollback", fake_rollback)
    app = ShipdeckApp(ui_ctx, connect_on_start=False, poll_processes=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_emergency(app, pilot)
        await pilot.press("b")
        await wait_for(lambda: isinstance(app.screen, ConfirmModal), pilot)
        await pilot.press(*"demo", "enter")
        await wait_for(lambda: isinstance(app.screen, DataRollbackModal), pilot)
        await pilot.press("tab", *"demo")
        await pilot.click("#migrate-down")
        await wait_for(lambda: app.screen is screen and len(screen.incident.steps) == 3, pilot)
    assert calls == [("emergency triage", DataRollback.MIGRATE_DOWN)]
    assert incident_steps(ui_ctx)[1:3] == [
        "incident: roll back: started (code + down-migration)",
        "incident: roll back: rolled back; database NOT migrated down: boom",
    ]
