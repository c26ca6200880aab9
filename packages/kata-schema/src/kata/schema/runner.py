"""Applying, resetting and inspecting the migrations of the database kata.db is configured for."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg

import kata.db
from kata.schema import lock, tracking
from kata.schema.errors import MigrationError, database_errors
from kata.schema.execute import Runner
from kata.schema.files import Migration, discover
from kata.schema.splitter import Statement
from kata.schema.tracking import Applied
from kata.schema.wipe import wipe

logger = logging.getLogger("kata.schema")

Connection = psycopg.Connection[Any]
Plan = list[tuple[Migration, list[Statement]]]

DEFAULT_LOCK_TIMEOUT = 600.0


@dataclass(frozen=True)
class Status:
    """How the migration folder and the database compare, each part ordered by version.

    *applied*: every migration the tracking table records (including *changed* ones);
    *pending*: files not applied yet; *changed*: applied files whose contents differ from
    what was applied; *missing*: applied migrations that no longer have a file.
    """

    applied: tuple[Applied, ...]
    pending: tuple[Migration, ...]
    changed: tuple[Migration, ...]
    missing: tuple[Applied, ...]


def status(schema: str | os.PathLike[str]) -> Status:
    """Compare the migrations in the folder *schema* with what the database has applied.

    Reads only: it takes no lock and creates no table. Raises MigrationError for a bad
    folder or file name (naming it) and when the database cannot be reached.
    """
    migrations = discover(schema)
    with _connection() as conn, database_errors("reading the applied migrations"):
        return _compare(migrations, tracking.read(conn))


def apply(
    schema: str | os.PathLike[str],
    n: int = 0,
    *,
    accept_changed: bool = False,
    out_of_order: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> list[Applied]:
    """Apply, in order, every migration in the folder *schema* not yet applied.

    With *n*, the database is taken to have everything up to version n already: migrations
    numbered up to n that are not recorded yet are recorded as a baseline (``baseline`` in
    ``kata_migrations`` and in :func:`status`) without running them, and only newer ones run;
    a later ``apply(schema)`` then runs only what is newer still.

    Each migration runs in its own transaction together with its tracking row, unless its
    first line is ``-- kata:no-transaction``; then its statements run one by one outside a
    transaction (for ``CREATE INDEX CONCURRENTLY`` and the like) and the row is written after
    the last one. Returns what this call ran, in order; an empty list when the database is up
    to date. Each applied migration is logged (logger ``kata.schema``) with its duration, and
    so is each NOTICE or WARNING a migration raises, with its file and line.

    A pending migration older than the newest applied one (a branch merged late) is refused
    with a MigrationError naming it, since the history would then differ from one database to
    the next; ``out_of_order=True`` applies it.

    Several processes may call this at once: one at a time holds an advisory lock and the
    others wait for it (polling, up to *lock_timeout* seconds), then find the work done.
    Every migration is validated before the first one runs.

    Raises MigrationError naming the file when a file is misnamed, a number is used twice,
    a file that would run is empty, has unclosed quotes or a psql backslash command, a
    statement fails (with the statement's line and what took effect), or an applied
    migration's file has changed since. With ``accept_changed=True`` changed files are
    instead accepted: their new checksums are recorded, and they are not run again.

    When a migration ran, ``kata.db.forget_tables()`` is called, so models in this process
    see the new columns.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int (apply the migrations numbered above it), got {n!r}")
    _check_lock_timeout(lock_timeout)
    migrations = discover(schema)
    with _connection() as conn:
        with database_errors("reading the applied migrations"):
            current = _compare(migrations, tracking.read(conn))
        standard_strings = _standard_strings(conn)
        plan = _plan(current, n, accept_changed, out_of_order, standard_strings)
        baseline = _baseline(current, n)
        if not plan and not baseline and not current.changed:
            _warn_missing(current, schema)
            return []
        with (
            _connection() as lock_conn,
            database_errors("using the migration lock"),
            lock.held(lock_conn, lock_timeout),
        ):
            with database_errors("creating the tracking table"):
                tracking.ensure(conn)
                # Re-read under the lock: another process may have applied some meanwhile.
                current = _compare(migrations, tracking.read(conn))
            plan = _plan(current, n, accept_changed, out_of_order, standard_strings)
            _warn_missing(current, schema)
            for migration in current.changed:
                with database_errors(f"accepting the changed {migration.path}"):
                    tracking.accept_checksum(conn, migration)
                logger.warning("accepted the changed contents of %s; it is not run again", migration.path)
            baseline = _baseline(current, n)
            if baseline:
                with database_errors("recording the baseline"), conn.transaction():
                    for migration in baseline:
                        tracking.record(conn, migration, timedelta(0), baseline=True)
                logger.info(
                    "recorded migrations %s as a baseline (already in the database; not run)",
                    ", ".join(str(migration.version) for migration in baseline),
                )
            return _run_all(conn, plan)


def reset(schema: str | os.PathLike[str], *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> list[Applied]:
    """Empty the database and apply every migration in *schema*.

    Every schema is dropped with everything in it (the tracking table in public included), as
    are extensions (but plpgsql), event triggers, publications and large objects; public is
    created again with its owner, grants and comment, so the database is as CREATE DATABASE
    made it. Refuses with MigrationError when the database settings say ``protected: true``
    and when *schema* holds no migration. Every file is read and checked before anything is
    dropped, so a broken file leaves the database as it was. Holds the same lock as
    :func:`apply`, so processes applying at the same time wait. Returns what it applied.
    Models in this process forget the tables they had read (``kata.db.forget_tables()``).
    """
    _check_lock_timeout(lock_timeout)
    try:
        settings = kata.db.settings()
    except kata.db.DatabaseError as exc:
        raise MigrationError(f"cannot reset the database: {exc}") from exc
    if settings.protected:
        raise MigrationError(
            f"database {settings.name!r} is protected (protected: true in its settings); "
            f"reset() refuses to drop its schema"
        )
    migrations = discover(schema)
    if not migrations:
        raise MigrationError(
            f"{schema} holds no migration; reset() refuses to empty the database with nothing to apply",
            path=Path(schema),
        )
    with (
        _connection() as conn,
        _connection() as lock_conn,
        database_errors("using the migration lock"),
        lock.held(lock_conn, lock_timeout),
    ):
        standard_strings = _standard_strings(conn)
        plan = [(migration, _statements(migration, standard_strings)) for migration in migrations]
        with database_errors("emptying the database"):
            dropped = wipe(conn)
            tracking.ensure(conn)
        kata.db.forget_tables()  # every table is gone, even if no migration recreates it
        logger.warning(
            "reset database %r: dropped %s and recreated the public schema",
            settings.name,
            "every schema (" + ", ".join(["public", *dropped]) + ")",
        )
        return _run_all(conn, plan)


def _check_lock_timeout(lock_timeout: float) -> None:
    if isinstance(lock_timeout, bool) or not isinstance(lock_timeout, (int, float)) or not lock_timeout > 0:
        raise ValueError(f"lock_timeout must be a positive number of seconds, got {lock_timeout!r}")


def _compare(migrations: Sequence[Migration], applied: dict[int, Applied]) -> Status:
    versions = {migration.version for migration in migrations}
    return Status(
        applied=tuple(applied.values()),
        pending=tuple(m for m in migrations if m.version not in applied),
        changed=tuple(
            m for m in migrations if m.version in applied and applied[m.version].checksum != m.checksum
        ),
        missing=tuple(row for version, row in applied.items() if version not in versions),
    )


def _baseline(current: Status, n: int) -> list[Migration]:
    return [migration for migration in current.pending if migration.version <= n]


def _plan(current: Status, n: int, accept_changed: bool, out_of_order: bool, standard_strings: bool) -> Plan:
    """The migrations to run with their statements; raises for changed files unless accepted
    and for migrations older than the newest applied one unless *out_of_order*."""
    if current.changed and not accept_changed:
        names = ", ".join(str(migration.path) for migration in current.changed)
        raise MigrationError(
            f"{names}: changed since applied (the checksum differs from the one recorded); "
            f"restore the applied contents and put new changes in a new migration, or pass "
            f"accept_changed=True to keep the file as it is without running it again",
            path=current.changed[0].path,
        )
    to_run = [migration for migration in current.pending if migration.version > n]
    newest = max(current.applied, key=lambda applied: applied.version, default=None)
    if newest is not None and not out_of_order:
        late = [migration for migration in to_run if migration.version < newest.version]
        if late:
            names = ", ".join(str(migration.path) for migration in late)
            raise MigrationError(
                f"{names}: not applied, yet older than the newest applied migration "
                f"{newest.version}-{newest.name}; applying it now would give this database a history "
                f"other databases do not have. If it does not depend on what came after, apply it with "
                f"out_of_order=True (kata schema apply --out-of-order); otherwise renumber it above "
                f"{newest.version}",
                path=late[0].path,
            )
    return [(migration, _statements(migration, standard_strings)) for migration in to_run]


def _statements(migration: Migration, standard_strings: bool) -> list[Statement]:
    statements = migration.statements(standard_strings=standard_strings)
    if not statements and not migration.sql.strip():
        raise MigrationError(
            f"{migration.path}: the file is empty; write the migration or delete the file",
            path=migration.path,
        )
    return statements  # a file of comments only is a no-op, recorded like any other


def _standard_strings(conn: Connection) -> bool:
    """The session's standard_conforming_strings, which decides how the splitter reads '\\'."""
    return conn.info.parameter_status("standard_conforming_strings") != "off"


def _warn_missing(current: Status, schema: str | os.PathLike[str]) -> None:
    for row in current.missing:
        logger.warning(
            "migration %d (%s) is recorded as applied but has no file in %s", row.version, row.name, schema
        )


def _run_all(conn: Connection, plan: Plan) -> list[Applied]:
    done: list[Applied] = []
    runner = Runner(conn)
    try:
        for migration, statements in plan:
            if done:
                _fresh_session(conn)  # the first runs on the session _connection() just set up
            done.append(runner.run(migration, statements))
    finally:
        if plan:
            # Models in this process cache each table's columns; after a migration ran (even
            # one that failed half way outside a transaction) they must read them again.
            kata.db.forget_tables()
    return done


def _fresh_session(conn: Connection) -> None:
    """Start each migration in a clean session, as if it were the only one in the run.

    A migration may ``SET search_path`` or ``SET ROLE`` for the rest of the session; without
    this, the next migration would run under those settings only when both are applied by
    the same call. The configured statement_timeout is meant for requests, not for building
    indexes, so migrations run without it.
    """
    with database_errors("preparing the session"):
        conn.execute("DISCARD ALL", prepare=False)
        _lift_statement_timeout(conn)


def _lift_statement_timeout(conn: Connection) -> None:
    # kata.db sends a configured statement_timeout as a startup option, so DISCARD ALL
    # brings it back; without one there is nothing to lift.
    if kata.db.settings().statement_timeout is not None:
        conn.execute("SET statement_timeout = 0", prepare=False)


@contextmanager
def _connection() -> Iterator[Connection]:
    """A new autocommit connection to the configured database, closed after the block."""
    try:
        conn = kata.db.connect(autocommit=True)
    except kata.db.DatabaseError as exc:
        raise MigrationError(f"cannot connect to the database: {exc}") from exc
    with conn:
        conn.prepare_threshold = None  # DISCARD ALL would drop statements psycopg prepared
        with database_errors("preparing the session"):
            _lift_statement_timeout(conn)
        yield conn
