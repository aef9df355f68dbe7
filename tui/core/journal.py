"""The journal: an SQLite file that is the one source of truth of what shipdeck did.

Every state change is recorded here *before* anything shows it; the TUI timeline
and the headless printer are views that tail it with ``events(after_id=...)``.

Durability: WAL with ``synchronous=FULL`` and autocommit, so each ``record()`` is
its own transaction whose WAL frame is fsynced before ``record()`` returns. An
event that was reported written survives a SIGKILL of the console and a power
loss of the machine. The price is one fsync per write (a few ms), which is fine
at the rate deploy events occur.

Threads: one connection opened with ``check_same_thread=False`` and guarded by a
lock. SQLite allows one writer at a time anyway, so per-thread connections would
add no write concurrency, only more file handles to close and a chance of
SQLITE_BUSY between our own threads. The lock is held only for a statement or a
short transaction. Listeners run after the lock is released, on the thread that
called ``record()``; a TUI listener called from a worker thread must hop to the
app thread itself (``App.call_from_thread``).

Several processes (a headless deploy and a ``shipdeck status``) may open the same
file: WAL lets readers run beside the writer, and writers wait up to the busy
timeout for each other.

Secrets: every free-text field goes through the Redactor before it is written,
so nothing the journal returns can contain a known secret either.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import platformdirs

from tui.core.journal_schema import SCHEMA_VERSION, SchemaTooNewError, migrate
from tui.core.redact import Redactor

log = logging.getLogger(__name__)

OUTPUT_TAIL_CHARS = 4096
# Output is redacted in a window this much larger than the tail, so a secret cut
# in half by the window's start lies wholly outside the tail that is kept.
_REDACT_MARGIN = 65536
TRUNCATED_MARK = "[...]\n"

EVENT_KINDS = (
    "connect", "disconnect", "command", "step.start", "step.ok", "step.fail",
    "check", "action", "alarm", "note", "lock", "deploy.start", "deploy.end",
)  # fmt: skip
# A deployment in one of these states is over: ended_at is set by update_deployment.
# "running" and "interrupted" are unfinished and may be resumed or rolled back.
TERMINAL_STATES = frozenset({"succeeded", "failed", "rolled_back", "aborted"})

Listener = Callable[["Event"], None]


class JournalError(Exception):
    """The journal cannot be opened, read or written. str() is one line naming the path."""


def local_identity() -> tuple[str, str]:
    """(local user, jump host name): the "who" of audit entries and sign-offs."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name in env and no passwd entry (containers)
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return user, socket.gethostname()


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Event:
    id: int
    ts: float
    deployment_id: int | None
    host: str
    step: str
    kind: str
    message: str
    argv: tuple[str, ...] = ()
    exit_status: int | None = None
    duration: float | None = None
    output_tail: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": self.ts,
            "time": _iso(self.ts),
            "deployment_id": self.deployment_id,
            "host": self.host,
            "step": self.step,
            "kind": self.kind,
            "message": self.message,
            "argv": list(self.argv),
            "exit_status": self.exit_status,
            "duration": self.duration,
            "output_tail": self.output_tail,
            "data": dict(self.data),
        }


@dataclass(frozen=True)
class Deployment:
    id: int
    app: str
    ref: str
    state: str
    started_at: float
    ended_at: float | None
    local_user: str
    jump_host: str
    ssh_user: str
    from_version: str
    to_version: str
    data: Mapping[str, Any] = field(default_factory=dict)
    step: str = ""  # the last step begun; where a resume starts looking
    pid: int = 0  # the console process that ran it (0: unknown)

    @property
    def finished(self) -> bool:
        return self.ended_at is not None

    @property
    def who(self) -> str:
        return f"{self.local_user}@{self.jump_host}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "app": self.app,
            "ref": self.ref,
            "state": self.state,
            "step": self.step,
            "started_at": self.started_at,
            "started": _iso(self.started_at),
            "ended_at": self.ended_at,
            "ended": _iso(self.ended_at),
            "local_user": self.local_user,
            "jump_host": self.jump_host,
            "ssh_user": self.ssh_user,
            "pid": self.pid,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "data": dict(self.data),
        }


@dataclass(frozen=True)
class SignOff:
    id: int
    ts: float
    deployment_id: int | None
    item_id: str
    state: str  # "signed" | "revoked" | "skipped" (skipped carries the reason in note)
    local_user: str
    jump_host: str
    note: str = ""
    link: str = ""

    @property
    def who(self) -> str:
        return f"{self.local_user}@{self.jump_host}"


@dataclass(frozen=True)
class AuditEntry:
    id: int
    ts: float
    action: str
    local_user: str
    jump_host: str
    ssh_user: str
    host: str
    detail: str
    deployment_id: int | None

    @property
    def who(self) -> str:
        return f"{self.local_user}@{self.jump_host}"


@dataclass(frozen=True)
class Override:
    id: int
    ts: float
    deployment_id: int | None
    gate: str  # e.g. "checklist", "order", "policy", "watch"
    reason: str
    local_user: str
    jump_host: str
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def who(self) -> str:
        return f"{self.local_user}@{self.jump_host}"


@dataclass(frozen=True)
class ChangelogEntry:
    id: int
    ts: float
    deployment_id: int | None
    app: str
    line: str
    data: Mapping[str, Any] = field(default_factory=dict)


_DEPLOYMENT_FIELDS = frozenset(
    {"ref", "state", "step", "ended_at", "ssh_user", "pid", "from_version", "to_version", "data"}
)
_REDACTED_DEPLOYMENT_FIELDS = frozenset({"ref", "from_version", "to_version"})


class Journal:
    def __init__(
        self,
        path: str | Path,
        redactor: Redactor | None = None,
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout_s: float = 10.0,
    ) -> None:
        """Open (creating the file, its directory and the schema as needed).
        ``":memory:"`` gives a private in-memory journal for tests and previews.
        Raises JournalError when the file cannot be opened or is not a journal."""
        self._memory = str(path) == ":memory:"
        self.path: Path = Path(path) if self._memory else Path(path).expanduser()
        self.redactor: Redactor = redactor if redactor is not None else Redactor()
        self.local_user, self.jump_host = local_identity()
        self._clock = clock
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        self._conn: sqlite3.Connection | None = self._open(busy_timeout_s)

    @staticmethod
    def default_path() -> Path:
        return platformdirs.user_state_path("shipdeck") / "journal.sqlite3"

    # -- opening ------------------------------------------------------------

    def _open(self, busy_timeout_s: float) -> sqlite3.Connection:
        where = str(self.path)
        if not self._memory:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                blocker = next(p for p in self.path.parents if p.exists())
                raise JournalError(
                    f"cannot open journal {where}: {blocker} is not a directory"
                ) from None
            except OSError as err:
                raise JournalError(
                    f"cannot open journal {where}: cannot create directory "
                    f"{self.path.parent}: {err.strerror or err}"
                ) from None
            if self.path.is_dir():
                raise JournalError(f"cannot open journal {where}: it is a directory")
        conn: sqlite3.Connection | None = None
        try:
            # isolation_level=None: autocommit, so each statement outside an
            # explicit BEGIN is committed (and fsynced) when execute() returns.
            conn = sqlite3.connect(
                where, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if not self._memory and str(mode).lower() != "wal":
                raise JournalError(f"cannot open journal {where}: WAL mode refused ({mode})")
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            migrate(conn)
        except JournalError:
            if conn is not None:
                conn.close()
            raise
        except SchemaTooNewError as err:
            if conn is not None:
                conn.close()
            raise JournalError(f"cannot open journal {where}: {err}") from None
        except sqlite3.Error as err:
            if conn is not None:
                conn.close()
            raise JournalError(f"cannot open journal {where}: {_one_line(err)}") from None
        return conn

    @property
    def schema_version(self) -> int:
        return SCHEMA_VERSION

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @property
    def closed(self) -> bool:
        return self._conn is None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------

    @contextlib.contextmanager
    def _db(self, doing: str, *, transaction: bool = False) -> Iterator[sqlite3.Connection]:
        """The connection under the lock; sqlite errors become one-line JournalErrors."""
        with self._lock:
            conn = self._conn
            if conn is None:
                raise JournalError(f"journal {self.path} is closed")
            try:
                if transaction:
                    conn.execute("BEGIN IMMEDIATE")
                yield conn
                if transaction:
                    conn.execute("COMMIT")
            except BaseException as err:
                if transaction and conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                if isinstance(err, sqlite3.Error):
                    raise JournalError(
                        f"cannot {doing} journal {self.path}: {_one_line(err)}"
                    ) from None
                raise

    def _dump(self, obj: Mapping[str, Any] | None) -> str:
        return json.dumps(self.redactor.redact_obj(dict(obj or {})), ensure_ascii=False)

    # -- listeners ------------------------------------------------------------

    def add_listener(self, cb: Listener) -> None:
        """``cb(event)`` after each record() has committed, on the recording thread."""
        with self._lock:
            self._listeners.append(cb)

    def remove_listener(self, cb: Listener) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._listeners.remove(cb)

    def _notify(self, event: Event) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for cb in listeners:
            try:
                cb(event)
            except Exception:
                # The event is already durable; a broken view must not break recording.
                log.exception("journal listener %r failed on event %s", cb, event.id)

    # -- events ---------------------------------------------------------------

    def record(
        self,
        *,
        kind: str,
        message: str,
        host: str = "",
        step: str = "",
        deployment_id: int | None = None,
        argv: Iterable[str] = (),
        exit_status: int | None = None,
        duration: float | None = None,
        output_tail: str = "",
        data: Mapping[str, Any] | None = None,
    ) -> Event:
        """Write one event, redacted; it is committed and durable when this returns.
        Pass the whole output as ``output_tail``: it is redacted, then cut to its last
        ~OUTPUT_TAIL_CHARS (a caller cutting first could split a secret and leak half)."""
        r = self.redactor
        msg = r(str(message))
        args = tuple(r(str(a)) for a in argv)
        tail = _tail(r(_window(str(output_tail or ""))))
        payload = self._dump(data)
        with self._db("write") as conn:
            ts = self._clock()
            cur = conn.execute(
                "INSERT INTO events (ts, deployment_id, host, step, kind, message, argv,"
                " exit_status, duration, output_tail, data)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (ts, deployment_id, host, step, kind, msg, json.dumps(list(args)),
                 exit_status, duration, tail, payload),
            )  # fmt: skip
            event_id = int(cur.lastrowid or 0)
        event = Event(
            id=event_id, ts=ts, deployment_id=deployment_id, host=host, step=step, kind=kind,
            message=msg, argv=args, exit_status=exit_status, duration=duration,
            output_tail=tail, data=json.loads(payload),
        )  # fmt: skip
        self._notify(event)
        return event

    def events(
        self,
        *,
        deployment_id: int | None = None,
        after_id: int = 0,
        limit: int | None = None,
        kinds: Iterable[str] | None = None,
    ) -> list[Event]:
        """Events with id > after_id, oldest first. Tail with the last id you saw."""
        where: list[tuple[str, Any]] = [("id > ?", after_id)]
        if kinds is not None:
            kinds = list(kinds)
            where.append((f"kind IN ({','.join('?' * len(kinds))})", kinds))
        rows = self._select(
            "events", where, deployment_id=deployment_id, order="id", limit=limit
        )
        return [_event(row) for row in rows]

    def tail(self, after_id: int = 0, *, deployment_id: int | None = None) -> list[Event]:
        """Everything new since ``after_id``: a poller calls this with the id of the
        last event it got (0 at first)."""
        return self.events(deployment_id=deployment_id, after_id=after_id)

    def recent_events(self, limit: int = 200, *, deployment_id: int | None = None) -> list[Event]:
        """The last ``limit`` events, oldest first (a timeline's initial fill)."""
        rows = self._select("events", [], deployment_id=deployment_id, order="id DESC",
                            limit=limit)  # fmt: skip
        return [_event(row) for row in reversed(rows)]

    def last_event_id(self) -> int:
        with self._db("read") as conn:
            row = conn.execute("SELECT MAX(id) FROM events").fetchone()
        return int(row[0] or 0)

    def step_states(self, deployment_id: int) -> dict[str, str]:
        """step -> "running" | "ok" | "failed", from the deployment's last
        step.start / step.ok / step.fail event of each step (order of first start)."""
        states: dict[str, str] = {}
        names = {"step.start": "running", "step.ok": "ok", "step.fail": "failed"}
        for ev in self.events(deployment_id=deployment_id, kinds=names):
            if ev.step:
                states[ev.step] = names[ev.kind]
        return states

    # -- deployments ----------------------------------------------------------

    def start_deployment(
        self,
        app: str,
        ref: str,
        *,
        ssh_user: str = "",
        from_version: str = "",
        data: Mapping[str, Any] | None = None,
    ) -> Deployment:
        """A new deployment in state "running". Recording its deploy.start event is
        the caller's business (so the message can say what it wants)."""
        r = self.redactor
        with self._db("write") as conn:
            cur = conn.execute(
                "INSERT INTO deployments (app, ref, state, started_at, local_user, jump_host,"
                " ssh_user, pid, from_version, data) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)",
                (app, r(ref), self._clock(), self.local_user, self.jump_host, ssh_user,
                 os.getpid(), r(from_version), self._dump(data)),
            )  # fmt: skip
            row = conn.execute(
                "SELECT * FROM deployments WHERE id = ?", (cur.lastrowid,)
            ).fetchone()
        return _deployment(row)

    def update_deployment(self, deployment_id: int, **fields: Any) -> Deployment:
        """Change fields of a deployment: ref, state, step, ended_at, ssh_user, pid,
        from_version, to_version, data. ``data`` is MERGED into the stored dict
        (keys given replace, others stay). Moving to a TERMINAL_STATES state sets
        ended_at to now unless given; moving back to "running"/"interrupted" clears it."""
        unknown = set(fields) - _DEPLOYMENT_FIELDS
        if unknown:
            raise TypeError(f"update_deployment: unknown field(s) {', '.join(sorted(unknown))}")
        with self._db("write", transaction=True) as conn:
            row = conn.execute(
                "SELECT * FROM deployments WHERE id = ?", (deployment_id,)
            ).fetchone()
            if row is None:
                raise JournalError(f"journal {self.path} has no deployment {deployment_id}")
            current = _deployment(row)
            values: dict[str, Any] = {}
            for key, value in fields.items():
                if key == "data":
                    values[key] = self._dump({**current.data, **(value or {})})
                elif key in _REDACTED_DEPLOYMENT_FIELDS:
                    values[key] = self.redactor(str(value))
                else:
                    values[key] = value
            state = fields.get("state")
            if "ended_at" not in fields and state is not None:
                if state in TERMINAL_STATES and current.ended_at is None:
                    values["ended_at"] = self._clock()
                elif state not in TERMINAL_STATES:
                    values["ended_at"] = None
            if values:
                assignments = ", ".join(f"{k} = ?" for k in values)
                conn.execute(
                    f"UPDATE deployments SET {assignments} WHERE id = ?",
                    (*values.values(), deployment_id),
                )
            row = conn.execute(
                "SELECT * FROM deployments WHERE id = ?", (deployment_id,)
            ).fetchone()
        return _deployment(row)

    def deployment(self, deployment_id: int) -> Deployment | None:
        with self._db("read") as conn:
            row = conn.execute(
                "SELECT * FROM deployments WHERE id = ?", (deployment_id,)
            ).fetchone()
        return _deployment(row) if row is not None else None

    def deployments(
        self, app: str | None = None, limit: int | None = 50, *, state: str | None = None
    ) -> list[Deployment]:
        """Newest first; filtered by app and state when given."""
        rows = self._select("deployments", [], app=app, state=state, order="id DESC",
                            limit=limit)  # fmt: skip
        return [_deployment(row) for row in rows]

    def unfinished_deployments(self, app: str | None = None) -> list[Deployment]:
        """Deployments not in a terminal state (ended_at is NULL), newest first:
        what a restarted console offers to resume or roll back."""
        rows = self._select("deployments", [("ended_at IS NULL", ())], app=app, order="id DESC")
        return [_deployment(row) for row in rows]

    # -- sign-offs, audit, overrides, changelog --------------------------------

    def sign_off(
        self,
        deployment_id: int | None,
        item_id: str,
        *,
        note: str = "",
        link: str = "",
        state: str = "signed",
    ) -> SignOff:
        """Record that the local user signed (or revoked, or skipped with a reason in
        ``note``) a checklist item. The latest row per item is its state."""
        r = self.redactor
        with self._db("write") as conn:
            cur = conn.execute(
                "INSERT INTO sign_offs (ts, deployment_id, item_id, state, local_user,"
                " jump_host, note, link) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (self._clock(), deployment_id, item_id, state, self.local_user,
                 self.jump_host, r(note), r(link)),
            )  # fmt: skip
            row = conn.execute("SELECT * FROM sign_offs WHERE id = ?", (cur.lastrowid,)).fetchone()
        return _sign_off(row)

    def sign_offs(self, deployment_id: int | None) -> list[SignOff]:
        """All sign-off rows of a deployment, oldest first."""
        with self._db("read") as conn:
            rows = conn.execute(
                "SELECT * FROM sign_offs WHERE deployment_id IS ? ORDER BY id", (deployment_id,)
            ).fetchall()
        return [_sign_off(row) for row in rows]

    def audit(
        self,
        action: str,
        *,
        host: str = "",
        ssh_user: str = "",
        detail: str = "",
        deployment_id: int | None = None,
    ) -> AuditEntry:
        """Who did what: the local user @ this jump host, as which SSH user, on which host."""
        with self._db("write") as conn:
            cur = conn.execute(
                "INSERT INTO audit (ts, action, local_user, jump_host, ssh_user, host, detail,"
                " deployment_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (self._clock(), action, self.local_user, self.jump_host, ssh_user, host,
                 self.redactor(detail), deployment_id),
            )  # fmt: skip
            row = conn.execute("SELECT * FROM audit WHERE id = ?", (cur.lastrowid,)).fetchone()
        return _audit(row)

    def audit_entries(
        self, *, deployment_id: int | None = None, limit: int | None = None
    ) -> list[AuditEntry]:
        """Audit rows oldest first, of one deployment when given."""
        rows = self._select("audit", [], deployment_id=deployment_id, order="id", limit=limit)
        return [_audit(row) for row in rows]

    def override(
        self,
        deployment_id: int | None,
        gate: str,
        reason: str,
        *,
        data: Mapping[str, Any] | None = None,
    ) -> Override:
        """An operator passed a closed gate with a typed reason (required)."""
        if not reason or not reason.strip():
            raise ValueError("an override needs a reason")
        with self._db("write") as conn:
            cur = conn.execute(
                "INSERT INTO overrides (ts, deployment_id, gate, reason, local_user, jump_host,"
                " data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self._clock(), deployment_id, gate, self.redactor(reason.strip()),
                 self.local_user, self.jump_host, self._dump(data)),
            )  # fmt: skip
            row = conn.execute("SELECT * FROM overrides WHERE id = ?", (cur.lastrowid,)).fetchone()
        return _override(row)

    def overrides(self, deployment_id: int | None) -> list[Override]:
        with self._db("read") as conn:
            rows = conn.execute(
                "SELECT * FROM overrides WHERE deployment_id IS ? ORDER BY id", (deployment_id,)
            ).fetchall()
        return [_override(row) for row in rows]

    def add_changelog(
        self,
        deployment_id: int | None,
        line: str,
        *,
        app: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> ChangelogEntry:
        """Keep the changelog line written to the host; ``app`` defaults to the
        deployment's app."""
        with self._db("write", transaction=True) as conn:
            if app is None and deployment_id is not None:
                found = conn.execute(
                    "SELECT app FROM deployments WHERE id = ?", (deployment_id,)
                ).fetchone()
                app = found[0] if found else ""
            cur = conn.execute(
                "INSERT INTO changelog (ts, deployment_id, app, line, data) VALUES (?, ?, ?, ?, ?)",
                (self._clock(), deployment_id, app or "", self.redactor(line), self._dump(data)),
            )
            row = conn.execute("SELECT * FROM changelog WHERE id = ?", (cur.lastrowid,)).fetchone()
        return _changelog(row)

    def changelog(self, app: str | None = None, limit: int | None = 50) -> list[ChangelogEntry]:
        """Newest first."""
        rows = self._select("changelog", [], app=app, order="id DESC", limit=limit)
        return [_changelog(row) for row in rows]

    def _select(
        self,
        table: str,
        where: list[tuple[str, Any]],
        *,
        order: str,
        limit: int | None = None,
        **equal: Any,
    ) -> list[sqlite3.Row]:
        """SELECT * from one of our tables: ``where`` holds (condition, value or values) pairs,
        ``equal`` column = value filters that apply when the value is not None. Table, column
        and order names come from this module only; every value is a bound parameter."""
        conditions, params = [], []
        for condition, value in where:
            conditions.append(condition)
            params.extend(value if isinstance(value, list | tuple) else [value])
        for column, value in equal.items():
            if value is not None:
                conditions.append(f"{column} = ?")
                params.append(value)
        sql = f"SELECT * FROM {table}"
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        sql += f" ORDER BY {order}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._db("read") as conn:
            return conn.execute(sql, params).fetchall()


# -- helpers ------------------------------------------------------------------


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _window(text: str) -> str:
    limit = OUTPUT_TAIL_CHARS + _REDACT_MARGIN
    return text if len(text) <= limit else text[-limit:]


def _tail(text: str) -> str:
    if len(text) <= OUTPUT_TAIL_CHARS:
        return text
    cut = text[-(OUTPUT_TAIL_CHARS - len(TRUNCATED_MARK)) :]
    newline = cut.find("\n")
    if 0 <= newline < len(cut) - 1:
        cut = cut[newline + 1 :]  # start on a whole line
    return TRUNCATED_MARK + cut


# Rows are read by column name, so columns a later migration appends (ALTER TABLE
# ADD COLUMN) do not shift anything here.


def _event(row: sqlite3.Row) -> Event:
    return Event(
        id=row["id"], ts=row["ts"], deployment_id=row["deployment_id"], host=row["host"],
        step=row["step"], kind=row["kind"], message=row["message"],
        argv=tuple(json.loads(row["argv"])), exit_status=row["exit_status"],
        duration=row["duration"], output_tail=row["output_tail"], data=json.loads(row["data"]),
    )  # fmt: skip


def _deployment(row: sqlite3.Row) -> Deployment:
    return Deployment(
        id=row["id"], app=row["app"], ref=row["ref"], state=row["state"],
        started_at=row["started_at"], ended_at=row["ended_at"], local_user=row["local_user"],
        jump_host=row["jump_host"], ssh_user=row["ssh_user"], from_version=row["from_version"],
        to_version=row["to_version"], data=json.loads(row["data"]), step=row["step"],
        pid=row["pid"],
    )  # fmt: skip


def _sign_off(row: sqlite3.Row) -> SignOff:
    return SignOff(
        id=row["id"], ts=row["ts"], deployment_id=row["deployment_id"], item_id=row["item_id"],
        state=row["state"], local_user=row["local_user"], jump_host=row["jump_host"],
        note=row["note"], link=row["link"],
    )  # fmt: skip


def _audit(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        id=row["id"], ts=row["ts"], action=row["action"], local_user=row["local_user"],
        jump_host=row["jump_host"], ssh_user=row["ssh_user"], host=row["host"],
        detail=row["detail"], deployment_id=row["deployment_id"],
    )  # fmt: skip


def _override(row: sqlite3.Row) -> Override:
    return Override(
        id=row["id"], ts=row["ts"], deployment_id=row["deployment_id"], gate=row["gate"],
        reason=row["reason"], local_user=row["local_user"], jump_host=row["jump_host"],
        data=json.loads(row["data"]),
    )  # fmt: skip


def _changelog(row: sqlite3.Row) -> ChangelogEntry:
    return ChangelogEntry(
        id=row["id"], ts=row["ts"], deployment_id=row["deployment_id"], app=row["app"],
        line=row["line"], data=json.loads(row["data"]),
    )  # fmt: skip
