"""The connection pool, scopes, transactions, and connections outside the pool.

The pool is a psycopg_pool ``ConnectionPool`` of ``pool_size`` connections in autocommit mode:
a call outside :func:`transaction` is its own transaction. A checkout costs no round trip: a
pooled connection is handed out unless its socket shows that the server closed it (a
non-blocking poll) or it sat idle longer than ``max_idle``; such a connection is replaced.

Every call goes through :func:`run`. Inside :func:`scope` the calls share one connection,
taken at the first call; inside :func:`transaction` they share the transaction's.

When the pool has no idle connection although not all of them are lent out (the pool is
making some again, after a restart of the server for instance), a call connects directly
rather than wait for the pool, so it either gets a connection or fails within
``connect_timeout`` with :class:`Unavailable`. While the server is known to be unreachable,
one caller at a time tries to connect and the others fail at once; the first connection
that works ends that state.
"""

from __future__ import annotations

import functools
import logging
import math
import select
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple, ParamSpec, TypeVar

import psycopg
import psycopg_pool
from psycopg.pq import ConnStatus

from kata.db.config import Settings, check
from kata.db.errors import (
    ConnectionLost,
    NotInitializedError,
    Unavailable,
    is_connection_failure,
    translate_error,
)

if TYPE_CHECKING:
    from kata.db.replicas import Replicas

logger = logging.getLogger("kata.db")

R = TypeVar("R")
P = ParamSpec("P")

# psycopg prepares a statement after this many executions on one connection (its default).
_PREPARE_THRESHOLD = 5
# How long a checkout waits for an idle pooled connection when some are not lent out: just
# enough to take one that is there (psycopg_pool refuses a timeout of 0).
_NO_WAIT = 0.001
# A connection that goes back to the pool keeps its reader cursor (and the last result read)
# only when that result has at most this many rows.
_KEPT_ROWS = 100
# What Unavailable suggests to clients: the server refused or did not answer, try again soon.
RETRY_AFTER = 2


class Connection(psycopg.Connection[Any]):
    """A kata.db connection: a psycopg connection that knows whether it belongs to the pool
    and since when it has been idle there."""

    pooled = True
    idle_since = math.inf
    _reader: psycopg.Cursor[Any] | None = None

    def reader(self) -> psycopg.Cursor[Any]:
        """A cursor with tuple rows that the model calls share while the connection is lent.

        Making a cursor costs about as much as kata's own part of a one-row read (measured:
        3.5 µs, a psycopg Transformer and adapters map each time), so the connection keeps
        one. It keeps the last result it read until the next call, so it is dropped when the
        connection goes back to the pool holding a large result.
        """
        cursor = self._reader
        if cursor is None or cursor.closed:
            cursor = self._reader = self.cursor()
        return cursor


class _State:
    """What initialize() set up; replaced as a whole so readers never see half of it."""

    def __init__(
        self, settings: Settings, pool: psycopg_pool.ConnectionPool[Connection], generation: int
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.generation = generation
        self.connect_kwargs = _connect_kwargs(settings)
        # Connections lent out (pooled or direct), to tell "all are in use" (wait for one)
        # from "the pool is short" (connect directly).
        self.lent = 0
        self.lent_lock = threading.Lock()
        # Set while the server is unreachable; one caller at a time holds `probe` to connect.
        self.down = False
        self.probe = threading.Lock()
        # Checkouts that found every connection lent out and waited for one.
        self.waits = 0
        # The pools of database.replicas, when there are any.
        self.replicas: Replicas | None = None

    def close(self) -> None:
        self.pool.close()
        if self.replicas is not None:
            self.replicas.close()


_state: _State | None = None
_generation = 0
_lock = threading.Lock()


class _Lease:
    """The connection a scope (or a single call) holds, taken from the pool when first needed.

    It is also the context manager that :func:`scope` returns: one object per request rather
    than two, since a scope is entered on every request, database or not.
    """

    __slots__ = ("conn", "state", "token")

    def __init__(self, state: _State | None) -> None:
        self.state = state
        self.conn: Connection | None = None

    def get(self) -> tuple[Connection, bool]:
        """The connection, and whether it was just taken from the pool (nothing ran on it)."""
        conn = self.conn
        if conn is not None:
            if not conn.closed:
                return conn, False
            self.release()  # broken by an earlier call of the scope: take another
        if self.state is None:
            self.state = _get_state()
        conn = self.conn = _take(self.state)
        return conn, conn.pooled

    def replace(self) -> Connection:
        """Give back a connection found broken and connect afresh."""
        assert self.state is not None
        self.release()
        with self.state.lent_lock:
            self.state.lent += 1
        try:
            conn = self.conn = _connect_direct(self.state)
        except BaseException:
            with self.state.lent_lock:
                self.state.lent -= 1
            raise
        return conn

    def release(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            assert self.state is not None
            _give_back(self.state, conn)

    def __enter__(self) -> None:
        # Nested: the outer scope's connection serves, and this one holds none.
        self.token = None if _scope.get() is not None else _scope.set(self)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.token is not None:
            _scope.reset(self.token)
            if self.conn is not None:  # (most requests that use no database end here)
                self.release()


# The connection of the innermost open transaction() in this thread or task.
_transaction: ContextVar[Connection | None] = ContextVar("kata.db.transaction", default=None)
# The lease of the open scope() in this thread or task.
_scope: ContextVar[_Lease | None] = ContextVar("kata.db.scope", default=None)
# When this thread or task last wrote (time.monotonic()): for read_your_writes seconds after
# it, its reads go to the primary rather than to a replica (kata.db.replicas).
last_write: ContextVar[float] = ContextVar("kata.db.last_write", default=-math.inf)


def _connect_kwargs(settings: Settings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"prepare_threshold": _PREPARE_THRESHOLD if settings.prepare else None}
    if settings.statement_timeout is not None:
        milliseconds = math.ceil(settings.statement_timeout * 1000)
        kwargs["options"] = f"-c statement_timeout={milliseconds}"
    return kwargs


def initialize(section: Mapping[str, Any]) -> None:
    """Configure kata.db from a ``database`` section and open its connection pool.

    The settings are checked first (ConfigurationError naming the key), then one connection is
    made so that a wrong host, database or password fails here (ConnectionLost with libpq's
    message) rather than in the first request. Only then is a previous pool closed: a failed
    initialize leaves the previous configuration working.
    """
    global _state, _generation
    settings = check(section)
    kwargs = _connect_kwargs(settings)
    try:
        psycopg.connect(settings.conninfo, **kwargs).close()
    except psycopg.Error as exc:
        raise translate_error(exc) from exc
    pool: psycopg_pool.ConnectionPool[Connection] = psycopg_pool.ConnectionPool(
        settings.conninfo,
        connection_class=Connection,
        min_size=settings.pool_size,
        max_size=settings.pool_size,
        timeout=settings.pool_timeout,
        max_lifetime=settings.max_lifetime,
        kwargs={"autocommit": True, **kwargs},
        name=f"kata.db:{settings.name}",
        open=False,
    )
    try:
        # Filled before use: calls then connect directly only when the pool falls short.
        pool.open(wait=True, timeout=settings.connect_timeout)
    except psycopg_pool.PoolTimeout as exc:
        pool.close()
        raise ConnectionLost(
            f"could not open {settings.pool_size} connections within connect_timeout ({settings.connect_timeout} s)"
        ) from exc
    new = _State(settings, pool, _generation + 1)
    if settings.replicas:
        from kata.db.replicas import Replicas

        new.replicas = Replicas(settings)
    with _lock:
        old = _state
        _generation += 1
        _state = new
    if old is not None:
        old.close()
    logger.info("kata.db connected to database %r on %s:%s", settings.name, settings.host, settings.port)


def close() -> None:
    """Close the connection pool; kata.db is unusable until the next :func:`initialize`.

    Connections in use are closed when they are given back. Calling it twice is harmless.
    """
    global _state
    with _lock:
        old, _state = _state, None
    if old is not None:
        old.close()


def _get_state() -> _State:
    state = _state
    if state is None:
        raise NotInitializedError("kata.db is not initialized: call kata.db.initialize(section) first")
    return state


def settings() -> Settings:
    """The settings of the current configuration; NotInitializedError before initialize()."""
    return _get_state().settings


class PoolStats(NamedTuple):
    """What :func:`stats` reports of one server's connections."""

    size: int
    """``pool_size``: the connections kept open."""
    in_use: int
    """Connections lent out now (pooled, or made directly while the pool is short)."""
    waits: int
    """Checkouts since :func:`initialize` that found every connection lent out and waited."""


def stats() -> dict[str, PoolStats]:
    """The pool figures of the primary (key ``"primary"``) and of each replica (``"host:port"``)."""
    state = _get_state()
    found = {"primary": _stats(state)}
    if state.replicas is not None:
        found.update((name, _stats(replica)) for name, replica in state.replicas.states())
    return found


def _stats(state: _State) -> PoolStats:
    return PoolStats(state.settings.pool_size, state.lent, state.waits)


def in_transaction() -> bool:
    """Whether the current thread (or task) is inside :func:`transaction`."""
    return _transaction.get() is not None


def generation() -> int:
    """A number that changes with every initialize(): cached catalog facts older than it are stale."""
    return _get_state().generation


# -- checkout ------------------------------------------------------------------------------


def _take(state: _State) -> Connection:
    """A connection for one lease: pooled when the pool has one, direct when it is short."""
    with state.lent_lock:
        busy = state.lent
        state.lent += 1
        if busy >= state.settings.pool_size:
            state.waits += 1
    try:
        return _take_counted(state, busy)
    except BaseException:
        with state.lent_lock:
            state.lent -= 1
        raise


def _take_counted(state: _State, busy: int) -> Connection:
    pool = state.pool
    # Wait for a connection only when all are lent out: then one comes back when a call ends.
    # Otherwise the missing ones are being made again, perhaps for a server that is down.
    wait = None if busy >= state.settings.pool_size and not state.down else _NO_WAIT
    max_idle = state.settings.max_idle
    while True:
        try:
            conn = pool.getconn(wait)
        except psycopg_pool.PoolTimeout as exc:
            if wait is None:
                raise translate_error(exc) from exc
            return _connect_direct(state)
        except psycopg.Error as exc:
            raise translate_error(exc) from exc
        idle = time.monotonic() - conn.idle_since
        if idle <= max_idle and _open(conn):
            return conn
        logger.info(
            "kata.db: replacing a pooled connection %s",
            "closed by the server" if idle <= max_idle else "idle too long",
        )
        conn.close()
        pool.putconn(conn)  # the pool makes a new one in the background


if hasattr(select, "poll"):

    def _readable(fd: int) -> bool:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))

else:  # pragma: no cover (Windows)

    def _readable(fd: int) -> bool:
        return bool(select.select([fd], [], [], 0)[0])


def _open(conn: Connection) -> bool:
    """Whether an idle connection is still open, without a round trip.

    An idle autocommit connection has nothing to read, unless the server ended the session
    (a FATAL message, then end of file) or the peer closed the socket. Anything readable
    means the connection is not worth handing out.
    """
    pgconn = conn.pgconn
    return pgconn.status == ConnStatus.OK and not _readable(pgconn.socket)


def _connect_direct(state: _State) -> Connection:
    """A new connection outside the pool, for one lease (closed when it is given back).

    While the server is known to be unreachable only one caller at a time tries; the others
    raise Unavailable at once.
    """
    probing = state.down
    if probing and not state.probe.acquire(blocking=False):
        raise Unavailable("the database server is unreachable (another call is checking it)", RETRY_AFTER)
    try:
        conn = Connection.connect(state.settings.conninfo, autocommit=True, **state.connect_kwargs)
    except psycopg.Error as exc:
        if not is_connection_failure(exc):
            raise translate_error(exc) from exc
        if not state.down:
            logger.warning("kata.db: the database server is unreachable: %s", str(exc).strip())
        state.down = True
        raise Unavailable(f"the database server is unreachable: {str(exc).strip()}", RETRY_AFTER) from exc
    finally:
        if probing:
            state.probe.release()
    if state.down:
        state.down = False
        logger.warning("kata.db: the database server is reachable again")
    conn.pooled = False
    return conn


def _give_back(state: _State, conn: Connection) -> None:
    """Return a lent connection: to the pool (which rolls back an open transaction and
    replaces a broken connection), or closed if it was made outside the pool."""
    with state.lent_lock:
        state.lent -= 1
    reader = conn._reader
    if reader is not None:
        result = reader.pgresult
        if result is not None and result.ntuples > _KEPT_ROWS:
            conn._reader = None
    if not conn.pooled:
        conn.close()
        return
    conn.idle_since = time.monotonic()
    state.pool.putconn(conn)


def _retryable(conn: Connection, fresh: bool, exc: psycopg.Error) -> bool:
    """Whether a call that failed with *exc* may run again on a new connection: the
    connection came idle from the pool and this was its first use, so the failure met a
    connection that was already dead (cut by a proxy, a restart not yet seen) and nothing
    of the call ran."""
    return fresh and conn.broken and is_connection_failure(exc)


# -- what calls use ------------------------------------------------------------------------


def run(work: Callable[[Connection], R]) -> R:
    """Run *work* on the connection of the current transaction or scope, or on a connection
    taken for this call alone; psycopg errors come out as kata.db errors.

    Outside a transaction, if the connection turns out dead at its first use, *work* runs
    once more on a new connection.
    """
    conn = _transaction.get()
    if conn is not None:
        try:
            return work(conn)
        except psycopg.Error as exc:
            raise translate_error(exc) from exc
    lease = _scope.get()
    own = lease is None
    if lease is None:
        lease = _Lease(_get_state())
    try:
        conn, fresh = lease.get()
        try:
            return work(conn)
        except psycopg.Error as exc:
            if not _retryable(conn, fresh, exc):
                raise translate_error(exc) from exc
            logger.info("kata.db: a pooled connection was dead; running the call again on a new one")
        try:
            return work(lease.replace())
        except psycopg.Error as exc:
            raise translate_error(exc) from exc
    finally:
        if own:
            lease.release()


def scope() -> _Lease:
    """A block whose kata.db calls share one pooled connection.

    ::

        with kata.db.scope():
            foo = Foo.get_one({'id': 1})
            Bar.get({'foo_id': foo.id})

    The connection is taken from the pool at the first call in the block and given back when
    the block ends, also when it raises; a block that makes no call takes none. An open
    transaction left on the connection is rolled back, and a broken one is replaced. Nested
    scopes share the outer one's connection. A scope belongs to its thread (and asyncio task).
    """
    return _Lease(None)


def scoped(func: Callable[P, R]) -> Callable[P, R]:
    """*func* made to run each call in a :func:`scope` of its own (in the caller's, when it
    is called inside one).

    ::

        @kata.db.scoped
        def handle(job):
            ...

    The framework serves each request this way. It does what ``with kata.db.scope():`` around
    the body does, in one call frame instead of four (1,600 instructions fewer per call, 4% of
    a request that answers plain text). *func* must be a plain function: the scope ends when
    the call returns, before an async function's body would run.
    """

    # (updated=(): a callable object's attributes are not the wrapper's.)
    @functools.wraps(func, updated=())
    def in_scope(*args: P.args, **kwargs: P.kwargs) -> R:
        if _scope.get() is not None:
            return func(*args, **kwargs)
        lease = _Lease(None)
        token = _scope.set(lease)
        try:
            return func(*args, **kwargs)
        finally:
            _scope.reset(token)
            if lease.conn is not None:
                lease.release()

    return in_scope


def connect(*, autocommit: bool = False) -> psycopg.Connection[Any]:
    """A new connection to the configured database, outside the pool; the caller closes it.

    It has the pool's prepared-statement and statement-timeout settings, and psycopg's usual
    transaction behaviour (a transaction opens with the first statement) unless *autocommit*.
    Use it for long work that should not hold a pooled connection, such as migrations under
    an advisory lock. Connection failures raise ConnectionLost.
    """
    state = _get_state()
    try:
        return psycopg.connect(state.settings.conninfo, autocommit=autocommit, **state.connect_kwargs)
    except psycopg.Error as exc:
        raise translate_error(exc) from exc


@contextmanager
def connection() -> Iterator[psycopg.Connection[Any]]:
    """The connection to run statements on for the duration of the block.

    Inside :func:`transaction` it is the transaction's connection, inside :func:`scope` the
    scope's; otherwise a pooled connection in autocommit mode, given back at the end of the
    block. psycopg errors raised in the block come out as kata.db errors.
    """
    conn = _transaction.get()
    own = None
    if conn is None:
        lease = _scope.get()
        if lease is None:
            lease = own = _Lease(_get_state())
        conn = lease.get()[0]
    try:
        yield conn
    except psycopg.Error as exc:
        raise translate_error(exc) from exc
    finally:
        if own is not None:
            own.release()


@contextmanager
def transaction() -> Iterator[None]:
    """Run every kata.db call in the block on one connection, as one transaction.

    The transaction commits when the block ends and rolls back if it raises. A nested
    ``transaction()`` is a savepoint: an exception leaving the inner block undoes only the
    inner block's work. Inside :func:`scope` it runs on the scope's connection. The
    transaction belongs to the current thread (and asyncio task); other threads keep using
    the pool. If the connection turns out dead at ``BEGIN``, the transaction starts on a new
    one; once a statement of the block has run, a lost connection raises ConnectionLost.
    """
    current = _transaction.get()
    if current is not None:
        try:
            with current.transaction():
                yield
        except psycopg.Error as exc:
            raise translate_error(exc) from exc
        return
    lease = _scope.get()
    own = lease is None
    if lease is None:
        lease = _Lease(_get_state())
    try:
        conn, fresh = lease.get()
        block = conn.transaction()
        try:
            block.__enter__()
        except psycopg.Error as exc:
            if not _retryable(conn, fresh, exc):
                raise translate_error(exc) from exc
            conn = lease.replace()
            block = conn.transaction()
            try:
                block.__enter__()
            except psycopg.Error as again:
                raise translate_error(again) from again
        token = _transaction.set(conn)
        try:
            yield
        except BaseException as exc:
            _transaction.reset(token)
            try:
                suppressed = block.__exit__(type(exc), exc, exc.__traceback__)
            except psycopg.Error as failed:
                raise translate_error(failed) from failed
            if not suppressed:
                if isinstance(exc, psycopg.Error):
                    raise translate_error(exc) from exc
                raise
        else:
            _transaction.reset(token)
            try:
                block.__exit__(None, None, None)
            except psycopg.Error as exc:
                raise translate_error(exc) from exc
    finally:
        if own:
            lease.release()
        last_write.set(time.monotonic())
