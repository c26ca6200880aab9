"""Running one migration file: its statements, COPY data, server notices, and errors that say
exactly what took effect."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from kata.schema import tracking
from kata.schema.errors import MigrationError, database_errors
from kata.schema.files import NO_TRANSACTION_MARKER, Migration
from kata.schema.splitter import Statement
from kata.schema.tracking import Applied

logger = logging.getLogger("kata.schema")

Connection = psycopg.Connection[Any]

_EXCERPT = 100  # characters of a failing statement quoted in an error
_NOTICE_LEVELS = {"WARNING": logging.WARNING, "NOTICE": logging.INFO, "INFO": logging.INFO}
_INLINE_BLOCK_LINE = re.compile(r"PL/pgSQL function inline_code_block line (\d+)")
_BODY_START = re.compile(r"\$(?:[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_\x80-\U0010ffff]*)?\$|'")

# Invalid indexes: what a failed CREATE INDEX CONCURRENTLY (or REINDEX CONCURRENTLY) leaves.
# An index on a partitioned table (relkind 'I') made ON ONLY is invalid by design until
# every partition's index is attached, so only plain indexes count.
_INVALID_INDEXES = """
SELECT i.indexrelid, format('%I.%I', n.nspname, c.relname), c.relname
FROM pg_index AS i
JOIN pg_class AS c ON c.oid = i.indexrelid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid AND c.relkind = 'i'
ORDER BY 2
"""


@dataclass
class _Where:
    """The statement running now, for the notice handler."""

    migration: Migration | None = None
    statement: Statement | None = None


class Runner:
    """Runs migrations on one autocommit connection and logs the notices they raise.

    Each NOTICE, WARNING or INFO message the server sends while a migration runs is logged
    on the ``kata.schema`` logger (WARNING for warnings, INFO otherwise) with the file and
    the line of the statement; the record carries ``migration_notice=True`` so a handler
    (``kata schema apply``) can pick these out.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.where = _Where()
        conn.add_notice_handler(self._notice)

    def _notice(self, diag: psycopg.errors.Diagnostic) -> None:
        migration, statement = self.where.migration, self.where.statement
        if migration is None or statement is None:
            return
        severity = diag.severity_nonlocalized or diag.severity or "NOTICE"
        text = diag.message_primary or ""
        for label, extra in (("DETAIL", diag.message_detail), ("HINT", diag.message_hint)):
            if extra:
                text += f" ({label}: {extra})"
        if diag.context:
            text += f" ({_context(diag.context, statement)})"
        logger.log(
            _NOTICE_LEVELS.get(severity, logging.INFO),
            "%s, line %d: %s: %s",
            migration.path,
            statement.line,
            severity,
            text,
            extra={"migration_notice": True},
        )

    def run(self, migration: Migration, statements: list[Statement]) -> Applied:
        """Run *migration* and record it; MigrationError saying what took effect if it fails."""
        started = time.perf_counter()
        try:
            if migration.transactional:
                applied = self._run_in_transaction(migration, statements, started)
            else:
                applied = self._run_alone(migration, statements, started)
        finally:
            self.where = _Where()
        logger.info("applied %s in %.1f ms", migration.path, applied.duration.total_seconds() * 1000)
        return applied

    def _run_in_transaction(
        self, migration: Migration, statements: list[Statement], started: float
    ) -> Applied:
        conn = self.conn
        with database_errors(f"recording {migration.path}"), conn.transaction():
            for statement in statements:
                try:
                    self._execute(migration, statement)
                except psycopg.Error as exc:
                    # The transaction is intact (in error) unless the statement ended it.
                    intact = conn.info.transaction_status == TransactionStatus.INERROR
                    raise _failed(migration, statement, exc, rolled_back=intact) from exc
            duration = timedelta(seconds=time.perf_counter() - started)
            return tracking.record(conn, migration, duration)

    def _run_alone(self, migration: Migration, statements: list[Statement], started: float) -> Applied:
        conn = self.conn
        with database_errors(f"checking the indexes before {migration.path}"):
            invalid_before = {row[0] for row in conn.execute(_INVALID_INDEXES, prepare=False)}
        ran: list[Statement] = []
        for statement in statements:
            try:
                self._execute(migration, statement)
            except psycopg.Error as exc:
                error = _failed(migration, statement, exc, ran=ran)
                left = _new_invalid_indexes(conn, invalid_before, [])
                raise _with_invalid_indexes(error, left, failed=True) from exc
            ran.append(statement)
        left = _new_invalid_indexes(conn, invalid_before, statements)
        if left:
            names = ", ".join(left)
            error = MigrationError(
                f"{migration.path}: after its statements ran, the index {names} is INVALID, so the "
                f"migration is not recorded as applied (CREATE INDEX CONCURRENTLY IF NOT EXISTS skips "
                f"an invalid index left by an earlier failed build)",
                path=migration.path,
            )
            raise _with_invalid_indexes(error, left, failed=False)
        duration = timedelta(seconds=time.perf_counter() - started)
        with database_errors(f"recording {migration.path}"):
            return tracking.record(conn, migration, duration)

    def _execute(self, migration: Migration, statement: Statement) -> None:
        self.where = _Where(migration, statement)
        if statement.copy_data is None:
            self.conn.execute(statement.text, prepare=False)
            return
        with self.conn.cursor() as cursor, cursor.copy(statement.text) as copy:
            copy.write(statement.copy_data)


def _new_invalid_indexes(conn: Connection, before: set[int], statements: list[Statement]) -> list[str]:
    """Invalid indexes this file left: new ones, and older ones whose name the file uses
    (an ``IF NOT EXISTS`` that skipped an index an earlier failed run left invalid)."""
    try:
        rows = conn.execute(_INVALID_INDEXES, prepare=False).fetchall()
    except psycopg.Error:
        return []  # the connection broke; the error being raised says so
    found = []
    for oid, qualified, name in rows:
        if oid not in before or any(_mentions(statement.text, name) for statement in statements):
            found.append(qualified)
    return found


def _mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w$]){re.escape(name)}(?![\w$])", text, re.IGNORECASE) is not None


def _with_invalid_indexes(error: MigrationError, indexes: list[str], *, failed: bool) -> MigrationError:
    if not indexes:
        return error
    lines = [str(error)]
    for name in indexes:
        what = "the failing statement left" if failed else "this file left"
        lines.append(
            f"  {what} the INVALID index {name} behind (pg_index.indisvalid is false): queries do not "
            f"use it, yet every write keeps it up to date. Drop it before applying again, with "
            f"DROP INDEX CONCURRENTLY IF EXISTS {name}; (CREATE INDEX CONCURRENTLY IF NOT EXISTS "
            f"would skip it and leave it invalid)"
        )
    return MigrationError("\n".join(lines), path=error.path, line=error.line)


def _context(context: str, statement: Statement) -> str:
    """The server's CONTEXT, with the file line of a DO block's PL/pgSQL line added."""
    text = " / ".join(line.strip() for line in context.strip().splitlines())
    if statement.keywords[:1] != ("do",):
        return f"CONTEXT: {text}"
    found = _INLINE_BLOCK_LINE.search(context)
    body = _BODY_START.search(statement.text)
    if found is None or body is None:
        return f"CONTEXT: {text}"
    # PL/pgSQL counts the body's lines from the one its opening quote is on.
    line = statement.line + statement.text.count("\n", 0, body.start()) + int(found[1]) - 1
    return f"CONTEXT: {text}, which is line {line} of the file"


def _failed(
    migration: Migration,
    statement: Statement,
    exc: psycopg.Error,
    *,
    rolled_back: bool = False,
    ran: list[Statement] | None = None,
) -> MigrationError:
    diag = exc.diag
    line = statement.line
    position = diag.statement_position
    column = None
    if position and position.isdigit():  # 1-based character offset into the statement
        offset = int(position) - 1
        line += statement.text.count("\n", 0, offset)
        column = offset - (statement.text.rfind("\n", 0, offset) + 1) + 1
    lines = [f"{migration.path}, line {line}: {diag.message_primary or str(exc).strip()}"]
    for label, value in (("DETAIL", diag.message_detail), ("HINT", diag.message_hint)):
        if value:
            lines.append(f"  {label}: {value}")
    if diag.internal_query:
        lines.append(f"  QUERY: {diag.internal_query.strip()}")
    if diag.context:
        lines.append(f"  {_context(diag.context, statement)}")
    if column is not None:
        offset = int(position or 0) - 1
        start = statement.text.rfind("\n", 0, offset) + 1
        end = statement.text.find("\n", offset)
        source = statement.text[start : end if end >= 0 else len(statement.text)]
        lines.append(f"  at line {line}, column {column}: {source}")
        lines.append("  " + " " * (len(f"at line {line}, column {column}: ") + column - 1) + "^")
    first_line = statement.text.splitlines()[0]
    excerpt = first_line if len(first_line) <= _EXCERPT else first_line[: _EXCERPT - 1] + "…"
    lines.append(f"  in the statement starting on line {statement.line}: {excerpt}")
    if migration.transactional:
        if rolled_back:
            lines.append("  nothing from this file was applied (its transaction was rolled back)")
        else:
            lines.append(
                "  this statement ended the file's transaction, so what ran before it may have been "
                "committed; the file is not recorded as applied: check the database before applying again"
            )
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
        lines.append("  no statement before it took effect; the file is not recorded as applied")
    return MigrationError("\n".join(lines), path=migration.path, line=line)
