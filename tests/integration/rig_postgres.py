"""The rig's PostgreSQL from this machine (trust auth on 127.0.0.1): psql, and a database of a
test's own with a small `orders` table (created as postgres, owned by deploy, dropped after)."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from tests.rigenv import RigEnv


def psql(rig: RigEnv, sql: str, *, db: str, user: str = "deploy") -> str:
    """psql on this machine against the rig's PostgreSQL: its output, unaligned, tuples only."""
    argv = ["psql", "-h", "127.0.0.1", "-p", str(rig.pg_port), "-U", user, "-d", db]
    argv += ["-w", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True).stdout


def psql_lines(rig: RigEnv, sql: str, *, db: str, user: str = "deploy") -> list[str]:
    """psql's output as its lines (a row a line); [] for none."""
    out = psql(rig, sql, db=db, user=user)
    return out.split("\n")[:-1] if out else []


@contextmanager
def orders_database(rig: RigEnv, prefix: str) -> Iterator[str]:
    """A database named prefix_<random> with orders 1 tea, 2 coffee, 3 cake; dropped (FORCE)."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    psql(rig, f"CREATE DATABASE {name} OWNER deploy", db="postgres", user="postgres")
    try:
        psql(rig, "CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL)", db=name)
        psql(rig, "INSERT INTO orders VALUES (1, 'tea'), (2, 'coffee'), (3, 'cake')", db=name)
        yield name
    finally:
        psql(rig, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", db="postgres", user="postgres")
