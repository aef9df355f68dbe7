"""The checklist model, its state in the journal (surviving a restart), and the gate."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from tests.local_app import in_place_config, local_config
from tui.core.checklist import ItemKind, ItemResult, ItemState, build_items, item_line
from tui.core.checklist_runner import ChecklistRunner, gate_for_deploy
from tui.core.config import load_config
from tui.core.hosts import HostPool
from tui.core.journal import Journal

SIGNED = ("review", "stakeholders", "support", "rollback_plan")
THURSDAY_MORNING = datetime(2026, 11, 26, 10, 0).timestamp()  # local time: inside the window
FRIDAY_MORNING = datetime(2026, 11, 27, 10, 0).timestamp()


def test_all_five_sections_and_every_seed_item(tmp_path: Path) -> None:
    items = build_items(local_config(tmp_path))
    assert [i.section for i in items].count("Code Quality") == 5
    assert len(items) == 20  # the seed's 19 and pm2_cluster_ready
    assert {i.id for i in items if i.kind == ItemKind.SIGNED} == set(SIGNED)


def test_custom_items_optional_and_replacing_a_default(tmp_path: Path) -> None:
    cfg = local_config(
        tmp_path,
        """
[checklist]
optional = ["typescript"]

[[checklist.items]]
id = "smoke"
label = "Smoke test passes"
section = "build"
command = "true"
judge = "exit0"

[[checklist.items]]
id = "feature_flags"
label = "Feature flags match flags.json"
command = ["node", "scripts/flags.js"]
judge = "exit0"

[[checklist.items]]
id = "iac_plan"
label = "Terraform plan destroys nothing"
section = "Safety"
command = ["terraform", "plan", "-no-color"]
judge = "exit0"
""",
    )
    items = {i.id: i for i in build_items(cfg)}
    assert items["smoke"].section == "Build" and items["smoke"].custom
    assert items["feature_flags"].section == "Environment"
    assert items["feature_flags"].command == ("node", "scripts/flags.js")
    assert items["typescript"].optional and items["iac_plan"].optional
    assert not items["smoke"].optional


def test_line_format(tmp_path: Path) -> None:
    items = {i.id: i for i in build_items(local_config(tmp_path))}
    res = ItemResult("console_log", ItemState.FAIL, "src/a.js:12, src/b.js:40")
    assert item_line(items["console_log"], res) == (
        "[Code Quality] No console.log statements: FAIL (src/a.js:12, src/b.js:40)"
    )
    assert item_line(items["review"], None) == "[Code Quality] Code reviewed and approved: pending"


async def test_gate_refuses_a_failing_item_and_an_override_lets_it_through(
    tmp_path: Path, journal: Journal
) -> None:
    cfg = local_config(tmp_path)
    dep = journal.start_deployment("shop", "v2")
    journal.record(kind="step.ok", step="backup", message="BACKUP ok", deployment_id=dep.id)
    runner = ChecklistRunner(cfg, journal, deployment_id=dep.id, clock=lambda: THURSDAY_MORNING)
    for item_id in (*SIGNED, "team_notified"):
        runner.results[item_id] = ItemResult(item_id, ItemState.PENDING, signable=True)
        runner.sign(item_id, note="ok")
    # Every automated item recorded as passed except one.
    for item in runner.items:
        if item.kind == ItemKind.AUTOMATED and item.id != "team_notified":
            state = ItemState.FAIL if item.id == "lint" else ItemState.PASS
            journal.record(kind="check", step="checklist", deployment_id=dep.id,
                           message=item.label, data={"item": item.id, "state": str(state),
                                                     "summary": "2 problems"})  # fmt: skip
    clock = lambda: THURSDAY_MORNING  # noqa: E731
    decision = await gate_for_deploy(cfg, journal, dep.id, clock=clock)
    assert not decision.open
    assert decision.blocking == ["[Code Quality] No linting errors: FAIL (2 problems)"]
    assert decision.policy_violations == []
    assert "DEPLOY refused" in decision.message()

    runner.reload()
    runner.override("checklist", "hotfix for the checkout outage", blocking=decision.blocking)
    decision = await gate_for_deploy(cfg, journal, dep.id, clock=clock)
    assert decision.open
    assert decision.overridden == {"checklist": "hotfix for the checkout outage"}
    [override] = journal.overrides(dep.id)
    assert (override.gate, override.reason) == ("checklist", "hotfix for the checkout outage")
    notes = [e.message for e in journal.events(deployment_id=dep.id, kinds=["note"])]
    assert any("checklist gate overridden by" in m and "checkout outage" in m for m in notes)
    gates = [e for e in journal.events(deployment_id=dep.id, kinds=["check"]) if e.data.get("gate")]
    assert [g.data["open"] for g in gates] == [False, True]

    # A Friday: the policy half closes the gate again until it too is overridden.
    friday = await gate_for_deploy(cfg, journal, dep.id, clock=lambda: FRIDAY_MORNING)
    assert not friday.open and friday.policy_violations[0].startswith("no deploys on Fridays")
    runner.override("policy", "incident fix, approved by the CTO")
    assert (await gate_for_deploy(cfg, journal, dep.id, clock=lambda: FRIDAY_MORNING)).open


async def test_state_survives_a_restart_and_preflight_rows_carry_over(tmp_path: Path) -> None:
    cfg = local_config(tmp_path)
    path = tmp_path / "j.sqlite3"
    j1 = Journal(path)
    pre = ChecklistRunner(cfg, j1)  # pre-flight: no deployment yet
    pre.sign("review", note="PR #12", link="https://git.example/pr/12")
    j1.record(kind="check", step="checklist", message="x",
              data={"item": "tests", "state": "pass", "summary": "3 passed"})  # fmt: skip
    pre.override("checklist", "known flaky lint")
    dep = j1.start_deployment("shop", "v2")
    j1.close()

    j2 = Journal(path)  # the console restarted
    runner = ChecklistRunner(cfg, j2, deployment_id=dep.id)
    assert runner.results["review"].state == ItemState.SIGNED
    assert runner.results["review"].note == "PR #12"
    assert runner.results["review"].link == "https://git.example/pr/12"
    assert runner.results["tests"].summary == "3 passed"
    await gate_for_deploy(cfg, j2, dep.id)
    # The pre-flight override now belongs to the deployment (the changelog lists its overrides).
    assert [o.reason for o in j2.overrides(dep.id)] == ["known flaky lint"]

    # After that deployment ends, its pre-flight rows are stale for the next one.
    j2.update_deployment(dep.id, state="succeeded")
    nxt = j2.start_deployment("shop", "v3")
    fresh = ChecklistRunner(cfg, j2, deployment_id=nxt.id)
    assert "review" not in fresh.results and "tests" not in fresh.results
    j2.close()


async def test_preflight_gate_does_not_wait_for_the_deployments_own_steps(
    tmp_path: Path, journal: Journal
) -> None:
    runner = ChecklistRunner(local_config(tmp_path), journal)
    await runner.refresh_journal_items()
    decision = runner.decision()
    assert not any("Database backup completed" in line for line in decision.blocking)
    assert runner.results["db_backup"].state == ItemState.PENDING


async def test_backup_step_satisfies_backup_and_version(tmp_path: Path, journal: Journal) -> None:
    dep = journal.start_deployment("shop", "v2")
    runner = ChecklistRunner(local_config(tmp_path), journal, deployment_id=dep.id)
    await runner.refresh_journal_items()
    assert runner.results["db_backup"].state == ItemState.PENDING
    journal.record(kind="step.start", step="backup", message="b", deployment_id=dep.id)
    journal.record(kind="step.ok", step="backup", message="b", deployment_id=dep.id)
    journal.update_deployment(dep.id, from_version="1.0.0", data={"from_git": "3f2ba2a v1.0.0"})
    await runner.refresh_journal_items()
    assert runner.results["db_backup"].state == ItemState.PASS
    assert runner.results["version_noted"].summary == "live version 1.0.0 (3f2ba2a v1.0.0)"


def test_automated_items_cannot_be_signed(tmp_path: Path, journal: Journal) -> None:
    runner = ChecklistRunner(local_config(tmp_path), journal)
    with pytest.raises(ValueError, match="checked automatically"):
        runner.sign("lint")
    with pytest.raises(ValueError, match="reason"):
        runner.override("checklist", "  ")


async def test_custom_exit0_item_and_iac_plan(tmp_path: Path, journal: Journal) -> None:
    plan = tmp_path / "plan.txt"
    plan.write_text(
        "Plan: 1 to add, 0 to change, 1 to destroy.\n  # aws_instance.web will be destroyed\n"
    )
    cfg = in_place_config(
        tmp_path,
        f"""
[[checklist.items]]
id = "smoke"
label = "Smoke"
command = ["sh", "-c", "exit 3"]
judge = "exit0"

[[checklist.items]]
id = "iac_plan"
label = "Plan"
command = ["cat", "{plan}"]
judge = "exit0"
""",
    )

    runner = ChecklistRunner(cfg, journal, HostPool(cfg, journal), workdir=tmp_path)
    results = await runner.run(["smoke", "iac_plan"])
    assert results["smoke"].state == ItemState.FAIL
    assert results["smoke"].summary == "local: exit 3"
    assert results["iac_plan"].state == ItemState.FAIL
    assert results["iac_plan"].summary == "1 to add, 0 to change, 1 to destroy: aws_instance.web"
    # Optional: a failing plan is a warning of the gate, not a blocker.
    assert any("Plan: FAIL" in w for w in runner.decision().warnings)


async def test_a_check_that_hangs_fails_at_its_timeout(tmp_path: Path, journal: Journal) -> None:
    import time

    cfg = in_place_config(
        tmp_path,
        """
[checklist]
check_timeout_s = 0.5

[[checklist.items]]
id = "slow"
label = "Slow"
command = ["sleep", "30"]
judge = "exit0"
""",
    )
    runner = ChecklistRunner(cfg, journal, HostPool(cfg, journal))
    t0 = time.monotonic()
    # Run beside a quick one: concurrently, each bounded by its own timeout.
    results = await runner.run(["slow", "secrets"])
    assert time.monotonic() - t0 < 5
    assert results["slow"].state == ItemState.FAIL
    assert results["slow"].summary == "local: timed out after 0.5s"
    assert results["secrets"].state == ItemState.SKIPPED


async def test_migrations_listed_from_the_status_script(tmp_path: Path, journal: Journal) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "status.js").write_text(
        "console.log('001_users      up');\nconsole.log('002_orders     pending');\n"
        "console.log('003_refunds    pending');\n"
    )
    (proj / "package.json").write_text('{"scripts": {"migrate:status": "node status.js"}}')
    cfg = local_config(tmp_path, '\n[steps.build]\nmigrate = "npm run migrate"\n')
    runner = ChecklistRunner(cfg, journal, workdir=proj)
    result = (await runner.run(["migrations"]))["migrations"]
    assert result.state == ItemState.PASS
    assert result.summary == "2 pending: 002_orders     pending, 003_refunds    pending"
    # Without a status script nothing can list them: a person signs after reviewing.
    (proj / "package.json").write_text('{"scripts": {}}')
    result = (await runner.run(["migrations"]))["migrations"]
    assert result.state == ItemState.PENDING and result.signable
    runner.sign("migrations", note="reviewed 002 and 003")
    assert runner.results["migrations"].state == ItemState.SIGNED


async def test_commits_ahead_warning_from_the_repo_on_the_host(
    tmp_path: Path, journal: Journal
) -> None:
    import subprocess

    repo = tmp_path / "origin"

    def git(*args: str) -> str:
        argv = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args]
        return subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip()

    repo.mkdir()
    git("init", "-q", "-b", "main")
    git("commit", "-q", "--allow-empty", "-m", "live")
    live = git("rev-parse", "--short", "HEAD")
    for n in range(3):
        git("commit", "-q", "--allow-empty", "-m", f"change {n}")
    policy = '\n[policy]\nmax_commits_ahead = 2\nno_deploy_days = []\nno_deploy_after = ""\n'
    path = local_config(tmp_path, policy).source
    path.write_text(
        path.read_text().replace('root = "/srv/shop"', f'root = "/srv/shop"\nrepo = "{repo}"')
    )
    cfg = load_config(path)
    dep = journal.start_deployment("shop", "main")
    journal.update_deployment(dep.id, data={"from_git": f"{live} live"})
    runner = ChecklistRunner(cfg, journal, HostPool(cfg, journal), deployment_id=dep.id)
    violations, warnings = await runner.policy()
    assert violations == []
    assert warnings == [
        f"main is 3 commits ahead of {live} (policy.max_commits_ahead = 2): "
        "consider smaller deploys"
    ]
