"""The journal's SQLite schema and its migrations.

The schema version lives in ``PRAGMA user_version``. MIGRATIONS[i] takes a
database from version i to i+1; to change the schema, APPEND a migration (never
edit a released one), e.g. ``ALTER TABLE events ADD COLUMN ...``. Each migration
runs in one IMMEDIATE transaction together with the user_version bump, so a crash
or a second process opening the same file at the same time never leaves a
half-migrated journal.

Conventions: times are Unix seconds (REAL); ``data`` columns hold a JSON object
for fields that do not deserve a column yet; ids are AUTOINCREMENT so an id is
never reused, because UIs and printers tail the journal by "id greater than".
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

_V1: Sequence[str] = (
    """
    CREATE TABLE deployments (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        app          TEXT    NOT NULL,
        ref          TEXT    NOT NULL DEFAULT '',
        state        TEXT    NOT NULL DEFAULT 'running',
        step         TEXT    NOT NULL DEFAULT '',   -- last step begun, for resume
        started_at   REAL    NOT NULL,
        ended_at     REAL,                          -- NULL while unfinished
        local_user   TEXT    NOT NULL DEFAULT '',
        jump_host    TEXT    NOT NULL DEFAULT '',
        ssh_user     TEXT    NOT NULL DEFAULT '',
        pid          INTEGER NOT NULL DEFAULT 0,    -- console process that ran it
        from_version TEXT    NOT NULL DEFAULT '',
        to_version   TEXT    NOT NULL DEFAULT '',
        data         TEXT    NOT NULL DEFAULT '{}'
    )
    """,
    "CREATE INDEX deployments_by_app ON deployments (app, id)",
    """
    CREATE TABLE events (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        ts            REAL    NOT NULL,
        deployment_id INTEGER REFERENCES deployments (id),
        host          TEXT    NOT NULL DEFAULT '',
        step          TEXT    NOT NULL DEFAULT '',
        kind          TEXT    NOT NULL,
        message       TEXT    NOT NULL DEFAULT '',
        argv          TEXT    NOT NULL DEFAULT '[]',  -- JSON array of strings
        exit_status   INTEGER,
        duration      REAL,
        output_tail   TEXT    NOT NULL DEFAULT '',
        data          TEXT    NOT NULL DEFAULT '{}'
    )
    """,
    # By id is the INTEGER PRIMARY KEY (the rowid b-tree); this one serves
    # "the events of deployment N after id M".
    "CREATE INDEX events_by_deployment ON events (deployment_id, id)",
    "CREATE INDEX events_by_kind ON events (kind, id)",
    """
    CREATE TABLE sign_offs (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        ts            REAL    NOT NULL,
        deployment_id INTEGER REFERENCES deployments (id),
        item_id       TEXT    NOT NULL,
        state         TEXT    NOT NULL DEFAULT 'signed',  -- signed | revoked | skipped
        local_user    TEXT    NOT NULL DEFAULT '',
        jump_host     TEXT    NOT NULL DEFAULT '',
        note          TEXT    NOT NULL DEFAULT '',
        link          TEXT    NOT NULL DEFAULT ''
    )
    """,
    "CREATE INDEX sign_offs_by_deployment ON sign_offs (deployment_id, id)",
    """
    CREATE TABLE audit (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        ts            REAL    NOT NULL,
        action        TEXT    NOT NULL,
        local_user    TEXT    NOT NULL DEFAULT '',
        jump_host     TEXT    NOT NULL DEFAULT '',
        ssh_user      TEXT    NOT NULL DEFAULT '',
        host          TEXT    NOT NULL DEFAULT '',
        detail        TEXT    NOT NULL DEFAULT '',
        deployment_id INTEGER REFERENCES deployments (id)
    )
    """,
    "CREATE INDEX audit_by_deployment ON audit (deployment_id, id)",
    # Gate overrides (checklist, order, policy, watch): the typed reason an operator
    # gave to pass a closed gate. Shown in the timeline and the changelog line.
    """
    CREATE TABLE overrides (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        ts            REAL    NOT NULL,
        deployment_id INTEGER REFERENCES deployments (id),
        gate          TEXT    NOT NULL,
        reason        TEXT    NOT NULL,
        local_user    TEXT    NOT NULL DEFAULT '',
        jump_host     TEXT    NOT NULL DEFAULT '',
        data          TEXT    NOT NULL DEFAULT '{}'
    )
    """,
    "CREATE INDEX overrides_by_deployment ON overrides (deployment_id, id)",
    # The changelog line written to the host on CONFIRM, kept here as well.
    """
    CREATE TABLE changelog (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        ts            REAL    NOT NULL,
        deployment_id INTEGER REFERENCES deployments (id),
        app           TEXT    NOT NULL DEFAULT '',
        line          TEXT    NOT NULL,
        data          TEXT    NOT NULL DEFAULT '{}'
    )
    """,
    "CREATE INDEX changelog_by_app ON changelog (app, id)",
)

MIGRATIONS: Sequence[Sequence[str]] = (_V1,)
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNewError(Exception):
    """The file was written by a newer shipdeck; refusing to touch it."""


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to SCHEMA_VERSION; returns the version found before.

    ``conn`` must be in autocommit mode (isolation_level=None) so the explicit
    BEGIN/COMMIT here are the only transaction boundaries.
    """
    before = found = schema_version(conn)
    while found < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the write lock.
            current = schema_version(conn)
            if current != found:
                conn.execute("COMMIT")
                found = current
                continue
            for statement in MIGRATIONS[current]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {current + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        found = current + 1
    if found > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"schema v{found} is newer than this shipdeck knows (v{SCHEMA_VERSION})"
        )
    return before
