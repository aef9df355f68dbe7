"""The automated checklist items against a real Node project, run by the real npm and node.

examples/checklist-project passes every item; each of its variants breaks exactly one. The
project is copied once per session and `npm ci` brings typescript (for `tsc --noEmit`); each
variant is a copy with that node_modules linked in and the variant's files laid over it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.local_app import in_place_config, local_config
from tui.core.checklist import ItemState
from tui.core.checklist_runner import ChecklistRunner
from tui.core.hosts import HostPool
from tui.core.journal import Journal

PROJECT = Path(__file__).resolve().parents[2] / "examples" / "checklist-project"


def _copy(dest: Path) -> Path:
    shutil.copytree(
        PROJECT, dest, ignore=shutil.ignore_patterns("variants", "node_modules", "dist")
    )
    return dest


@pytest.fixture(scope="session")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    path = _copy(tmp_path_factory.mktemp("project") / "base")
    proc = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if proc.returncode != 0:
        pytest.skip(f"npm ci failed (offline?): {proc.stderr.strip().splitlines()[-1:]}")
    return path


def variant(base: Path, tmp_path: Path, name: str | None) -> Path:
    path = _copy(tmp_path / (name or "clean"))
    (path / "node_modules").symlink_to(base / "node_modules")
    if name:
        shutil.copytree(PROJECT / "variants" / name, path, dirs_exist_ok=True)
    return path


@pytest.fixture
def make_runner(tmp_path: Path):
    config = local_config(tmp_path)
    journal = Journal(tmp_path / "journal.sqlite3")
    pool = HostPool(config, journal)

    def make(workdir: Path) -> ChecklistRunner:
        return ChecklistRunner(config, journal, pool, workdir=workdir)

    yield make
    journal.close()


CODE_ITEMS = ["tests", "lint", "typescript", "console_log", "build", "bundle_size",
              "build_warnings"]  # fmt: skip


async def test_clean_project_passes_every_code_and_build_item(base, tmp_path, make_runner):
    runner = make_runner(variant(base, tmp_path, None))
    results = await runner.run(CODE_ITEMS)
    states = {k: r.state for k, r in results.items()}
    assert states == dict.fromkeys(CODE_ITEMS, ItemState.PASS), runner.lines()
    assert results["tests"].summary == "3 passed, 0 failed"
    assert results["bundle_size"].summary.endswith("of 500 KB budget")
    # Journaled first: a restarted console sees the same states.
    again = make_runner(variant(base, tmp_path / "again", None))
    assert {k: again.results[k].state for k in CODE_ITEMS} == states


@pytest.mark.parametrize(
    ("name", "item", "expect"),
    [
        ("failing-test", "tests", "1 failed"),
        ("lint-error", "lint", "1 problem(s)"),
        ("ts-error", "typescript", "src/discount.js:4 TS2322"),
        ("console-log", "console_log", "src/discount.js:5"),
        ("big-bundle", "bundle_size", "KB > 500 KB budget"),
        ("build-warning", "build_warnings", "1 warning(s): WARNING in src/discount.js"),
    ],
)
async def test_each_variant_fails_its_item(base, tmp_path, make_runner, name, item, expect):
    runner = make_runner(variant(base, tmp_path, name))
    results = await runner.run([item])
    assert results[item].state == ItemState.FAIL, runner.line(item)
    assert expect in results[item].summary
    decision = runner.decision()
    assert not decision.open
    assert any(line.startswith(f"[{runner.by_id[item].section}] {runner.by_id[item].label}: FAIL")
               for line in decision.blocking)  # fmt: skip


async def test_console_log_line_names_each_hit(base, tmp_path, make_runner):
    path = variant(base, tmp_path, "console-log")
    (path / "src" / "extra.js").write_text("// ok\nconsole.log('a')\n")
    runner = make_runner(path)
    await runner.run(["console_log"])
    assert runner.line("console_log") == (
        "[Code Quality] No console.log statements: FAIL (src/discount.js:5, src/extra.js:2)"
    )


JUDGED = """
[[checklist.items]]
id = "warning-budget"
label = "At most one build warning"
command = ["npm", "run", "--silent", "build"]
judge = "budget"
pattern = '(\\d+) warnings?$'
budget = {budget}

[[checklist.items]]
id = "tests-regex"
label = "No failed tests"
command = ["npm", "test"]
judge = "regex"
pattern = '^# pass \\d+$'
fail_pattern = '^# fail [1-9]'
"""


@pytest.mark.parametrize(
    ("name", "budget", "expect"),
    [
        (None, 0, {"warning-budget": (ItemState.PASS, "local: 0 of 0 budget"),
                   "tests-regex": (ItemState.PASS, "local: matched: # pass 3")}),
        ("build-warning", 0, {"warning-budget": (ItemState.FAIL, "local: 1 > 0 budget")}),
        ("build-warning", 1, {"warning-budget": (ItemState.PASS, "local: 1 of 1 budget")}),
        ("failing-test", 0, {"tests-regex": (ItemState.FAIL,
                                             "local: fail_pattern matched: # fail 1")}),
    ],
)  # fmt: skip
async def test_custom_items_judged_by_budget_and_regex(base, tmp_path, name, budget, expect):
    """Custom items run where the app lives (here the project itself, in place), judged by the
    real npm's output."""
    root = variant(base, tmp_path, name)
    config = in_place_config(tmp_path, JUDGED.format(budget=budget), "judged.toml", root=root)
    journal = Journal(tmp_path / "journal.sqlite3")
    pool = HostPool(config, journal)
    try:
        results = await ChecklistRunner(config, journal, pool).run(list(expect))
    finally:
        await pool.close()
        journal.close()
    assert {k: (r.state, r.summary) for k, r in results.items()} == expect
