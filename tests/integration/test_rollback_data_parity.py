"""One rollback, two callers: for each data choice (code only, the down-migration, the dump
restored) `shipdeck rollback --headless` and the console's way (``Workflow.from_context`` and
``rollback(reason, data)`` in this process) journal the same events, on the real rig with the
demo app's migrations and a PostgreSQL database of the test's own.

Events are compared as (kind, step, host, message) with numbers masked (ids, durations)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.rig_postgres import orders_database
from tests.integration.test_database_migrations import columns
from tests.integration.test_rollback_migrate_down import migrations
from tests.integration.test_workflow_support import (
    OwnApp,
    journal_deployments,
    journal_events,
    make_own_app,
    remove_own_app,
    served_version,
    shipdeck,
    write_own_config,
)
from tests.rigenv import RigEnv
from tui.context import open_context
from tui.core.workflow import DataRollback, Workflow

REASON = "parity of the two callers"
FLAGS = {
    DataRollback.CODE_ONLY: [],
    DataRollback.MIGRATE_DOWN: ["--migrate-down"],
    DataRollback.RESTORE: ["--restore-db"],
}


@pytest.fixture(scope="module")
def dbname(rig: RigEnv) -> Iterator[str]:
    with orders_database(rig, "shipdeck_parity") as name:  # a table: pg_dump has entries
        yield name


@pytest.fixture(scope="module")
def app(rig: RigEnv, dbname: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnApp]:
    own = make_own_app(rig, tmp_path_factory.mktemp("parity"))
    database = (
        f'\n[database]\nenabled = true\nhost = "127.0.0.1"\nport = {rig.pg_port}\n'
        f'name = "{dbname}"\nuser = "{rig.user}"\nrun_on = "rig"\n'
        f'backup_dir = "{own.backup_dir}/db"\n'
    )
    write_own_config(own, rig.pm2_home, migrations(rig, dbname, dbname) + database)
    try:
        yield own
    finally:
        remove_own_app(own)


def deploy(app: OwnApp, journal: Path) -> None:
    done = shipdeck("deploy", "--headless", "--yes", config=app.config, journal=journal)
    assert done.returncode == 0, done.stdout + done.stderr
    assert served_version(app.status_url) == "1.1.0"


def rollback_events(app: OwnApp, journal: Path) -> list[tuple[str, str, str, str]]:
    """The newest deployment's (the rollback's) events, numbers masked."""
    dep = journal_deployments(journal, app.name)[0]
    assert dep.state == "rolled_back" and dep.data.get("kind") == "rollback", dep
    return [(e.kind, e.step, e.host, mask(e.message))
            for e in journal_events(journal, deployment_id=dep.id)]  # fmt: skip


def mask(text: str) -> str:
    return re.sub(r"\d+(?:\.\d+)?", "N", text)


async def console_rollback(app: OwnApp, journal: Path, choice: DataRollback) -> None:
    ctx = open_context(str(app.config), str(journal))
    try:
        wf = Workflow.from_context(ctx, on_output=lambda _host, _line: None)
        try:
            outcome = await wf.rollback(REASON, choice)
        finally:
            await wf.close()
        assert outcome.ok, outcome.message
    finally:
        await ctx.pool.close()
        ctx.close()


@pytest.mark.parametrize("choice", list(DataRollback), ids=lambda c: c.value)
async def test_headless_and_console_rollbacks_journal_the_same(
    app: OwnApp, dbname: str, tmp_path: Path, choice: DataRollback
) -> None:
    journal = tmp_path / "j.sqlite3"
    deploy(app, journal)
    back = shipdeck("rollback", "--headless", "--yes", "--reason", REASON, *FLAGS[choice],
                    config=app.config, journal=journal)  # fmt: skip
    assert back.returncode == 0, back.stdout + back.stderr
    assert served_version(app.status_url) == "1.0.0"
    headless = rollback_events(app, journal)

    deploy(app, journal)
    await console_rollback(app, journal, choice)
    assert served_version(app.status_url) == "1.0.0"
    console = rollback_events(app, journal)

    assert console == headless
    messages = "\n".join(m for _, _, _, m in headless)
    done = {
        DataRollback.CODE_ONLY: f"database {dbname} left as it is (restore not requested)",
        DataRollback.MIGRATE_DOWN: "down-migration ran in ",
        DataRollback.RESTORE: f"database {dbname} restored from ",
    }[choice]
    assert mask(done) in messages, messages
    if choice == DataRollback.MIGRATE_DOWN:
        assert columns(app.rig, dbname, "notes")[-1] != "pinned"
    else:  # left as deployed (1.1.0's migration), or restored to before it: both say so
        pinned = columns(app.rig, dbname, "notes")[-1] == "pinned"
        assert pinned == (choice == DataRollback.CODE_ONLY)
