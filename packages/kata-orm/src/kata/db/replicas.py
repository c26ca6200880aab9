"""Reads on streaming replicas, with read-your-writes and fallback to the primary.

With ``database.replicas`` set, the model's reads (``get``, ``get_in``, ``count``) and
``query(..., read_only=True)`` run on a replica, taken in turn; everything else (writes, plain
``query`` and ``execute``, and every call inside ``transaction()``) runs on the primary. For
``read_your_writes`` seconds after the current thread (or task) wrote, its reads go to the
primary as well, so that it sees what it wrote although the replicas lag a little.

A replica that cannot be reached, or whose connection breaks, is set aside for
:data:`RETRY_INTERVAL` seconds and the read runs on the next replica, or on the primary when
none is left: a replica that is down costs no call. Each replica has a pool like the
primary's (same ``pool_size``, same checkout rules), opened in the background so that a
replica that is down at start delays nothing.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import msgspec
import psycopg
import psycopg_pool

from kata.db import pool
from kata.db.config import Settings
from kata.db.errors import ConnectionLost, PoolTimeout, Unavailable, is_connection_failure, translate_error

logger = logging.getLogger("kata.db")

R = TypeVar("R")

RETRY_INTERVAL = 5.0
"""Seconds a replica that failed is left out before reads try it again."""

# Errors of a read on a replica that the same read on another server would not meet: the
# replica cancelled it to replay WAL (a recovery conflict, SQLSTATE 40001), or it is not yet
# accepting connections (57P03, "the database system is starting up").
_REPLICA_ONLY = frozenset({"40001", "57P03"})


class _Replica:
    __slots__ = ("down_until", "name", "state")

    def __init__(self, name: str, state: pool._State) -> None:
        self.name = name
        self.state = state
        self.down_until = 0.0


class Replicas:
    """The replica pools of one configuration; made by ``kata.db.initialize``."""

    def __init__(self, settings: Settings) -> None:
        self.window = settings.read_your_writes
        self._turn = itertools.count()
        self._replicas: list[_Replica] = []
        for replica in settings.replicas:
            own = msgspec.structs.replace(settings, host=replica.host, port=replica.port, replicas=())
            connections: psycopg_pool.ConnectionPool[pool.Connection] = psycopg_pool.ConnectionPool(
                own.conninfo,
                connection_class=pool.Connection,
                min_size=own.pool_size,
                max_size=own.pool_size,
                timeout=own.pool_timeout,
                max_lifetime=own.max_lifetime,
                kwargs={"autocommit": True, **pool._connect_kwargs(own)},
                name=f"kata.db:{own.name}@{replica.host}:{replica.port}",
                open=False,
            )
            connections.open(wait=False)
            name = f"{replica.host}:{replica.port}"
            self._replicas.append(_Replica(name, pool._State(own, connections, 0)))

    def states(self) -> Iterator[tuple[str, pool._State]]:
        for replica in self._replicas:
            yield replica.name, replica.state

    def close(self) -> None:
        for replica in self._replicas:
            replica.state.pool.close()

    def read(self, work: Callable[[pool.Connection], R]) -> R:
        """Run *work* on the next replica that answers, else on the primary."""
        replicas = self._replicas
        count = len(replicas)
        start = next(self._turn) % count
        now = time.monotonic()
        for step in range(count):
            replica = replicas[(start + step) % count]
            if replica.down_until > now:
                continue
            lease = pool._Lease(replica.state)
            try:
                conn, _ = lease.get()
                return work(conn)
            except (Unavailable, ConnectionLost, PoolTimeout) as exc:
                self._set_aside(replica, exc)
            except psycopg.Error as exc:
                if not (is_connection_failure(exc) or exc.sqlstate in _REPLICA_ONLY):
                    raise translate_error(exc) from exc
                self._set_aside(replica, exc)
            finally:
                lease.release()
        return pool.run(work)

    def _set_aside(self, replica: _Replica, exc: Exception) -> None:
        replica.down_until = time.monotonic() + RETRY_INTERVAL
        logger.warning(
            "kata.db: replica %s failed a read, which runs elsewhere; leaving it out for %g s: %s",
            replica.name,
            RETRY_INTERVAL,
            str(exc).strip(),
        )


def read(work: Callable[[pool.Connection], R]) -> R:
    """Run a read: on a replica when there are replicas, the call is outside a transaction and
    the thread wrote nothing in the last ``read_your_writes`` seconds; else on the primary."""
    replicas = pool._get_state().replicas
    if (
        replicas is None
        or pool.in_transaction()
        or time.monotonic() - pool.last_write.get() < replicas.window
    ):
        return pool.run(work)
    return replicas.read(work)


def write(work: Callable[[pool.Connection], R]) -> R:
    """Run a call that may write, on the primary, and start the thread's read-your-writes window."""
    try:
        return pool.run(work)
    finally:
        pool.last_write.set(time.monotonic())
