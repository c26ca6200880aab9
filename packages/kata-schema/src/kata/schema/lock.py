"""The advisory lock that lets one process at a time apply migrations to a database.

The lock is a session-level PostgreSQL advisory lock held on a connection of its own, in
autocommit mode, so that it never has a transaction open. It is taken by polling
``pg_try_advisory_lock`` rather than waiting in ``pg_advisory_lock``: a process blocked in
that call holds a transaction that ``CREATE INDEX CONCURRENTLY`` in the lock holder must wait
for, while the holder keeps the waiter waiting: a deadlock. Between polls a waiter has no
transaction at all. If a process dies, the server ends its session and frees the lock.

A pooler such as PgBouncer in transaction mode lends the server connection to other clients
between transactions, so a session lock taken through it protects nothing: the lock is refused
on a connection whose server process is not the one it was opened with.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from kata.schema.errors import MigrationError

logger = logging.getLogger("kata.schema")

# Advisory locks are per database; this key is the first 8 bytes of sha256(b"kata.schema"),
# so it is unlikely to meet a key an application chose for itself.
LOCK_KEY = 0x608C1062A1DFF7FB
_FIRST_POLL = 0.05
_LONGEST_POLL = 1.0


@contextmanager
def held(conn: psycopg.Connection[Any], timeout: float) -> Iterator[None]:
    """Hold the migration lock on *conn* (autocommit) for the block.

    Waits up to *timeout* seconds for another process to finish, then raises MigrationError
    naming the server process that holds the lock.
    """
    _refuse_pooled(conn)
    deadline = time.monotonic() + timeout
    pause = _FIRST_POLL
    waiting_logged = False
    while not _try(conn):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise MigrationError(
                f"another process (PostgreSQL server process {_holder(conn)}) held the migration lock "
                f"for all the {timeout:g} s this one waited; try again when it is done, or end that process"
            )
        if not waiting_logged:
            logger.info(
                "waiting for another process (PostgreSQL server process %s) to apply migrations",
                _holder(conn),
            )
            waiting_logged = True
        time.sleep(min(pause, remaining))
        pause = min(pause * 2, _LONGEST_POLL)
    try:
        yield
    finally:
        try:
            conn.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY], prepare=False)
        except psycopg.Error:
            # The lock's session broke; closing it frees the lock all the same, and raising
            # here would hide the error that may be on its way out of the block.
            logger.debug("could not release the migration lock explicitly", exc_info=True)


def _refuse_pooled(conn: psycopg.Connection[Any]) -> None:
    # A direct connection announces its server process id at startup; a pooler announces an id
    # of its own, since the server process changes under it.
    row = conn.execute("SELECT pg_backend_pid()", prepare=False).fetchone()
    server_pid = row[0] if row else None
    if server_pid != conn.info.backend_pid:
        raise MigrationError(
            "the migration lock needs a database session of its own, and this connection goes through "
            f"a connection pooler (it announced process {conn.info.backend_pid}, server process "
            f"{server_pid} answered): PgBouncer in transaction mode would lend the locked session to "
            "other clients. Point migrations at the PostgreSQL server directly: run them with "
            "database.host and database.port set to the server's own address, not the pooler's"
        )


def _try(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY], prepare=False).fetchone()
    return bool(row and row[0])


def _holder(conn: psycopg.Connection[Any]) -> int | str:
    # A bigint advisory key shows in pg_locks as classid (high 32 bits), objid (low 32 bits)
    # and objsubid 1.
    row = conn.execute(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND classid = %s::oid AND objid = %s::oid AND objsubid = 1",
        [(LOCK_KEY >> 32) & 0xFFFFFFFF, LOCK_KEY & 0xFFFFFFFF],
        prepare=False,
    ).fetchone()
    return row[0] if row else "unknown"
