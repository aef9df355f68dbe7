"""The demo app's own migrations (examples/demo-app: `npm run migrate` / `migrate:down`, which the
rig's origin.git carries in v1.0.0, v1.1.0 and main) through shipdeck on the real rig: BUILD runs
the up-migration, the DB rollback path (``Database.migrate_down``) runs the down-migration in the
release, and the rows stay.

The database is the test's own (created through the rig's trust auth as postgres, dropped
afterwards); the app is the test's own (the `app` fixture)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.rig_postgres import orders_database
from tests.integration.rig_postgres import psql_lines as psql
from tests.integration.test_workflow_support import (
    OwnApp,
    journal_events,
    live_release,
    served_version,
    shipdeck,
    ssh,
    write_own_config,
)
from tests.rigenv import RigEnv
from tui.core.config import load_config
from tui.core.database import Database, DatabaseError
from tui.core.journal import Journal
from tui.core.transport import make_transport


@pytest.fixture
def dbname(rig: RigEnv) -> Iterator[str]:
    with orders_database(rig, "shipdeck_migtest") as name:
        yield name


def columns(rig: RigEnv, db: str, table: str) -> list[str]:
    return psql(
        rig,
        "SELECT column_name FROM information_schema.columns"
        f" WHERE table_name = '{table}' ORDER BY ordinal_position",
        db=db,
    )


async def test_migrate_up_on_deploy_then_down_on_rollback(
    app: OwnApp, dbname: str, tmp_path: Path
) -> None:
    rig, journal = app.rig, tmp_path / "j.sqlite3"
    # The app's database settings are its own (psql's PG* variables), not shipdeck's.
    pg_env = ["env", "PGHOST=127.0.0.1", f"PGPORT={rig.pg_port}", f"PGDATABASE={dbname}",
              f"PGUSER={rig.user}"]  # fmt: skip
    extra = (
        f"\n[steps.build]\nmigrate = {json.dumps([*pg_env, 'npm', 'run', 'migrate'])}\n"
        "\n[steps.rollback]\n"
        f"migrate_down = {json.dumps([*pg_env, 'npm', 'run', 'migrate:down'])}\n"
        f'\n[database]\nenabled = true\nhost = "127.0.0.1"\nport = {rig.pg_port}\n'
        f'name = "{dbname}"\nuser = "{rig.user}"\nrun_on = "rig"\n'
        f'backup_dir = "{app.backup_dir}/db"\n'
    )
    write_own_config(app, rig.pm2_home, extra)
    assert columns(rig, dbname, "notes") == []

    done = shipdeck("deploy", "--headless", "--yes", config=app.config, journal=journal)
    assert done.returncode == 0, done.stdout + done.stderr
    assert served_version(app.status_url) == "1.1.0"
    migrated = [e for e in journal_events(journal, kinds=["command"])
                if e.step == "build" and "migrate" in e.argv]  # fmt: skip
    assert migrated and migrated[0].exit_status == 0
    assert "applied 002_notes_pinned" in migrated[0].output_tail
    assert columns(rig, dbname, "notes") == ["id", "body", "created_at", "pinned"]
    assert psql(rig, "SELECT version FROM schema_migrations ORDER BY 1", db=dbname) == [
        "001_create_notes",
        "002_notes_pinned",
    ]
    psql(rig, "INSERT INTO notes (body, pinned) VALUES ('first', true), ('second', false)",
         db=dbname)  # fmt: skip
    new_release = f"{app.root}/releases/{live_release(rig, app.root)}"

    # The code goes back first (the data is left as it is without --restore-db)...
    back = shipdeck("rollback", "--headless", "--yes", config=app.config, journal=journal)
    assert back.returncode == 0, back.stdout + back.stderr
    assert served_version(app.status_url) == "1.0.0"
    assert columns(rig, dbname, "notes")[-1] == "pinned"

    # ...then the DB rollback path runs the release's own down-migration: the latest one.
    config = load_config(app.config)
    transport = make_transport(config.primary_host)
    j = Journal(journal)
    try:
        db = Database(config, transport, j)
        result = await db.migrate_down(new_release)
        assert result.stdout.strip().endswith("migrate: reverted 002_notes_pinned"), result.stdout
        last = j.events(kinds=["action"])[-1]
        assert last.step == "rollback" and last.argv[-3:] == ("npm", "run", "migrate:down")
        assert "reverted 002_notes_pinned" in last.output_tail
    finally:
        await transport.close()
        j.close()
    assert columns(rig, dbname, "notes") == ["id", "body", "created_at"]  # the column is gone
    assert psql(rig, "SELECT body FROM notes ORDER BY id", db=dbname) == ["first", "second"]
    assert psql(rig, "SELECT version FROM schema_migrations", db=dbname) == ["001_create_notes"]
    assert psql(rig, "SELECT item FROM orders ORDER BY id", db=dbname) == ["tea", "coffee", "cake"]
    status = ssh(rig, *pg_env, "npm", "run", "--silent", "migrate:status", "--prefix", new_release)
    assert status.split("\n")[:2] == ["001_create_notes applied", "002_notes_pinned pending"]


def test_migrations_refuse_without_a_database(app: OwnApp, rig: RigEnv) -> None:
    """Not configured is an error, never a silent skip: BUILD runs them only when told to."""
    release = f"{app.root}/current/"
    proc = subprocess.run(
        rig.ssh_command("npm", "run", "--silent", "migrate", "--prefix", release),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines()[0].startswith("migrate: no database configured")


async def test_a_failing_down_migration_is_one_line(
    app: OwnApp, dbname: str, tmp_path: Path
) -> None:
    rig = app.rig
    bad = ["env", "PGHOST=127.0.0.1", f"PGPORT={rig.pg_port}", "PGDATABASE=no_such_db",
           f"PGUSER={rig.user}", "npm", "run", "--silent", "migrate:down"]  # fmt: skip
    write_own_config(app, rig.pm2_home, f"\n[steps.rollback]\nmigrate_down = {json.dumps(bad)}\n")
    config = load_config(app.config)
    transport = make_transport(config.primary_host)
    try:
        with pytest.raises(DatabaseError) as err:
            await Database(config, transport).migrate_down(f"{app.root}/current")
    finally:
        await transport.close()
    assert "\n" not in str(err.value)
    assert str(err.value).endswith('database "no_such_db" does not exist'), err.value
