"""`shipdeck rollback --headless --yes --migrate-down` on the real rig: the code goes back, then
the bad release's own down-migration (the demo app's `npm run migrate:down`) undoes its last
migration in the real PostgreSQL, and the rows stay. A down-migration that fails leaves the
code rolled back and says the database was NOT migrated down (exit 1).

One app and one database for the module (each test deploys what it rolls back)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_database_migrations import columns, psql
from tests.integration.test_workflow_support import (
    OwnApp,
    journal_events,
    live_release,
    make_own_app,
    remove_own_app,
    served_version,
    shipdeck,
)
from tests.rigenv import RigEnv


@pytest.fixture(scope="module")
def dbname(rig: RigEnv) -> Iterator[str]:
    name = f"shipdeck_mdown_{secrets.token_hex(4)}"
    psql(rig, f"CREATE DATABASE {name} OWNER deploy", db="postgres", user="postgres")
    try:
        yield name
    finally:
        psql(rig, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", db="postgres", user="postgres")


def pg_env(rig: RigEnv, db: str) -> list[str]:
    # The app's database settings are its own (psql's PG* variables), not shipdeck's.
    return ["env", "PGHOST=127.0.0.1", f"PGPORT={rig.pg_port}", f"PGDATABASE={db}",
            f"PGUSER={rig.user}"]  # fmt: skip


def migrations(rig: RigEnv, db: str, down_db: str) -> str:
    """BUILD migrates ``db`` up; the down-migration runs against ``down_db``."""
    up = [*pg_env(rig, db), "npm", "run", "--silent", "migrate"]
    down = [*pg_env(rig, down_db), "npm", "run", "--silent", "migrate:down"]
    return (
        f"\n[steps.build]\nmigrate = {json.dumps(up)}\n"
        f"\n[steps.rollback]\nmigrate_down = {json.dumps(down)}\n"
    )


@pytest.fixture(scope="module")
def app(rig: RigEnv, dbname: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnApp]:
    own = make_own_app(rig, tmp_path_factory.mktemp("mdown"), extra=migrations(rig, dbname, dbname))
    try:
        yield own
    finally:
        remove_own_app(own)


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mdown-journal") / "j.sqlite3"


def deploy_new_release(app: OwnApp, journal: Path, dbname: str) -> str:
    """Deploy main (1.1.0; BUILD runs its migrations); returns the live release's directory."""
    done = shipdeck("deploy", "--headless", "--yes", config=app.config, journal=journal)
    assert done.returncode == 0, done.stdout + done.stderr
    assert served_version(app.status_url) == "1.1.0"
    assert columns(app.rig, dbname, "notes")[-1] == "pinned"
    return f"{app.root}/releases/{live_release(app.rig, app.root)}"


def test_the_data_flags_are_refused_before_anything_runs(app: OwnApp, journal: Path) -> None:
    before = served_version(app.status_url)
    for flags, says in (
        (["--migrate-down"], "--migrate-down changes the database schema: it needs --yes"),
        (["--yes", "--migrate-down", "--restore-db"], "exclude each other"),
    ):
        refused = shipdeck("rollback", "--headless", *flags, config=app.config, journal=journal)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert says in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
        assert refused.stdout == ""
    assert served_version(app.status_url) == before


def test_rollback_migrates_down_and_keeps_the_rows(app: OwnApp, journal: Path, dbname: str) -> None:
    rig = app.rig
    bad_release = deploy_new_release(app, journal, dbname)
    psql(rig, "DELETE FROM notes", db=dbname)
    psql(rig, "INSERT INTO notes (body, pinned) VALUES ('first', true), ('second', false)",
         db=dbname)  # fmt: skip

    back = shipdeck("rollback", "--headless", "--yes", "--migrate-down",
                    config=app.config, journal=journal)  # fmt: skip
    assert back.returncode == 0, back.stdout + back.stderr
    assert served_version(app.status_url) == "1.0.0"
    assert columns(rig, dbname, "notes") == ["id", "body", "created_at"]  # 002 undone
    assert psql(rig, "SELECT body FROM notes ORDER BY id", db=dbname) == ["first", "second"]
    assert psql(rig, "SELECT version FROM schema_migrations", db=dbname) == ["001_create_notes"]
    # It ran in the bad release (which stays on disk, marked failed), after the code switch.
    rollback = [e for e in journal_events(journal) if e.step == "rollback"]
    down = [e for e in rollback if e.kind == "command" and "migrate:down" in e.argv]
    assert len(down) == 1 and down[0].exit_status == 0
    assert "reverted 002_notes_pinned" in down[0].output_tail
    switched = next(i for i, e in enumerate(rollback) if "current -> releases/" in e.message)
    assert rollback.index(down[0]) > switched
    assert f"down-migration ran in {bad_release}" in "\n".join(e.message for e in rollback)
    assert "NOT migrated down" not in back.stdout + back.stderr


def test_a_failing_down_migration_still_rolls_the_code_back(
    app: OwnApp, journal: Path, dbname: str, tmp_path: Path
) -> None:
    rig = app.rig
    deploy_new_release(app, journal, dbname)
    broken = tmp_path / "broken.toml"  # same app; the down-migration aims at a missing database
    broken.write_text(
        app.config.read_text().replace(
            migrations(rig, dbname, dbname), migrations(rig, dbname, "no_such_db")
        )
    )
    assert "no_such_db" in broken.read_text()

    back = shipdeck("rollback", "--headless", "--yes", "--migrate-down",
                    config=broken, journal=journal)  # fmt: skip
    assert back.returncode == 1, back.stdout + back.stderr
    assert served_version(app.status_url) == "1.0.0"  # the code went back all the same
    last = back.stderr.strip().splitlines()[-1]
    assert last.startswith("shipdeck: rolled_back: rolled back to release "), last
    assert "; database NOT migrated down: " in last
    assert last.endswith('database "no_such_db" does not exist'), last
    assert columns(rig, dbname, "notes")[-1] == "pinned"  # the data was left as it was


def test_in_place_migrates_down_before_the_backup_replaces_the_code(
    rig: RigEnv, tmp_path: Path
) -> None:
    # In place, restoring the backup removes the bad code and its down-migrations with it, so
    # the down-migration has to run first, in the live directory, while 1.1.0 is still there.
    db = f"shipdeck_mdown_ip_{secrets.token_hex(4)}"
    psql(rig, f"CREATE DATABASE {db} OWNER deploy", db="postgres", user="postgres")
    own = make_own_app(rig, tmp_path, layout="in-place", extra=migrations(rig, db, db))
    journal = tmp_path / "j.sqlite3"
    try:
        done = shipdeck("deploy", "--headless", "--yes", config=own.config, journal=journal)
        assert done.returncode == 0, done.stdout + done.stderr
        assert served_version(own.status_url) == "1.1.0"
        assert columns(rig, db, "notes")[-1] == "pinned"
        psql(rig, "INSERT INTO notes (body, pinned) VALUES ('kept', true)", db=db)

        back = shipdeck("rollback", "--headless", "--yes", "--migrate-down",
                        config=own.config, journal=journal)  # fmt: skip
        assert back.returncode == 0, back.stdout + back.stderr
        assert served_version(own.status_url) == "1.0.0"
        assert columns(rig, db, "notes") == ["id", "body", "created_at"]
        assert psql(rig, "SELECT body FROM notes", db=db) == ["kept"]
        rollback = [e for e in journal_events(journal) if e.step == "rollback"]
        down = next(i for i, e in enumerate(rollback) if "down-migration ran in" in e.message)
        restored = next(i for i, e in enumerate(rollback) if "restored from" in e.message)
        assert down < restored, [e.message for e in rollback]
        assert f"down-migration ran in {own.root} " in rollback[down].message
    finally:
        remove_own_app(own)
        psql(rig, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", db="postgres", user="postgres")
