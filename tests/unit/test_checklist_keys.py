"""The [checklist] and [notify] keys that were module defaults: each one changes what runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.local_app import local_config
from tui.core.checklist import ItemState
from tui.core.checklist_runner import ChecklistRunner
from tui.core.config import NotifyConfig
from tui.core.hosts import HostPool
from tui.core.journal import Journal
from tui.core.notify import DEPLOY_STARTED, Notifier


@pytest.fixture
def project(tmp_path: Path) -> Path:
    proj = tmp_path / "proj"
    (proj / "src").mkdir(parents=True)
    (proj / "package.json").write_text('{"name": "shop", "scripts": {}}')
    return proj


def test_defaults_are_the_former_constants(tmp_path: Path) -> None:
    cfg = local_config(tmp_path, "")
    c = cfg.checklist
    assert c.check_timeout_s == 600.0 and c.workdir == "" and c.iac_allow_destroy is False
    assert c.tsc_command == ("npx", "--no-install", "tsc", "--noEmit")
    assert c.migrations_status == ("npm", "run", "--silent", "migrate:status")
    assert "ts" in c.source_extensions and "js" in c.source_extensions
    assert cfg.notify.backoff_s == 0.5


async def test_workdir_from_config_relative_to_the_config_file(
    tmp_path: Path, journal: Journal, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "src" / "a.js").write_text("console.log(1);\n")
    monkeypatch.chdir(tmp_path.parent)  # not the checkout: only the key can point there
    cfg = local_config(tmp_path, '\n[checklist]\nworkdir = "proj"\n')
    runner = ChecklistRunner(cfg, journal)
    assert runner.workdir == str(project)
    result = (await runner.run(["console_log"]))["console_log"]
    assert (result.state, result.summary) == (ItemState.FAIL, "src/a.js:1")
    # --workdir (the argument) wins over the key.
    other = tmp_path / "other"
    (other / "src").mkdir(parents=True)
    runner = ChecklistRunner(cfg, journal, workdir=other)
    result = (await runner.run(["console_log"]))["console_log"]
    assert (result.state, result.summary) == (ItemState.PASS, "none in src")
    # A configured checkout that is not there: one line saying so.
    cfg = local_config(tmp_path, '\n[checklist]\nworkdir = "gone"\n', "gone.toml")
    result = (await ChecklistRunner(cfg, journal).run(["lint"]))["lint"]
    assert result.state == ItemState.FAIL
    assert result.summary == f"no checkout to check: {tmp_path / 'gone'} is not a directory"


async def test_tsc_command_and_source_extensions(
    tmp_path: Path, journal: Journal, project: Path
) -> None:
    (project / "tsconfig.json").write_text("{}")
    (project / "src" / "a.coffee").write_text("console.log 'x'\nconsole.log('y')\n")
    (project / "src" / "b.js").write_text("console.log('z')\n")
    tsc = "src/a.ts(3,5): error TS2322: Type 'string' is not assignable to type 'number'."
    cfg = local_config(
        tmp_path,
        f"""
[checklist]
tsc_command = ["sh", "-c", "echo \\"{tsc}\\"; exit 2"]
source_extensions = ["coffee"]
""",
    )
    runner = ChecklistRunner(cfg, journal, workdir=project)
    results = await runner.run(["typescript", "console_log"])
    assert results["typescript"].state == ItemState.FAIL
    assert results["typescript"].summary == "1 error(s): src/a.ts:3 TS2322"
    assert results["console_log"].summary == "src/a.coffee:2"  # b.js is not searched
    # tsc_command = [] turns the check off, with the reason.
    cfg = local_config(tmp_path, "\n[checklist]\ntsc_command = []\n", "off.toml")
    result = await ChecklistRunner(cfg, journal, workdir=project).run(["typescript"])
    assert result["typescript"].state == ItemState.SKIPPED
    assert result["typescript"].summary == "no [checklist] tsc_command configured"


async def test_warning_pattern_judges_the_build_output(
    tmp_path: Path, journal: Journal, project: Path
) -> None:
    (project / "build.sh").write_text("echo 'WARN  chunk too big'\necho '[caution] old api'\n")
    (project / "package.json").write_text('{"scripts": {"build": "sh build.sh"}}')
    (project / "dist").mkdir()
    cfg = local_config(tmp_path, '\n[checklist]\nwarning_pattern = "\\\\[caution\\\\]"\n')
    runner = ChecklistRunner(cfg, journal, workdir=project)
    result = (await runner.run(["build_warnings"]))["build_warnings"]
    assert result.state == ItemState.FAIL
    assert result.summary == "1 warning(s): [caution] old api"


async def test_migrations_status_command_and_pending_pattern(
    tmp_path: Path, journal: Journal, project: Path
) -> None:
    (project / "status.sh").write_text("echo '001_users  applied'\necho '002_orders  TODO'\n")
    cfg = local_config(
        tmp_path,
        """
[steps.build]
migrate = "npm run migrate"

[checklist]
migrations_status = ["sh", "status.sh"]
migrations_pending_pattern = "TODO$"
""",
    )
    result = await ChecklistRunner(cfg, journal, workdir=project).run(["migrations"])
    assert (result["migrations"].state, result["migrations"].summary) == (
        ItemState.PASS,
        "1 pending: 002_orders  TODO",
    )
    # An npm script that package.json lacks, or no command: a person signs after reviewing.
    for extra, why in (('["npm", "run", "db:status"]', "no 'db:status' script"),
                       ("[]", "no [checklist] migrations_status command")):  # fmt: skip
        text = f"\n[checklist]\nmigrations_status = {extra}\n"
        cfg = local_config(
            tmp_path, '\n[steps.build]\nmigrate = "npm run migrate"\n' + text, "m.toml"
        )
        res = await ChecklistRunner(cfg, journal, workdir=project).run(["migrations"])
        assert res["migrations"].state == ItemState.PENDING and res["migrations"].signable
        assert res["migrations"].summary.startswith(why), res["migrations"].summary


async def test_iac_allow_destroy_key(tmp_path: Path, journal: Journal) -> None:
    plan = tmp_path / "plan.txt"
    plan.write_text(
        "Plan: 0 to add, 0 to change, 1 to destroy.\n  # aws_instance.old will be destroyed\n"
    )
    items = f"""
[[checklist.items]]
id = "iac_plan"
label = "Plan"
command = ["cat", "{plan}"]
judge = "exit0"
"""
    for allow, state in (("false", ItemState.FAIL), ("true", ItemState.PASS)):
        cfg = local_config(tmp_path, f"\n[checklist]\niac_allow_destroy = {allow}\n" + items)
        runner = ChecklistRunner(cfg, journal, HostPool(cfg, journal), workdir=tmp_path)
        result = (await runner.run(["iac_plan"]))["iac_plan"]
        assert result.state == state, result
        assert "aws_instance.old" in result.summary


async def test_notify_backoff_s_from_config() -> None:
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    # Port 9 on loopback: nothing listens, every attempt fails at once.
    cfg = NotifyConfig(webhooks=("http://127.0.0.1:9/hook",), retries=3, backoff_s=0.25)
    [delivery] = await Notifier(cfg, sleep=sleep).send(DEPLOY_STARTED, "m")
    assert not delivery.delivered and delivery.attempts == 4
    assert pauses == [0.25, 0.5, 1.0]
    assert Notifier(cfg, backoff_s=0.01).backoff_s == 0.01  # an explicit one still wins
