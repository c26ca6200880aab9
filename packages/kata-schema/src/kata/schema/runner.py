"""Applying, resetting and inspecting the migrations of the database kata.db is configured for."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
from psycopg import sql

import kata.db
from kata.schema import lock, tracking
from kata.schema.errors import MigrationError
from kata.schema.files import NO_TRANSACTION_MARKER, Migration, discover
from kata.schema.splitter import Statement
from kata.schema.tracking import Applied

logger = logging.getLogger("kata.schema")

Connection = psycopg.Connection[Any]
Plan = list[tuple[Migration, list[Statement]]]

DEFAULT_LOCK_TIMEOUT = 600.0
_EXCERPT = 100  # characters of a failing statement quoted in an error


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
    with _connection() as conn, _database_errors("reading the applied migrations"):
        return _compare(migrations, tracking.read(conn))


def apply(
    schema: str | os.PathLike[str],
    n: int = 0,
    *,
    accept_changed: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> list[Applied]:
    """Apply, in order, every migration in the folder *schema* numbered above *n* and not yet applied.

    Each migration runs in its own transaction together with its tracking row, unless its
    first line is ``-- kata:no-transaction``; then its statements run one by one outside a
    transaction (for ``CREATE INDEX CONCURRENTLY`` and the like) and the row is written after
    the last one. Returns what this call applied, in order; an empty list when the database
    is up to date. Each applied migration is logged (logger ``kata.schema``) with its duration.

    Several processes may call this at once: one at a time holds an advisory lock and the
    others wait for it (polling, up to *lock_timeout* seconds), then find the work done.
    Every migration is validated before the first one runs.

    Raises MigrationError naming the file when a file is misnamed, a number is used twice,
    a file that would run is empty or has unclosed quotes, a statement fails (with the
    statement's line; a transactional migration then leaves nothing behind), or an applied
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
        with _database_errors("reading the applied migrations"):
            current = _compare(migrations, tracking.read(conn))
        plan = _plan(current, n, accept_changed)
        if not plan and not current.changed:
            _warn_missing(current, schema)
            return []
        with (
            _connection() as lock_conn,
            _database_errors("using the migration lock"),
            lock.held(lock_conn, lock_timeout),
        ):
            with _database_errors("creating the tracking table"):
                tracking.ensure(conn)
                # Re-read under the lock: another process may have applied some meanwhile.
                current = _compare(migrations, tracking.read(conn))
            plan = _plan(current, n, accept_changed)
            _warn_missing(current, schema)
            for migration in current.changed:
                with _database_errors(f"accepting the changed {migration.path}"):
                    tracking.accept_checksum(conn, migration)
                logger.warning("accepted the changed contents of %s; it is not run again", migration.path)
            newest = max((applied.version for applied in current.applied), default=0)
            return _run_all(conn, plan, newest)


def reset(schema: str | os.PathLike[str], *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> list[Applied]:
    """Drop the public schema (with everything in it, the tracking table included), recreate
    it empty with its owner, grants and comment, and apply every migration in *schema*.

    Refuses with MigrationError when the database settings say ``protected: true``. Every
    file is read and checked before anything is dropped, so a broken file leaves the
    database as it was. Schemas other than public are not touched. Holds the same lock as
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
    plan = [(migration, _statements(migration)) for migration in migrations]
    with (
        _connection() as conn,
        _connection() as lock_conn,
        _database_errors("using the migration lock"),
        lock.held(lock_conn, lock_timeout),
    ):
        with _database_errors("recreating the public schema"):
            _recreate_public(conn)
            tracking.ensure(conn)
        kata.db.forget_tables()  # every table is gone, even if no migration recreates it
        logger.warning("reset database %r: dropped and recreated the public schema", settings.name)
        return _run_all(conn, plan, 0)


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


def _plan(current: Status, n: int, accept_changed: bool) -> Plan:
    """The migrations to run with their statements; raises for changed files unless accepted."""
    if current.changed and not accept_changed:
        names = ", ".join(str(migration.path) for migration in current.changed)
        raise MigrationError(
            f"{names}: changed since applied (the checksum differs from the one recorded); "
            f"restore the applied contents and put new changes in a new migration, or pass "
            f"accept_changed=True to keep the file as it is without running it again",
            path=current.changed[0].path,
        )
    return [(migration, _statements(migration)) for migration in current.pending if migration.version > n]


def _statements(migration: Migration) -> list[Statement]:
    statements = migration.statements()
    if not statements:
        raise MigrationError(
            f"{migration.path}: contains no SQL statement; write the migration or delete the file",
            path=migration.path,
        )
    return statements


def _warn_missing(current: Status, schema: str | os.PathLike[str]) -> None:
    for row in current.missing:
        logger.warning(
            "migration %d (%s) is recorded as applied but has no file in %s", row.version, row.name, schema
        )


def _run_all(conn: Connection, plan: Plan, newest: int) -> list[Applied]:
    done: list[Applied] = []
    try:
        for migration, statements in plan:
            if done:
                _fresh_session(conn)  # the first runs on the session _connection() just set up
            if migration.version < newest:
                logger.warning(
                    "applying %s after the newer migration %d; migrations are applied out of order",
                    migration.path,
                    newest,
                )
            done.append(_run(conn, migration, statements))
    finally:
        if plan:
            # Models in this process cache each table's columns; after a migration ran (even
            # one that failed half way outside a transaction) they must read them again.
            kata.db.forget_tables()
    return done


def _run(conn: Connection, migration: Migration, statements: list[Statement]) -> Applied:
    started = time.perf_counter()
    if migration.transactional:
        with _database_errors(f"recording {migration.path}"), conn.transaction():
            for statement in statements:
                try:
                    conn.execute(statement.text, prepare=False)
                except psycopg.Error as exc:
                    raise _failed(migration, statement, exc, []) from exc
            duration = timedelta(seconds=time.perf_counter() - started)
            applied = tracking.record(conn, migration, duration)
    else:
        ran: list[Statement] = []
        for statement in statements:
            try:
                conn.execute(statement.text, prepare=False)
            except psycopg.Error as exc:
                raise _failed(migration, statement, exc, ran) from exc
            ran.append(statement)
        duration = timedelta(seconds=time.perf_counter() - started)
        with _database_errors(f"recording {migration.path}"):
            applied = tracking.record(conn, migration, duration)
    logger.info("applied %s in %.1f ms", migration.path, duration.total_seconds() * 1000)
    return applied


def _fresh_session(conn: Connection) -> None:
    """Start each migration in a clean session, as if it were the only one in the run.

    A migration may ``SET search_path`` or ``SET ROLE`` for the rest of the session; without
    this, the next migration would run under those settings only when both are applied by
    the same call. The configured statement_timeout is meant for requests, not for building
    indexes, so migrations run without it.
    """
    with _database_errors("preparing the session"):
        conn.execute("DISCARD ALL", prepare=False)
        _lift_statement_timeout(conn)


def _lift_statement_timeout(conn: Connection) -> None:
    # kata.db sends a configured statement_timeout as a startup option, so DISCARD ALL
    # brings it back; without one there is nothing to lift.
    if kata.db.settings().statement_timeout is not None:
        conn.execute("SET statement_timeout = 0", prepare=False)


def _failed(
    migration: Migration, statement: Statement, exc: psycopg.Error, ran: list[Statement]
) -> MigrationError:
    diag = exc.diag
    line = statement.line
    position = diag.statement_position
    if position and position.isdigit():  # 1-based character offset into the statement
        line += statement.text.count("\n", 0, int(position) - 1)
    first_line = statement.text.splitlines()[0]
    excerpt = first_line if len(first_line) <= _EXCERPT else first_line[: _EXCERPT - 1] + "…"
    lines = [f"{migration.path}, line {line}: {diag.message_primary or str(exc).strip()}"]
    if diag.message_detail:
        lines.append(f"  {diag.message_detail}")
    lines.append(f"  in the statement starting on line {statement.line}: {excerpt}")
    if migration.transactional:
        lines.append("  nothing from this file was applied (its transaction was rolled back)")
        if isinstance(exc, psycopg.errors.ActiveSqlTransaction):
            lines.append(
                f"  this statement cannot run in a transaction: make {NO_TRANSACTION_MARKER!r} the first line"
            )
    elif ran:
        done = ", ".join(str(earlier.line) for earlier in ran)
        lines.append(
            f"  the statements before it (on lines {done}) took effect and stay; the file is not recorded "
            f"as applied, so the next run starts it from the top: make those statements safe to repeat "
            f"(IF NOT EXISTS) or undo them"
        )
    else:
        lines.append("  no statement of this file took effect; it is not recorded as applied")
    return MigrationError("\n".join(lines), path=migration.path, line=line)


_PUBLIC_SCHEMA = """
SELECT pg_get_userbyid(n.nspowner),
       obj_description(n.oid, 'pg_namespace'),
       ARRAY(
           SELECT format('GRANT %s ON SCHEMA public TO %s%s', a.privilege_type,
                         CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
                         CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
           FROM aclexplode(n.nspacl) AS a
           WHERE a.grantee <> n.nspowner
           ORDER BY 1)
FROM pg_namespace AS n
WHERE n.nspname = 'public'
"""


def _recreate_public(conn: Connection) -> None:
    """Drop the public schema and create it again as it was: same owner, grants and comment."""
    with conn.transaction():
        found = conn.execute(_PUBLIC_SCHEMA, prepare=False).fetchone()
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE", prepare=False)
        if found is None:
            conn.execute("CREATE SCHEMA public", prepare=False)
            return
        owner, comment, grants = found
        conn.execute(
            sql.SQL("CREATE SCHEMA public AUTHORIZATION {}").format(sql.Identifier(owner)), prepare=False
        )
        for grant in grants:
            conn.execute(grant, prepare=False)
        if comment is not None:
            conn.execute(
                sql.SQL("COMMENT ON SCHEMA public IS {}").format(sql.Literal(comment)), prepare=False
            )


@contextmanager
def _connection() -> Iterator[Connection]:
    """A new autocommit connection to the configured database, closed after the block."""
    try:
        conn = kata.db.connect(autocommit=True)
    except kata.db.DatabaseError as exc:
        raise MigrationError(f"cannot connect to the database: {exc}") from exc
    with conn:
        conn.prepare_threshold = None  # DISCARD ALL would drop statements psycopg prepared
        with _database_errors("preparing the session"):
            _lift_statement_timeout(conn)
        yield conn


@contextmanager
def _database_errors(doing: str) -> Iterator[None]:
    """Raise a psycopg error from the block as a MigrationError saying what was being done."""
    try:
        yield
    except psycopg.Error as exc:
        raise MigrationError(f"database error while {doing}: {str(exc).strip()}") from exc
