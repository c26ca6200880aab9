"""The connection pool, the current transaction, and connections outside the pool.

The pool is a psycopg_pool ``ConnectionPool`` of ``pool_size`` connections in autocommit mode:
a call outside :func:`transaction` is its own transaction. Each connection is checked with a
round trip before it is handed out, so after a server restart the stale connections are
replaced and calls succeed again without restarting the application.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from kata.db.errors import NotInitializedError, translated
from kata.db.settings import Settings, parse

logger = logging.getLogger("kata.db")

Connection = psycopg.Connection[Any]

# psycopg prepares a statement after this many executions on one connection (its default).
_PREPARE_THRESHOLD = 5


class _State:
    """What initialize() set up; replaced as a whole so readers never see half of it."""

    def __init__(self, settings: Settings, pool: ConnectionPool[Connection], generation: int) -> None:
        self.settings = settings
        self.pool = pool
        self.generation = generation


_state: _State | None = None
_generation = 0
_lock = threading.Lock()
# The connection of the innermost open transaction() in this thread or task.
_current: ContextVar[Connection | None] = ContextVar("kata.db.transaction", default=None)


def _connect_kwargs(settings: Settings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"prepare_threshold": _PREPARE_THRESHOLD if settings.prepare else None}
    if settings.statement_timeout is not None:
        milliseconds = math.ceil(settings.statement_timeout * 1000)
        kwargs["options"] = f"-c statement_timeout={milliseconds}"
    return kwargs


def initialize(section: Mapping[str, Any]) -> None:
    """Configure kata.db from a ``database`` section and open its connection pool.

    Keys (see the package README): ``name``, ``host`` (a host name, an address, or the
    directory of a Unix socket), ``user`` are required; ``port`` (5432), ``password`` (none),
    ``pool_size`` (10), ``protected`` (false), ``prepare`` (true), ``connect_timeout`` (10 s),
    ``pool_timeout`` (30 s) and ``statement_timeout`` (none) are optional.

    The settings are checked first (ConfigurationError naming the key), then one connection is
    made so that a wrong host, database or password fails here (ConnectionLost with libpq's
    message) rather than in the first request. Only then is a previous pool closed: a failed
    initialize leaves the previous configuration working.
    """
    global _state, _generation
    settings = parse(section)
    kwargs = _connect_kwargs(settings)
    with translated():
        psycopg.connect(settings.conninfo, **kwargs).close()
    pool: ConnectionPool[Connection] = ConnectionPool(
        settings.conninfo,
        min_size=settings.pool_size,
        max_size=settings.pool_size,
        timeout=settings.pool_timeout,
        kwargs={"autocommit": True, **kwargs},
        check=ConnectionPool.check_connection,
        name=f"kata.db:{settings.name}",
        open=False,
    )
    pool.open()
    with _lock:
        old = _state
        _generation += 1
        _state = _State(settings, pool, _generation)
    if old is not None:
        old.pool.close()
    logger.info("kata.db connected to database %r on %s:%s", settings.name, settings.host, settings.port)


def close() -> None:
    """Close the connection pool; kata.db is unusable until the next :func:`initialize`.

    Connections in use are closed when they are given back. Calling it twice is harmless.
    """
    global _state
    with _lock:
        old, _state = _state, None
    if old is not None:
        old.pool.close()


def _get_state() -> _State:
    state = _state
    if state is None:
        raise NotInitializedError("kata.db is not initialized: call kata.db.initialize(section) first")
    return state


def settings() -> Settings:
    """The settings of the current configuration; NotInitializedError before initialize()."""
    return _get_state().settings


def generation() -> int:
    """A number that changes with every initialize(): cached catalog facts older than it are stale."""
    return _get_state().generation


def connect(*, autocommit: bool = False) -> Connection:
    """A new connection to the configured database, outside the pool; the caller closes it.

    It has the pool's prepared-statement and statement-timeout settings, and psycopg's usual
    transaction behaviour (a transaction opens with the first statement) unless *autocommit*.
    Use it for long work that should not hold a pooled connection, such as migrations under
    an advisory lock. Connection failures raise ConnectionLost.
    """
    state = _get_state()
    with translated():
        return psycopg.connect(
            state.settings.conninfo, autocommit=autocommit, **_connect_kwargs(state.settings)
        )


@contextmanager
def connection() -> Iterator[Connection]:
    """The connection to run statements on for the duration of the block.

    Inside :func:`transaction` it is the transaction's connection; otherwise a pooled
    connection in autocommit mode, given back at the end of the block. psycopg errors raised
    in the block come out as kata.db errors.
    """
    current = _current.get()
    if current is not None:
        with translated():
            yield current
        return
    pool = _get_state().pool
    with translated(), pool.connection() as conn:
        yield conn


@contextmanager
def transaction() -> Iterator[None]:
    """Run every kata.db call in the block on one connection, as one transaction.

    The transaction commits when the block ends and rolls back if it raises. A nested
    ``transaction()`` is a savepoint: an exception leaving the inner block undoes only the
    inner block's work. The transaction belongs to the current thread (and asyncio task);
    other threads keep using the pool.
    """
    current = _current.get()
    if current is not None:
        with translated(), current.transaction():
            yield
        return
    pool = _get_state().pool
    with translated(), pool.connection() as conn, conn.transaction():
        token = _current.set(conn)
        try:
            yield
        finally:
            _current.reset(token)
