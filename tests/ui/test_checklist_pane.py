"""The checklist pane: Pilot tests and snapshots (mid-run, failed item detail, sign-off,
override modal) at 120x40, over a real journal and real checks on a tiny local project."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.widgets import Footer

from screens.checklist_detail import ChecklistDetailScreen
from tests.helpers import wait_for
from tests.ui.conftest import FixedClock
from tui.app import ShipdeckApp
from tui.context import AppContext
from tui.core.checklist import ItemState
from tui.core.config import load_config
from tui.core.hosts import HostPool
from tui.core.journal import Journal
from tui.core.redact import Redactor
from widgets.checklist_pane import ChecklistPane
from widgets.override_modal import OverrideModal
from widgets.signoff_modal import SignOffModal

SIZE = (120, 40)
THURSDAY_10AM = 1_795_687_200.0  # 2026-11-26 10:00 UTC (the ui conftest sets TZ=UTC)

CONFIG = """
[app]
name = "shop"
root = "{root}"
layout = "in-place"
pm2_bin = "/nonexistent/pm2"

[[hosts]]
name = "local"
transport = "local"

[[checklist.items]]
id = "smoke"
label = "Smoke test passes"
section = "Build"
command = ["sh", "-c", "while [ ! -e release ]; do sleep 0.05; done"]
judge = "exit0"
"""


class PaneApp(App[None]):
    """Just the pane (and a footer for its keys), so the snapshots show only what is ours; with
    the console's stylesheet and its way of opening an item's detail (ShipdeckApp's)."""

    CSS_PATH = ShipdeckApp.CSS_PATH

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx

    def compose(self) -> ComposeResult:
        with Vertical(id="checklist-box") as box:
            box.border_title = "Checklist"
            box.styles.border = ("round", "grey")
            yield ChecklistPane(id="checklist")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(ChecklistPane).focus()

    on_open_checklist_detail = ShipdeckApp.on_open_checklist_detail


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[AppContext]:
    root = tmp_path / "app"
    root.mkdir()
    project = tmp_path / "proj"
    (project / "src").mkdir(parents=True)
    (project / "src" / "cart.js").write_text("const n = 1;\nconsole.log('cart', n);\n")
    (project / "package.json").write_text('{"name": "shop", "scripts": {}}')
    path = tmp_path / "shipdeck.toml"
    path.write_text(CONFIG.format(root=root))
    config = load_config(path)
    journal = Journal(tmp_path / "journal.sqlite3", redactor=Redactor.from_config(config),
                      clock=FixedClock())  # fmt: skip
    journal.local_user, journal.jump_host = "ops", "jump1"  # stable across machines
    pool = HostPool(config, journal)
    context = AppContext(config=config, journal=journal, pool=pool,
                         redactor=Redactor.from_config(config), checklist_workdir=str(project),
                         checklist_clock=lambda: THURSDAY_10AM)  # fmt: skip
    yield context
    (root / "release").touch()  # let a still-running smoke check end
    context.close()


def state(pane: ChecklistPane, item_id: str) -> ItemState | None:
    res = pane.runner.results.get(item_id) if pane.runner else None
    return res.state if res else None


def select(pane: ChecklistPane, item_id: str) -> None:
    for line in range(pane.last_line + 1):
        node = pane.get_node_at_line(line)
        if node is not None and node.data == item_id:
            pane.cursor_line = line
            return
    raise AssertionError(f"{item_id} not in the pane")


DONE_FAST = ("tests", "lint", "typescript", "console_log", "build", "bundle_size",
             "build_warnings", "env_vars", "secrets", "migrations", "feature_flags")  # fmt: skip


async def start_run(app: PaneApp, pilot) -> ChecklistPane:
    pane = app.query_one(ChecklistPane)
    await wait_for(lambda: pane.decision is not None, pilot)
    await pilot.press("c")
    await wait_for(lambda: all(state(pane, i) not in (None, ItemState.RUNNING)
                               for i in DONE_FAST), pilot)  # fmt: skip
    await wait_for(lambda: state(pane, "smoke") == ItemState.RUNNING, pilot)
    await pilot.pause()
    return pane


async def test_run_all_then_the_last_check_finishes(ctx: AppContext) -> None:
    app = PaneApp(ctx)
    async with app.run_test(size=SIZE) as pilot:
        pane = await start_run(app, pilot)
        assert state(pane, "console_log") == ItemState.FAIL
        assert pane.runner.results["console_log"].summary == "src/cart.js:2"
        assert state(pane, "typescript") == ItemState.SKIPPED
        assert state(pane, "monitoring") == ItemState.PASS  # the console itself
        (Path(ctx.config.app.root) / "release").touch()
        await wait_for(lambda: state(pane, "smoke") == ItemState.PASS, pilot)
        # Journaled: a fresh runner (a restarted console) sees the same.
        from tui.core.checklist_runner import ChecklistRunner

        again = ChecklistRunner(ctx.config, ctx.journal)
        assert again.results["console_log"].state == ItemState.FAIL
        assert again.results["smoke"].state == ItemState.PASS
        assert app.query_one("#checklist-box").border_subtitle.startswith("gate: CLOSED")


async def test_keys_sign_off_detail_and_override(ctx: AppContext) -> None:
    app = PaneApp(ctx)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ChecklistPane)
        await wait_for(lambda: pane.decision is not None, pilot)
        # space on an automated item refuses; on a signed item it opens the sign-off modal.
        select(pane, "lint")
        await pilot.press("space")
        assert not isinstance(app.screen, SignOffModal)
        select(pane, "review")
        await pilot.press("space")
        assert isinstance(app.screen, SignOffModal)
        await pilot.press(*"PR 12 approved", "enter")
        await wait_for(lambda: state(pane, "review") == ItemState.SIGNED, pilot)
        [so] = ctx.journal.sign_offs(None)
        assert (so.item_id, so.note, so.who) == ("review", "PR 12 approved", "ops@jump1")
        # enter: the detail screen; escape back.
        await pilot.press("enter")
        assert isinstance(app.screen, ChecklistDetailScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, ChecklistDetailScreen)
        # o: the override modal; a too-short reason cannot be submitted.
        await pilot.press("o")
        assert isinstance(app.screen, OverrideModal)
        await pilot.press(*"ok", "enter")
        assert isinstance(app.screen, OverrideModal)
        await pilot.press(*" -- hotfix for the outage", "enter")
        await wait_for(lambda: not isinstance(app.screen, OverrideModal), pilot)
        [ov] = ctx.journal.overrides(None)
        assert (ov.gate, ov.reason) == ("checklist", "ok -- hotfix for the outage")
        await wait_for(lambda: pane.decision is not None and pane.decision.open, pilot)
        notes = [e.message for e in ctx.journal.events(kinds=["note"])]
        assert any("checklist gate overridden by ops@jump1" in m for m in notes)


def test_snapshot_mid_run(snap_compare, ctx: AppContext) -> None:
    app = PaneApp(ctx)

    async def run_before(pilot) -> None:
        await start_run(app, pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_snapshot_failed_item_detail(snap_compare, ctx: AppContext) -> None:
    app = PaneApp(ctx)

    async def run_before(pilot) -> None:
        pane = await start_run(app, pilot)
        # When, how long and where (a tmp dir) are real and vary: pin them for the picture.
        res = pane.runner.results["console_log"]
        assert res.data["where"].startswith("jump host /")
        pane.runner.results["console_log"] = replace(
            res, ts=THURSDAY_10AM, duration=0.04, data={**res.data, "where": "jump host ~/shop"}
        )
        select(pane, "console_log")
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, ChecklistDetailScreen), pilot)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_snapshot_sign_off(snap_compare, ctx: AppContext) -> None:
    app = PaneApp(ctx)

    async def run_before(pilot) -> None:
        pane = app.query_one(ChecklistPane)
        await wait_for(lambda: pane.decision is not None, pilot)
        select(pane, "rollback_plan")
        await pilot.press("space")
        await wait_for(lambda: isinstance(app.screen, SignOffModal), pilot)
        await pilot.press(*"runbook reviewed with SRE", "tab", *"https://wiki.example/rb/shop")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_snapshot_override_modal(snap_compare, ctx: AppContext) -> None:
    app = PaneApp(ctx)

    async def run_before(pilot) -> None:
        await start_run(app, pilot)
        await pilot.press("o")
        await wait_for(lambda: isinstance(app.screen, OverrideModal), pilot)
        await pilot.press(*"hotfix for the checkout outage, approved by Dana")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


async def test_read_only_console_runs_and_signs_nothing(ctx: AppContext) -> None:
    ctx.read_only = True
    app = PaneApp(ctx)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ChecklistPane)
        await wait_for(lambda: pane.decision is not None, pilot)
        select(pane, "console_log")
        await pilot.press("c", "x")
        select(pane, "review")
        await pilot.press("space", "o")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, (SignOffModal, OverrideModal))
        assert ctx.journal.events(kinds=["check"]) == []
        assert ctx.journal.sign_offs(None) == []
