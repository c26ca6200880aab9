"""kata's lightweight ORM for PostgreSQL, on psycopg 3 and psycopg_pool.

Configure it once with :func:`initialize`, then declare one :class:`Object` subclass per table::

    kata.db.initialize({'name': 'app', 'host': 'localhost', 'user': 'app', 'pool_size': 10})

    class Foo(kata.db.Object):
        __table__ = 'foo'

    Foo.create([{'bar': 'baz', 'qux': 3}])
    Foo.get({'bar': 'baz'}, order_by='qux', limit=5)
"""

from kata.db.catalog import forget as forget_tables
from kata.db.config import Replica, Settings, check
from kata.db.errors import (
    ConfigurationError,
    ConnectionLost,
    DatabaseError,
    IntegrityError,
    InvalidValue,
    NotInitializedError,
    PoolTimeout,
    Unavailable,
    UnknownColumnError,
    UnknownTableError,
)
from kata.db.model import Object
from kata.db.pool import (
    PoolStats,
    close,
    connect,
    connection,
    initialize,
    scope,
    scoped,
    settings,
    stats,
    transaction,
)
from kata.db.raw import execute, query
from kata.db.serializer import serialize

__all__ = [
    "ConfigurationError",
    "ConnectionLost",
    "DatabaseError",
    "IntegrityError",
    "InvalidValue",
    "NotInitializedError",
    "Object",
    "PoolStats",
    "PoolTimeout",
    "Replica",
    "Settings",
    "Unavailable",
    "UnknownColumnError",
    "UnknownTableError",
    "check",
    "close",
    "connect",
    "connection",
    "execute",
    "forget_tables",
    "initialize",
    "query",
    "scope",
    "scoped",
    "serialize",
    "settings",
    "stats",
    "transaction",
]
