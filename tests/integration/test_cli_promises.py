"""What README's command table promises, through the headless CLI on the real rig: a deploy
the pre-deploy gate refuses, `--override-gate REASON`, `rollback --reason`, `rollback
--restore-db`, `verify --host`, and a `status` that fails saying why.

One app of the module's own on the rig host (the rig's shared `demo` is left alone); every test
starts from whatever good release is live, makes its own config variant and journal under its
tmp_path, and owns the database it creates.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.rig_postgres import orders_database, psql_lines
from tests.integration.test_workflow_support import (
    OwnApp,
    journal_events,
    live_release,
    make_own_app,
    remove_own_app,
    served_version,
    shipdeck,
    write_own_config,
)
from tests.rigenv import RigEnv
from tui.core.journal import Journal

REVIEW_PENDING = "  [Code Quality] Code reviewed and approved: pending"


@pytest.fixture(scope="module")
def own(rig: RigEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnApp]:
    app = make_own_app(rig, tmp_path_factory.mktemp("promises"))
    try:
        yield app
    finally:
        remove_own_app(app)


def variant(app: OwnApp, path: Path, extra: str = "", replace: dict[str, str] | None = None):
    """The module app's config (gate open, no watch) written to ``path``: ``extra`` appended,
    ``replace`` old -> new applied."""
    write_own_config(dataclasses.replace(app, config=path), str(app.rig.pm2_home), extra)
    text = path.read_text()
    for old, new in (replace or {}).items():
        assert old in text, f"{old!r} not in {path}"
        text = text.replace(old, new)
    path.write_text(text)
    return path


def review_required(app: OwnApp, tmp_path: Path) -> Path:
    """The gate closed by one required sign-off nobody gave (no clock, no check involved)."""
    return variant(app, tmp_path / "review.toml", replace={'"review", ': ""})


def deploy(app: OwnApp, config: Path, journal: Path, *flags: str) -> None:
    done = shipdeck("deploy", "--headless", "--yes", *flags, config=config, journal=journal)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_deploy_the_gate_refuses_exits_1_and_prints_what_blocks(
    own: OwnApp, tmp_path: Path
) -> None:
    rig, journal = own.rig, tmp_path / "j.sqlite3"
    live, version = live_release(rig, own.root), served_version(own.status_url)
    config = review_required(own, tmp_path)
    done = shipdeck("deploy", "--headless", "--yes", config=config, journal=journal)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == (
        "shipdeck: DEPLOY refused: 1 checklist item(s) not passed or signed"
        " (override with a typed reason)"
    ), done.stderr
    assert REVIEW_PENDING in lines[1:], done.stderr
    assert "Traceback" not in done.stderr
    # Nothing live changed: DEPLOY never started, the built release went back.
    assert live_release(rig, own.root) == live and served_version(own.status_url) == version
    started = {e.step for e in journal_events(journal, kinds=["step.start"])}
    assert "deploy" not in started and "backup" in started, started


def test_override_gate_deploys_and_journals_the_reason(own: OwnApp, tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite3"
    reason = f"reviewed at the desk by ann ({secrets.token_hex(3)})"
    deploy(own, review_required(own, tmp_path), journal, "--override-gate", reason)
    assert served_version(own.status_url) == "1.1.0"
    j = Journal(journal)
    try:
        dep = j.deployments(own.name)[0]
        assert dep.state == "succeeded"
        assert {(o.gate, o.reason) for o in j.overrides(dep.id)} == {
            ("checklist", reason),
            ("policy", reason),
        }
        notes = [e.message for e in j.events(deployment_id=dep.id, kinds=["note"])]
        assert any(m.startswith("checklist gate overridden by ") and m.endswith(reason)
                   for m in notes), notes  # fmt: skip
        line = next(c.line for c in j.changelog(own.name) if c.deployment_id == dep.id)
        assert f"checklist: {reason}" in line, line
    finally:
        j.close()


def test_rollback_journals_its_reason_and_says_the_database_is_not_configured(
    own: OwnApp, tmp_path: Path
) -> None:
    rig, journal = own.rig, tmp_path / "j.sqlite3"
    deploy(own, own.config, journal)
    deployed = live_release(rig, own.root)
    reason = f"checkout spinner never stops ({secrets.token_hex(3)})"
    back = shipdeck("rollback", "--headless", "--yes", "--reason", reason,
                    config=own.config, journal=journal)  # fmt: skip
    assert back.returncode == 0, back.stdout + back.stderr
    assert live_release(rig, own.root) != deployed
    j = Journal(journal)
    try:
        rollback = j.deployments(own.name)[0]
        assert rollback.state == "rolled_back" and rollback.data.get("kind") == "rollback"
        events = j.events(deployment_id=rollback.id)
    finally:
        j.close()
    actions = [e for e in events if e.kind == "action" and e.step == "rollback"]
    assert [(a.message, a.data.get("reason")) for a in actions] == [(f"rollback: {reason}", reason)]
    notes = [e.message for e in events if e.kind == "note" and e.step == "rollback"]
    assert "database: not configured" in notes, notes
    assert not any("not available" in e.message for e in events)


def test_rollback_restore_db_puts_the_dump_from_backup_back(own: OwnApp, tmp_path: Path) -> None:
    rig, journal = own.rig, tmp_path / "j.sqlite3"
    with orders_database(rig, "shipdeck_promise") as dbname:
        database = (
            f'\n[database]\nenabled = true\nhost = "127.0.0.1"\nport = {rig.pg_port}\n'
            f'name = "{dbname}"\nuser = "{rig.user}"\nrun_on = "rig"\n'
            f'backup_dir = "{own.backup_dir}/db-{dbname}"\n'
        )
        config = variant(own, tmp_path / "db.toml", database)
        deploy(own, config, journal)
        dumps = [e for e in journal_events(journal, kinds=["command"])
                 if e.step == "backup" and "pg_dump" in " ".join(e.argv)]  # fmt: skip
        assert dumps and dumps[-1].exit_status == 0
        # Written by the new release after BACKUP: the restore takes it away again.
        psql_lines(rig, "INSERT INTO orders VALUES (4, 'late order')", db=dbname)
        orders = "SELECT id || ':' || item FROM orders ORDER BY id"
        assert psql_lines(rig, orders, db=dbname)[-1] == "4:late order"

        back = shipdeck("rollback", "--headless", "--yes", "--restore-db",
                        config=config, journal=journal)  # fmt: skip
        assert back.returncode == 0, back.stdout + back.stderr
        assert psql_lines(rig, orders, db=dbname) == ["1:tea", "2:coffee", "3:cake"]
    restores = [e for e in journal_events(journal, kinds=["action"])
                if e.step == "rollback" and "pg_restore" in " ".join(e.argv)]  # fmt: skip
    assert restores and restores[-1].exit_status == 0, restores


def test_verify_host_checks_that_host_only(own: OwnApp, tmp_path: Path) -> None:
    """A second host that cannot be reached: `verify` fails on it, `verify --host rig` runs on
    the rig alone and passes."""
    journal = tmp_path / "j.sqlite3"
    gone = '\n[[hosts]]\nname = "gone"\naddress = "127.0.0.1"\nport = 1\nuser = "deploy"\n'
    config = variant(own, tmp_path / "two.toml", gone)
    both = shipdeck("verify", config=config, journal=tmp_path / "both.sqlite3")
    assert both.returncode == 1 and "gone: cannot reach" in both.stderr, both.stdout + both.stderr

    one = shipdeck("verify", "--host", "rig", config=config, journal=journal)
    assert one.returncode == 0, one.stdout + one.stderr
    lines = one.stdout.splitlines()
    assert lines and all(line.startswith("[rig] ") for line in lines), one.stdout
    assert lines[0] == "[rig] Health Check: PASS"
    assert "gone" not in one.stdout + one.stderr
    checks = journal_events(journal, kinds=["check"])
    assert checks and {e.host for e in checks} == {"rig"}


def test_status_that_cannot_ask_the_host_says_why_in_one_line(own: OwnApp, tmp_path: Path) -> None:
    """sshd is there but its host key is not in known_hosts: exit 1 and one line why."""
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    rig = own.rig
    config = variant(
        own,
        tmp_path / "nokey.toml",
        replace={f'known_hosts = "{rig.known_hosts}"': f'known_hosts = "{empty}"'},
    )
    for flags in ((), ("--json",)):
        status = shipdeck("status", *flags, config=config, journal=tmp_path / "j.sqlite3")
        assert status.returncode == 1, status.stdout + status.stderr
        lines = status.stderr.splitlines()
        assert len(lines) == 1, status.stderr
        assert lines[0].startswith("shipdeck: status failed: rig: "), lines[0]
        assert "host key" in lines[0], lines[0]
