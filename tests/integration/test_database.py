"""Database safety net on the rig's real PostgreSQL, over SSH as the deploy user.

Each test works on a database of its own (created through the rig's trust auth as postgres and
dropped afterwards), so the demo app's `demo` database and other tests are never touched.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import pwd
import re
import secrets
import shutil
import stat
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.integration.rig_postgres import orders_database, psql
from tests.integration.test_workflow_support import (
    OwnApp,
    journal_events,
    served_version,
    shipdeck,
    write_own_config,
)
from tests.rigenv import RigEnv
from tui.core.config import Config, load_config
from tui.core.database import Database, DatabaseError, workflow_hooks
from tui.core.journal import Journal
from tui.core.redact import Redactor
from tui.core.transport import make_transport
from tui.core.workflow_steps import WorkflowError

PASSWORD_ENV = "SHIPDECK_TEST_DB_PASSWORD"
PASSWORD = "pw:with\\odd" + secrets.token_hex(6)


@pytest.fixture
def dbname(rig: RigEnv) -> Iterator[str]:
    with orders_database(rig, "shipdeck_dbtest") as name:
        try:
            yield name
        finally:  # the scratch database a verify restore may leave behind
            scratch = f"{name}_shipdeck_verify_7"
            psql(rig, f"DROP DATABASE IF EXISTS {scratch}", db="postgres", user="postgres")


@pytest.fixture
def backup_dir(rig: RigEnv) -> Iterator[Path]:
    path = rig.dir / "backups" / "db" / f"test-{secrets.token_hex(4)}"
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def config_for(rig: RigEnv, dbname: str, backup_dir: Path, **db: object) -> Config:
    base = load_config(rig.config)
    database = dataclasses.replace(
        base.database, name=dbname, backup_dir=str(backup_dir), password_env=PASSWORD_ENV, **db
    )
    return dataclasses.replace(base, database=database)


@pytest.fixture
async def journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Journal]:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    j = Journal(tmp_path / "journal.sqlite3", redactor=Redactor([PASSWORD]))
    yield j
    j.close()


def deployment(journal: Journal) -> int:
    return journal.start_deployment("demo", "main").id


def rows(rig: RigEnv, dbname: str) -> list[str]:
    return psql(rig, "SELECT id || ':' || item FROM orders ORDER BY id", db=dbname).split()


async def test_dump_damage_restore(
    rig: RigEnv, dbname: str, backup_dir: Path, journal: Journal, tmp_path: Path
) -> None:
    config = config_for(rig, dbname, backup_dir)
    transport = make_transport(config.primary_host)
    db = Database(config, transport, journal)
    did = deployment(journal)
    try:
        dump = await db.backup(did)
        assert dump.path == f"{backup_dir}/demo-{dbname}-deploy-{did}.dump"
        assert dump.size_bytes > 0 and dump.entries > 0 and not dump.restore_verified
        on_disk = Path(dump.path).stat()
        assert on_disk.st_size == dump.size_bytes
        assert stat.S_IMODE(on_disk.st_mode) == 0o600  # a dump holds every row
        assert not list(backup_dir.glob("*.partial"))

        psql(rig, "DELETE FROM orders WHERE id > 1; UPDATE orders SET item = 'oops'", db=dbname)
        psql(rig, "ALTER TABLE orders ADD COLUMN junk int", db=dbname)
        assert rows(rig, dbname) == ["1:oops"]

        restored = await db.restore(dump.path, deployment_id=did)
        assert restored.database == dbname and restored.duration_s > 0
        assert rows(rig, dbname) == ["1:tea", "2:coffee", "3:cake"]
        columns = psql(
            rig,
            "SELECT string_agg(column_name, ',' ORDER BY ordinal_position)"
            " FROM information_schema.columns WHERE table_name = 'orders'",
            db=dbname,
        )
        assert columns.strip() == "id,item"
    finally:
        await transport.close()

    events = journal.events()
    ok = [e for e in events if e.step == "backup" and e.kind == "command" and "dumped" in e.message]
    assert len(ok) == 1 and ok[0].deployment_id == did
    assert ok[0].data["size_bytes"] == dump.size_bytes and ok[0].data["duration_s"] >= 0
    assert any(e.step == "rollback" and e.kind == "action" for e in events)
    # The password went to a pgpass file only: never in argv or the journal file.
    journal.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("journal.sqlite3*"))
    assert PASSWORD.encode() not in raw
    assert all(PASSWORD not in " ".join(e.argv) for e in events)


async def test_pgpass_is_private_and_removed(
    rig: RigEnv, dbname: str, backup_dir: Path, journal: Journal
) -> None:
    transport = make_transport(load_config(rig.config).primary_host)
    db = Database(config_for(rig, dbname, backup_dir), transport, journal)
    try:
        async with db._pg_env() as env:
            path = Path(env["PGPASSFILE"])
            info = path.stat()  # the rig host is this machine
            assert stat.S_IMODE(info.st_mode) == 0o600
            assert path.owner() == rig.user
            escaped = PASSWORD.replace("\\", "\\\\").replace(":", "\\:")
            assert path.read_text() == f"*:*:*:deploy:{escaped}\n"
        assert not path.exists()
    finally:
        await transport.close()


async def test_unwritable_backup_dir_blocks_with_a_clear_message(
    rig: RigEnv, dbname: str, backup_dir: Path, journal: Journal
) -> None:
    backup_dir.mkdir(parents=True)
    os.chown(backup_dir, 0, 0)
    backup_dir.chmod(0o755)  # root's: deploy can look but not write
    transport = make_transport(load_config(rig.config).primary_host)
    did = deployment(journal)
    try:
        db = Database(config_for(rig, dbname, backup_dir), transport, journal)
        with pytest.raises(DatabaseError) as err:
            await db.backup(did)
        assert str(err.value) == (
            f"the database backup dir {backup_dir} on rig is not writable by deploy"
            " (fix its owner/permissions or set [database] backup_dir)"
        )
        nested = backup_dir / "deeper"
        db = Database(config_for(rig, dbname, nested), transport, journal)
        with pytest.raises(
            DatabaseError,
            match=re.escape(f"cannot create the database backup dir {nested} on rig: mkdir: "),
        ):
            await db.backup(did)
    finally:
        await transport.close()
    assert list(backup_dir.iterdir()) == []
    fails = [e for e in journal.events() if e.kind == "command" and e.deployment_id == did]
    assert [e.message for e in fails] == [str(err.value), fails[1].message]
    assert fails[1].message.startswith("cannot create the database backup dir")


async def test_restore_refuses_missing_or_broken_dumps(
    rig: RigEnv, dbname: str, backup_dir: Path, journal: Journal
) -> None:
    transport = make_transport(load_config(rig.config).primary_host)
    db = Database(config_for(rig, dbname, backup_dir), transport, journal)
    try:
        with pytest.raises(DatabaseError, match=re.escape("no dump at /nonexistent/x.dump on rig")):
            await db.restore("/nonexistent/x.dump")
        dump = await db.backup(deployment(journal))
        broken = Path(dump.path)
        broken.write_bytes(broken.read_bytes()[: dump.size_bytes // 2])  # cut short
        psql(rig, "DELETE FROM orders WHERE id = 3", db=dbname)
        with pytest.raises(DatabaseError, match="nothing changed: it ran in one transaction"):
            await db.restore(dump.path)
        assert rows(rig, dbname) == ["1:tea", "2:coffee"]  # untouched by the failed restore
    finally:
        await transport.close()


async def test_verify_restore_into_a_scratch_database(
    rig: RigEnv, dbname: str, backup_dir: Path, journal: Journal
) -> None:
    transport = make_transport(load_config(rig.config).primary_host)
    db = Database(config_for(rig, dbname, backup_dir, verify_restore=True), transport, journal)
    did = deployment(journal)
    scratch = db.scratch_name(did)
    try:
        # The rig's deploy role has no CREATEDB: the operator learns why and what to change.
        with pytest.raises(DatabaseError, match="needs CREATEDB"):
            await db.backup(did)
        psql(rig, "ALTER ROLE deploy CREATEDB", db="postgres", user="postgres")
        try:
            dump = await db.backup(did)
        finally:
            psql(rig, "ALTER ROLE deploy NOCREATEDB", db="postgres", user="postgres")
        assert dump.restore_verified
        left = psql(rig, f"SELECT count(*) FROM pg_database WHERE datname = '{scratch}'",
                    db="postgres", user="postgres")  # fmt: skip
        assert left.strip() == "0"
    finally:
        await transport.close()
        psql(rig, f"DROP DATABASE IF EXISTS {scratch}", db="postgres", user="postgres")


async def test_migrate_down_runs_in_the_release_dir(
    rig: RigEnv, dbname: str, backup_dir: Path, journal: Journal
) -> None:
    backup_dir.mkdir(parents=True)
    shutil.chown(backup_dir, rig.user, rig.user)
    base = config_for(rig, dbname, backup_dir)
    down = ("sh", "-c", 'pwd > undone; echo "migration 0042 reverted"')
    steps = dataclasses.replace(
        base.steps, rollback=dataclasses.replace(base.steps.rollback, migrate_down=down)
    )
    transport = make_transport(base.primary_host)
    try:
        db = Database(dataclasses.replace(base, steps=steps), transport, journal)
        result = await db.migrate_down(str(backup_dir))
        assert result.stdout.strip() == "migration 0042 reverted"
        assert (backup_dir / "undone").read_text().strip() == str(backup_dir)
        broken = ("sh", "-c", "echo 'Error: relation \"users\" does not exist' >&2; exit 1")
        steps = dataclasses.replace(
            steps, rollback=dataclasses.replace(steps.rollback, migrate_down=broken)
        )
        db = Database(dataclasses.replace(base, steps=steps), transport, journal)
        last_words = r'failed in .*: Error: relation "users" does not exist$'
        with pytest.raises(DatabaseError, match=last_words):
            await db.migrate_down(str(backup_dir))
    finally:
        await transport.close()


async def test_workflow_hooks(rig: RigEnv, dbname: str, backup_dir: Path, journal: Journal) -> None:
    transport = make_transport(load_config(rig.config).primary_host)
    db = Database(config_for(rig, dbname, backup_dir), transport, journal)
    deploy = journal.start_deployment("demo", "main")
    try:
        backup, keep = workflow_hooks(db)
        await backup(deploy)
        assert Path(db.dump_path(deploy.id)).is_file()
        psql(rig, "DELETE FROM orders", db=dbname)
        await keep(deploy)  # no restore without the operator's say-so
        assert rows(rig, dbname) == []
        note = journal.events(deployment_id=deploy.id)[-1]
        assert note.kind == "note" and db.dump_path(deploy.id) in note.message
        _, restore = workflow_hooks(db, restore_db=True)
        await restore(deploy)
        assert rows(rig, dbname) == ["1:tea", "2:coffee", "3:cake"]
        gone = journal.start_deployment("demo", "main")
        with pytest.raises(WorkflowError, match="no dump at"):
            await restore(gone)
    finally:
        await transport.close()


@pytest.fixture
def full_dir(rig: RigEnv) -> Iterator[Path]:
    """A directory of the deploy user's on a tiny tmpfs that is already full (filled by root),
    unmounted afterwards. Skipped only where mounting is impossible (not root, no
    CAP_SYS_ADMIN)."""
    if os.geteuid() != 0:
        pytest.skip("a full filesystem is made by mounting a tmpfs, which needs root")
    path = rig.dir / "tmp" / f"full-{secrets.token_hex(4)}"
    path.mkdir(parents=True)
    owner = pwd.getpwnam(rig.user)
    opts = f"size=64k,uid={owner.pw_uid},gid={owner.pw_gid},mode=700"
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "shipdeck-full", str(path)],
                             capture_output=True, text=True, timeout=30)  # fmt: skip
    if mounted.returncode != 0:
        path.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        fd = os.open(path / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError as err:
            assert err.errno == errno.ENOSPC, err
        finally:
            os.close(fd)
        assert shutil.disk_usage(path).free == 0
        yield path
    finally:
        subprocess.run(["umount", str(path)], capture_output=True, timeout=30, check=True)
        path.rmdir()


async def test_a_full_backup_dir_blocks_deploy_with_one_clear_line(
    rig: RigEnv, dbname: str, full_dir: Path, journal: Journal
) -> None:
    transport = make_transport(load_config(rig.config).primary_host)
    did = deployment(journal)
    db = Database(config_for(rig, dbname, full_dir), transport, journal)
    try:
        with pytest.raises(DatabaseError) as err:
            await db.backup(did)
    finally:
        await transport.close()
    message = str(err.value)
    assert "\n" not in message
    assert message == (
        f"pg_dump of {dbname} on rig to {db.dump_path(did)} failed: No space left on device"
    ), message
    assert sorted(p.name for p in full_dir.iterdir()) == ["filler"]  # the .partial is gone
    failed = [e for e in journal.events(deployment_id=did) if e.kind == "command"]
    assert failed[-1].message == message and failed[-1].exit_status != 0


async def test_a_failing_pg_dump_says_why_in_one_line(
    rig: RigEnv, backup_dir: Path, journal: Journal
) -> None:
    transport = make_transport(load_config(rig.config).primary_host)
    did = deployment(journal)
    db = Database(config_for(rig, "no_such_db", backup_dir), transport, journal)
    try:
        with pytest.raises(DatabaseError) as err:
            await db.backup(did)
    finally:
        await transport.close()
    assert str(err.value).startswith(
        f"pg_dump of no_such_db on rig to {db.dump_path(did)} failed: connection to server"
    ), err.value
    assert str(err.value).endswith('database "no_such_db" does not exist'), err.value
    assert list(backup_dir.iterdir()) == []  # no .partial left


def test_a_full_backup_dir_refuses_deploy(
    app: OwnApp, dbname: str, full_dir: Path, tmp_path: Path
) -> None:
    """The headless deploy with the dump going to a full disk: BACKUP fails with the one line,
    DEPLOY never starts, the live release is untouched."""
    rig, journal = app.rig, tmp_path / "j.sqlite3"
    database = (
        f'\n[database]\nenabled = true\nhost = "127.0.0.1"\nport = {rig.pg_port}\n'
        f'name = "{dbname}"\nuser = "{rig.user}"\nrun_on = "rig"\nbackup_dir = "{full_dir}"\n'
    )
    write_own_config(app, rig.pm2_home, database)
    done = shipdeck("deploy", "--headless", "--yes", config=app.config, journal=journal)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "No space left on device" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert served_version(app.status_url) == "1.0.0"
    started = {e.step for e in journal_events(journal, kinds=["step.start"])}
    assert started == {"backup"}, started  # no BUILD, no DEPLOY
    assert sorted(p.name for p in full_dir.iterdir()) == ["filler"]
