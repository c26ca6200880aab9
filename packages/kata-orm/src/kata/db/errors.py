"""The exceptions kata.db raises, and the translation of psycopg's errors into them.

Every error that comes from the driver keeps the psycopg exception as ``__cause__``, so its
diagnostics (``exc.__cause__.diag``) stay reachable.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import psycopg_pool

# SQLSTATEs that mean the server ended the session: admin_shutdown, crash_shutdown and
# cannot_connect_now (the server is starting or stopping).
_SESSION_ENDED = frozenset({"57P01", "57P02", "57P03"})


class DatabaseError(Exception):
    """The base of every kata.db error.

    ``sqlstate`` is the server's five-character error code when the server reported the error,
    otherwise None.
    """

    sqlstate: str | None = None


class ConfigurationError(DatabaseError, ValueError):
    """The ``database`` configuration section is wrong.

    ``key`` is the path of the offending key inside the section (``"port"``,
    ``"replicas[0].host"``; ``""`` for the section as a whole), ``problem`` what is wrong with
    it; the message is ``database.<key>: <problem>``.
    """

    def __init__(self, problem: str, key: str = "") -> None:
        super().__init__(f"database.{key}: {problem}" if key else f"database: {problem}")
        self.key = key
        self.problem = problem


class NotInitializedError(DatabaseError):
    """kata.db was used before :func:`kata.db.initialize` or after :func:`kata.db.close`."""


class ConnectionLost(DatabaseError):
    """The server could not be reached, or the connection broke while in use.

    A statement that was running may or may not have been committed. A pooled connection
    found closed is replaced before it is handed out, so the next call after a server restart
    gets a fresh connection.
    """


class Unavailable(ConnectionLost):
    """PostgreSQL cannot be reached: the call failed within ``connect_timeout``, without
    waiting for a pooled connection.

    ``retry_after`` is a number of seconds after which trying again makes sense (for a
    ``Retry-After`` header). Calls recover by themselves once the server is back.
    """

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PoolTimeout(DatabaseError):
    """No pooled connection became free within the configured ``pool_timeout``."""


class IntegrityError(DatabaseError):
    """A constraint rejected the statement; nothing the statement wrote was kept.

    ``constraint`` is the name of the violated constraint (None for NOT NULL violations,
    which name a ``column`` instead) and ``table`` the table it belongs to.
    """

    def __init__(
        self, message: str, constraint: str | None = None, table: str | None = None, column: str | None = None
    ) -> None:
        super().__init__(message)
        self.constraint = constraint
        self.table = table
        self.column = column


class UnknownTableError(DatabaseError):
    """A model's ``__table__`` names no table or view visible in the database."""

    def __init__(self, message: str, table: str) -> None:
        super().__init__(message)
        self.table = table


class UnknownColumnError(DatabaseError):
    """A column name (in values, a where mapping or order_by) is not a column of the table."""

    def __init__(self, message: str, table: str, column: str) -> None:
        super().__init__(message)
        self.table = table
        self.column = column


class InvalidValue(DatabaseError, ValueError):
    """A value the column's type cannot hold, refused before anything is sent: text with a
    NUL character, or an integer outside the range of an integer column. It comes from the
    caller's input, so ``http_status`` is 400 (a web framework can answer with it without
    knowing kata.db); ``table`` and ``column`` name where the value was going.
    """

    http_status = 400

    def __init__(self, message: str, table: str, column: str) -> None:
        super().__init__(message)
        self.table = table
        self.column = column


def translate_error(exc: psycopg.Error) -> DatabaseError:
    """The kata.db error for a psycopg error (the caller raises it ``from exc``)."""
    message = str(exc).strip() or type(exc).__name__
    result: DatabaseError
    if isinstance(exc, psycopg_pool.PoolTimeout):
        result = PoolTimeout(f"no database connection became free in time: {message}")
    elif isinstance(exc, psycopg_pool.PoolClosed):
        result = NotInitializedError("the kata.db connection pool is closed: call kata.db.initialize() again")
    elif isinstance(exc, psycopg.IntegrityError):
        diag = exc.diag
        result = IntegrityError(message, diag.constraint_name, diag.table_name, diag.column_name)
    elif is_connection_failure(exc):
        result = ConnectionLost(f"database connection failed: {message}")
    else:
        result = DatabaseError(message)
    result.sqlstate = exc.sqlstate
    return result


def is_connection_failure(exc: psycopg.Error) -> bool:
    """Whether *exc* says the connection to the server failed or ended (not a query error)."""
    if isinstance(exc, psycopg.InterfaceError):
        return True  # e.g. "the connection is closed"
    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = exc.sqlstate
    # No SQLSTATE means libpq itself failed: refused, reset, or closed by the server.
    return state is None or state.startswith("08") or state in _SESSION_ENDED


@contextmanager
def translated() -> Iterator[None]:
    """Raise psycopg errors raised inside the block as kata.db errors."""
    try:
        yield
    except psycopg.Error as exc:
        raise translate_error(exc) from exc
