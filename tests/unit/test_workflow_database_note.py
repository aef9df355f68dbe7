"""What BACKUP and ROLLBACK journal about the database when the workflow has no database hooks:
the truth ("database: not configured"), not a feature that is "not available yet"."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.local_app import local_config
from tui.core.hosts import HostPool
from tui.core.journal import Journal
from tui.core.workflow import Workflow

DATABASE = '\n[database]\nenabled = true\nname = "shop"\nuser = "shop"\n'


@pytest.mark.parametrize(
    ("extra", "backup", "rollback"),
    [
        ("", "database: not configured", "database: not configured"),
        (
            DATABASE,
            "database: not dumped (this workflow was given no database hooks)",
            "database: left as it is (this workflow was given no database hooks)",
        ),
    ],
)
async def test_without_hooks_the_notes_say_what_is_true(
    tmp_path: Path, extra: str, backup: str, rollback: str
) -> None:
    config = local_config(tmp_path, extra)
    journal = Journal(":memory:")
    pool = HostPool(config, journal)
    try:
        wf = Workflow(config, journal, pool)
        wf.deployment = journal.start_deployment("shop", "main")
        await wf.database_backup(wf.deployment)
        await wf.database_rollback(wf.deployment)
        notes = [(e.step, e.message) for e in journal.events(kinds=["note"])]
    finally:
        await pool.close()
        journal.close()
    assert notes == [("backup", backup), ("rollback", rollback)]
