"""Database safety net (PostgreSQL): dump before DEPLOY, prove the dump restores, undo data.

BACKUP: ``pg_dump -Fc`` of the configured database into ``[database] backup_dir`` on the DB host
(``run_on``), named by deployment id, written to a ``.partial`` name and moved into place only
when complete; then ``pg_restore --list`` proves it is readable, and with ``verify_restore`` a
restore into a scratch database (dropped afterwards) proves it restores. Any failure raises
DatabaseError with one line the operator can act on: the workflow blocks DEPLOY on it.

ROLLBACK of data: ``restore(dump)`` (``pg_restore --clean --if-exists`` in ONE transaction, so a
failed restore leaves the database as it was; psql for plain ``.sql`` dumps) or
``migrate_down(cwd)`` (``[steps.rollback] migrate_down``). Both are destructive: callers confirm.
The workflow holds one ``Database`` (``database_for``) and calls ``backup_for`` / ``restore_for``
/ ``leave`` with the deployment.

The password never appears in argv, the journal or the screen: when ``password_env`` names a
variable set on this (jump) machine, its value goes over stdin into a 0600 pgpass file on the DB
host (mktemp), used through PGPASSFILE and removed afterwards. Every client runs with ``-w`` so a
missing password fails instead of waiting for a prompt.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tui.core.config import Config, DatabaseConfig
from tui.core.lines import last_line
from tui.core.transport import Result, Transport, TransportError
from tui.core.transport_errors import describe_argv
from tui.core.workflow_steps import WorkflowError

# A scratch database name must fit PostgreSQL's 63-byte identifier limit.
MAX_IDENT = 63
QUICK_TIMEOUT_S = 30.0

# mktemp makes the file 0600; umask covers a mktemp that does not. The password arrives on stdin.
_WRITE_PGPASS = (
    'umask 077 && f=$(mktemp "${TMPDIR:-/tmp}/shipdeck-pgpass.XXXXXX") && cat > "$f" '
    '&& printf "%s\\n" "$f"'
)


# pg_dump to stdout, written to the file ($1) by cat: pg_dump 15 exits 0 with an empty file when
# the disk is full (measured on the rig), cat reports the write error. Exit: pg_dump's status,
# or 75 when writing the file failed (cat said why on stderr).
_DUMP_TO_FILE = r"""
umask 077
out=$1; shift
exec 3>&1
dumped=$( { { "$@"; echo $? >&4; } | cat > "$out"; } 4>&1 >&3 )
wrote=$?
[ "$wrote" -eq 0 ] || exit 75
exit "${dumped:-1}"
"""
# What the clients put before their reason: "pg_dump: error: ", "cat: write error: ".
_TOOL_PREFIX = re.compile(r"^(?:pg_dump|cat|sh)(?:: [a-z ]*error)?: ")


class DatabaseError(WorkflowError):
    """One readable line: what failed, on which host, and the tool's own last words.

    A WorkflowError, so a failed dump inside BACKUP fails that step (and blocks DEPLOY)."""


@dataclass(frozen=True)
class DumpResult:
    path: str
    host: str
    database: str
    size_bytes: int
    duration_s: float  # of pg_dump itself
    entries: int  # TOC entries pg_restore --list found
    restore_verified: bool  # a scratch restore succeeded (verify_restore)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "host": self.host,
            "database": self.database,
            "size_bytes": self.size_bytes,
            "duration_s": round(self.duration_s, 3),
            "entries": self.entries,
            "restore_verified": self.restore_verified,
        }


@dataclass(frozen=True)
class RestoreResult:
    path: str
    host: str
    database: str
    duration_s: float


def db_host_name(config: Config) -> str:
    """The [[hosts]] name whose transport runs the PostgreSQL clients."""
    return config.database.run_on or config.primary_host.name


def dump_name(config: Config, deployment_id: int | str) -> str:
    return f"{config.app.name}-{config.database.name}-deploy-{deployment_id}.dump"


def pgpass_escape(field: str) -> str:
    return field.replace("\\", "\\\\").replace(":", "\\:")


def _last_line(result: Result) -> str:
    return last_line(result, empty=f"exit status {result.exit_status}", limit=None)


def _size_text(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} B"


class Database:
    def __init__(
        self,
        config: Config,
        transport: Transport,
        journal: Any = None,  # tui.core.journal.Journal; Any keeps tests free to pass None
        *,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.db: DatabaseConfig = config.database
        self.transport = transport
        self.journal = journal
        self.environ = os.environ if environ is None else environ

    @property
    def host(self) -> str:
        return str(getattr(self.transport.host, "name", "local"))

    # ------------------------------------------------------------------ plumbing

    def _conn_args(self, database: str | None = None) -> list[str]:
        args = ["-h", self.db.host, "-p", str(self.db.port), "-w"]
        if self.db.user:
            args += ["-U", self.db.user]
        return [*args, "-d", database or self.db.name]

    def _password(self) -> str | None:
        name = self.db.password_env
        if not name:
            return None
        value = self.environ.get(name)
        if value is None:
            raise DatabaseError(
                f"[database] password_env names {name}, but {name} is not set in this"
                " environment (export it before running shipdeck)"
            )
        return value

    @contextlib.asynccontextmanager
    async def _pg_env(self) -> AsyncIterator[dict[str, str]]:
        """Env for the PostgreSQL clients; with a password, a temporary pgpass file on the host."""
        password = self._password()
        if password is None:
            yield {}
            return
        user = self.db.user or "*"
        line = f"*:*:*:{pgpass_escape(user)}:{pgpass_escape(password)}\n"
        made = await self._run(["sh", "-c", _WRITE_PGPASS], stdin=line, timeout=QUICK_TIMEOUT_S)
        path = made.stdout.strip().splitlines()[-1] if made.ok and made.stdout.strip() else ""
        if not path:
            raise DatabaseError(
                f"{self.host}: cannot write a temporary pgpass file: {_last_line(made)}"
            )
        try:
            yield {"PGPASSFILE": path}
        finally:
            with contextlib.suppress(TransportError):
                await self.transport.run(["rm", "-f", "--", path], timeout=QUICK_TIMEOUT_S)

    async def _run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        stdin: str | None = None,
        cwd: str | None = None,
    ) -> Result:
        try:
            return await self.transport.run(argv, env=env, timeout=timeout, stdin=stdin, cwd=cwd)
        except TransportError as err:
            raise DatabaseError(str(err)) from None

    def _record(
        self,
        *,
        step: str,
        kind: str,
        message: str,
        deployment_id: int | None = None,
        result: Result | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        if self.journal is None:
            return
        self.journal.record(
            kind=kind,
            host=self.host,
            step=step,
            message=message,
            deployment_id=deployment_id,
            argv=result.argv if result else (),
            exit_status=result.exit_status if result else None,
            duration=result.duration if result else None,
            output_tail=(result.stdout + result.stderr) if result else "",
            data=data,
        )

    def _fail(
        self,
        message: str,
        *,
        step: str,
        deployment_id: int | None = None,
        result: Result | None = None,
    ) -> DatabaseError:
        # "command"/"note", not "step.fail": the workflow owns its steps' start/ok/fail events.
        kind = "command" if result is not None else "note"
        self._record(
            step=step, kind=kind, message=message, deployment_id=deployment_id, result=result
        )
        return DatabaseError(message)

    def dump_path(self, deployment_id: int | str) -> str:
        """Where ``backup(deployment_id)`` puts (or put) its dump on the DB host."""
        directory = self.db.backup_dir.rstrip("/") or ""
        return f"{directory}/{dump_name(self.config, deployment_id)}"

    # ------------------------------------------------------------------ BACKUP

    async def backup(self, deployment_id: int) -> DumpResult:
        """Dump, check, (optionally) test-restore. Raises DatabaseError: DEPLOY must not go on."""
        if not self.db.name:
            raise DatabaseError("[database] name is empty: nothing to back up")
        step, did = "backup", deployment_id
        directory = self.db.backup_dir.rstrip("/") or "/"
        path = self.dump_path(deployment_id)
        partial = f"{path}.partial"
        await self._ensure_dir(directory, did)
        timeout = self.config.steps.backup.timeout_s
        async with self._pg_env() as env:
            # umask 077: a dump holds every row; only its owner may read it.
            argv = ["sh", "-c", _DUMP_TO_FILE, "sh", partial, "pg_dump", *self._conn_args(), "-Fc"]
            t0 = time.monotonic()
            dumped = await self._run(argv, env=env, timeout=timeout)
            duration = time.monotonic() - t0
            if not dumped.ok:
                await self._run(["rm", "-f", "--", partial], timeout=QUICK_TIMEOUT_S)
                why = _TOOL_PREFIX.sub("", _last_line(dumped))
                raise self._fail(
                    f"pg_dump of {self.db.name} on {self.host} to {path} failed: {why}",
                    step=step,
                    deployment_id=did,
                    result=dumped,
                )
            moved = await self._run(["mv", "-f", "--", partial, path], timeout=QUICK_TIMEOUT_S)
            if not moved.ok:
                raise self._fail(
                    f"cannot move the dump into place: {_last_line(moved)}",
                    step=step,
                    deployment_id=did,
                    result=moved,
                )
            size = await self._size(path)
            entries = await self._list_entries(path, env, did)
            verified = False
            if self.db.verify_restore:
                await self._verify_restore(path, env, did)
                verified = True
        result = DumpResult(path, self.host, self.db.name, size, duration, entries, verified)
        proof = "restore verified" if verified else f"{entries} entries listed"
        self._record(
            step=step,
            kind="command",
            deployment_id=did,
            result=dumped,
            data=result.to_json(),
            message=f"database {self.db.name} dumped to {path} ({_size_text(size)} in"
            f" {duration:.2f}s; {proof})",
        )
        return result

    async def _ensure_dir(self, directory: str, did: int) -> None:
        made = await self._run(
            ["mkdir", "-p", "-m", "700", "--", directory], timeout=QUICK_TIMEOUT_S
        )
        if not made.ok:
            raise self._fail(
                f"cannot create the database backup dir {directory} on {self.host}:"
                f" {_last_line(made)}",
                step="backup",
                deployment_id=did,
                result=made,
            )
        writable = await self._run(["test", "-w", directory], timeout=QUICK_TIMEOUT_S)
        if not writable.ok:
            who = getattr(self.transport.host, "user", "") or "the ssh user"
            raise self._fail(
                f"the database backup dir {directory} on {self.host} is not writable by {who}"
                " (fix its owner/permissions or set [database] backup_dir)",
                step="backup",
                deployment_id=did,
                result=writable,
            )

    async def _size(self, path: str) -> int:
        # `wc -c` is everywhere (GNU and BusyBox stat disagree on flags).
        counted = await self._run(["wc", "-c", "--", path], timeout=QUICK_TIMEOUT_S)
        match = re.match(r"\s*(\d+)", counted.stdout)
        if not counted.ok or not match:
            raise DatabaseError(f"cannot read the size of {path} on {self.host}")
        return int(match[1])

    async def _list_entries(self, path: str, env: Mapping[str, str], did: int | None) -> int:
        listed = await self._run(["pg_restore", "--list", path], env=env, timeout=QUICK_TIMEOUT_S)
        entries = [ln for ln in listed.stdout.splitlines() if ln.strip() and not ln.startswith(";")]
        if not listed.ok or not entries:
            why = _last_line(listed) if not listed.ok else "it lists no entries"
            raise self._fail(
                f"the dump {path} is not restorable: {why}",
                step="backup",
                deployment_id=did,
                result=listed,
            )
        return len(entries)

    def scratch_name(self, deployment_id: int | str) -> str:
        suffix = f"_shipdeck_verify_{deployment_id}"
        return f"{self.db.name[: MAX_IDENT - len(suffix)]}{suffix}"

    async def _verify_restore(self, path: str, env: Mapping[str, str], did: int) -> None:
        scratch = self.scratch_name(did)
        admin = self._conn_args(self.db.name)[:-2]  # no -d: createdb/dropdb take the name
        timeout = self.config.steps.backup.timeout_s
        await self._run(["dropdb", *admin, "--if-exists", scratch], env=env, timeout=timeout)
        created = await self._run(["createdb", *admin, scratch], env=env, timeout=timeout)
        if not created.ok:
            raise self._fail(
                f"verify_restore: cannot create scratch database {scratch}: {_last_line(created)}"
                f" (the user needs CREATEDB, or set [database] verify_restore = false)",
                step="backup",
                deployment_id=did,
                result=created,
            )
        try:
            argv = [
                "pg_restore",
                *self._conn_args(scratch),
                "--no-owner",
                "--no-acl",
                "--exit-on-error",
                path,
            ]
            restored = await self._run(argv, env=env, timeout=timeout)
            if not restored.ok:
                raise self._fail(
                    f"the dump {path} does not restore: {_last_line(restored)}",
                    step="backup",
                    deployment_id=did,
                    result=restored,
                )
        finally:
            dropped = await self._run(
                ["dropdb", *admin, "--if-exists", scratch], env=env, timeout=timeout
            )
            if not dropped.ok:
                self._record(
                    step="backup",
                    kind="note",
                    deployment_id=did,
                    result=dropped,
                    message=f"scratch database {scratch} was not dropped: {_last_line(dropped)}",
                )

    # ------------------------------------------------------------------ ROLLBACK

    async def restore(self, dump_path: str, *, deployment_id: int | None = None) -> RestoreResult:
        """Put the database back to ``dump_path`` (DESTRUCTIVE: the caller has confirmed).

        Custom-format dumps: ``pg_restore --clean --if-exists --single-transaction``, so a
        failure rolls back and leaves the database as it was. ``.sql`` files: psql, likewise in
        one transaction and stopping at the first error.
        """
        step, did = "rollback", deployment_id
        exists = await self._run(["test", "-f", dump_path], timeout=QUICK_TIMEOUT_S)
        if not exists.ok:
            raise self._fail(f"no dump at {dump_path} on {self.host}", step=step, deployment_id=did)
        timeout = self.config.steps.rollback.timeout_s
        async with self._pg_env() as env:
            if dump_path.endswith(".sql"):
                argv = [
                    "psql",
                    *self._conn_args(),
                    "-v",
                    "ON_ERROR_STOP=1",
                    "--single-transaction",
                    "-q",
                    "-f",
                    dump_path,
                ]
            else:
                argv = [
                    "pg_restore",
                    *self._conn_args(),
                    "--clean",
                    "--if-exists",
                    "--single-transaction",
                    "--no-owner",
                    "--no-acl",
                    dump_path,
                ]
            t0 = time.monotonic()
            restored = await self._run(argv, env=env, timeout=timeout)
            duration = time.monotonic() - t0
        if not restored.ok:
            raise self._fail(
                f"restore of {self.db.name} from {dump_path} failed (nothing changed: it ran in"
                f" one transaction): {_last_line(restored)}",
                step=step,
                deployment_id=did,
                result=restored,
            )
        self._record(
            step=step,
            kind="action",
            deployment_id=did,
            result=restored,
            message=f"database {self.db.name} restored from {dump_path} in {duration:.2f}s",
            data={"path": dump_path, "database": self.db.name, "duration_s": round(duration, 3)},
        )
        return RestoreResult(dump_path, self.host, self.db.name, duration)

    async def migrate_down(self, cwd: str, *, deployment_id: int | None = None) -> Result:
        """Run ``[steps.rollback] migrate_down`` in ``cwd`` (the release whose migrations to undo).

        The command uses the app's own database settings (its .env), not ours.
        """
        argv = list(self.config.steps.rollback.migrate_down)
        if not argv:
            raise DatabaseError("[steps.rollback] migrate_down is empty: no down-migration set")
        result = await self._run(argv, cwd=cwd, timeout=self.config.steps.rollback.timeout_s)
        if not result.ok:
            raise self._fail(
                f"{describe_argv(argv, 80)} failed in {cwd}: {_last_line(result)}",
                step="rollback",
                deployment_id=deployment_id,
                result=result,
            )
        self._record(
            step="rollback",
            kind="action",
            deployment_id=deployment_id,
            result=result,
            message=f"{describe_argv(argv, 80)} ran in {cwd}",
        )
        return result

    # ------------------------------------------------------------------ for a deployment

    async def backup_for(self, deployment: Any) -> DumpResult:
        """BACKUP's dump, named by the deployment's id (a DatabaseError fails BACKUP)."""
        return await self.backup(int(deployment.id))

    def dump_for(self, deployment: Any) -> str:
        """The dump a rollback of ``deployment`` would restore: its own BACKUP's, or for a
        stand-alone rollback (its own journal row) that of the newest deployment before it
        that reached BACKUP."""
        return self.dump_path(_dumped_deployment_id(self, deployment))

    async def restore_for(self, deployment: Any) -> RestoreResult:
        """Put the database back as BACKUP dumped it (DESTRUCTIVE: the operator chose it)."""
        return await self.restore(self.dump_for(deployment), deployment_id=int(deployment.id))

    def leave(self, deployment: Any) -> None:
        """A rollback that leaves the data alone says where the dump is, should it be needed."""
        self._record(
            step="rollback",
            kind="note",
            deployment_id=int(deployment.id),
            message=f"database {self.db.name} left as it is (restore not requested);"
            f" the dump from before this deployment is {self.dump_for(deployment)} on {self.host}",
        )


DbHook = Callable[[Any], Awaitable[None]]  # async (Deployment) -> None


def database_for(config: Config, pool: Any, journal: Any) -> Database | None:
    """The app's database on its host (``run_on``) when [database] is enabled, else None; the
    workflow dumps it at BACKUP and restores it when a rollback is asked to."""
    if not config.database.enabled:
        return None
    return Database(config, pool[db_host_name(config)], journal)


def workflow_hooks(db: Database, *, restore_db: bool = False) -> tuple[DbHook, DbHook]:
    """``(backup, rollback)`` callables over ``db``: the rollback one restores the dump only
    with ``restore_db``, else it says where the dump is (``Database.leave``)."""

    async def backup(deployment: Any) -> None:
        await db.backup_for(deployment)

    async def rollback(deployment: Any) -> None:
        if restore_db:
            await db.restore_for(deployment)
        else:
            db.leave(deployment)

    return backup, rollback


def _dumped_deployment_id(db: Database, deployment: Any) -> int:
    data = getattr(deployment, "data", None) or {}
    if data.get("kind") != "rollback" or db.journal is None:
        return int(deployment.id)
    for earlier in db.journal.deployments(deployment.app, limit=50):
        if (
            earlier.id < deployment.id
            and earlier.data.get("kind") != "rollback"
            and db.journal.step_states(earlier.id).get("backup") == "ok"
        ):
            return int(earlier.id)
    return int(deployment.id)


def hooks_for(
    config: Config, pool: Any, journal: Any, *, restore_db: bool = False
) -> dict[str, Any]:
    """DEPRECATED (the console's screens still call it): ``Workflow(...)`` keyword arguments
    with the database hooks when [database] is enabled, nothing otherwise. The workflow now
    takes ``database=database_for(...)`` (``Workflow.from_context`` does that by itself) and
    the data choice as ``rollback(reason, data=DataRollback...)``."""
    db = database_for(config, pool, journal)
    if db is None:
        return {}
    backup, rollback = workflow_hooks(db, restore_db=restore_db)
    return {"database_backup": backup, "database_rollback": rollback}
