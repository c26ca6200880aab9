"""The tracking table: which migrations a database has, and when and how fast they ran."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from kata.schema.files import Migration

Connection = psycopg.Connection[Any]

# In the public schema, which is what reset() drops: the table goes and comes back with it.
TABLE = "public.kata_migrations"

_CREATE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    version bigint PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    duration interval NOT NULL,
    baseline boolean NOT NULL DEFAULT false
)
"""
# Tables made before baselines existed get the column when a run next holds the lock.
_HAS_BASELINE = f"""
SELECT EXISTS (SELECT FROM pg_attribute WHERE attrelid = '{TABLE}'::regclass AND attname = 'baseline')
"""
_ADD_BASELINE = f"ALTER TABLE {TABLE} ADD COLUMN baseline boolean NOT NULL DEFAULT false"


@dataclass(frozen=True)
class Applied:
    """A migration as the tracking table records it.

    *checksum* is the SHA-256 the file had when it was applied (or was last accepted with
    ``accept_changed``), *applied_at* when its statements had all run (timezone-aware),
    *duration* how long they took. *baseline* is True for a migration recorded by
    ``apply(schema, n)`` as already in the database, without running it.
    """

    version: int
    name: str
    checksum: str
    applied_at: datetime
    duration: timedelta
    baseline: bool = False


def ensure(conn: Connection) -> None:
    """Create the tracking table if it is missing (call it holding the migration lock)."""
    conn.execute(_CREATE, prepare=False)
    row = conn.execute(_HAS_BASELINE, prepare=False).fetchone()
    if not (row and row[0]):
        conn.execute(_ADD_BASELINE, prepare=False)


def read(conn: Connection) -> dict[int, Applied]:
    """The applied migrations by version; none when the tracking table does not exist yet."""
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [TABLE], prepare=False).fetchone()
    if not exists or not exists[0]:
        return {}
    # A table from before baselines has no baseline column until the next locked run adds
    # it; reading the row as JSON copes with both without a second query.
    rows = conn.execute(
        f"SELECT version, name, checksum, applied_at, duration, "
        f"coalesce((to_jsonb(m) ->> 'baseline')::boolean, false) FROM {TABLE} AS m ORDER BY version",
        prepare=False,
    ).fetchall()
    return {row[0]: Applied(*row) for row in rows}


def record(conn: Connection, migration: Migration, duration: timedelta, *, baseline: bool = False) -> Applied:
    """Insert the row for *migration*, in the connection's current transaction if one is open.

    *baseline* marks a migration recorded as present without being run.
    """
    row = conn.execute(
        f"INSERT INTO {TABLE} (version, name, checksum, applied_at, duration, baseline) "
        "VALUES (%s, %s, %s, clock_timestamp(), %s, %s) "
        "RETURNING applied_at",
        [migration.version, migration.name, migration.checksum, duration, baseline],
        prepare=False,
    ).fetchone()
    assert row is not None  # INSERT … RETURNING of one row returns one row
    return Applied(migration.version, migration.name, migration.checksum, row[0], duration, baseline)


def accept_checksum(conn: Connection, migration: Migration) -> None:
    """Record the current checksum of an applied migration whose file was changed on purpose."""
    conn.execute(
        f"UPDATE {TABLE} SET checksum = %s WHERE version = %s",
        [migration.checksum, migration.version],
        prepare=False,
    )
