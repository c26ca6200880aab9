"""Plain SQL, for what the model calls do not express: joins, aggregates, upserts, locks.

Values go in *params* and are bound by the server (``%s`` or ``%(name)s`` placeholders); never
format them into the text. Build identifiers with ``psycopg.sql``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, overload

from psycopg import sql
from psycopg.rows import dict_row

from kata.db.model import Object, fetch_all, row_maker
from kata.db.pool import Connection
from kata.db.replicas import read, write

T = TypeVar("T", bound=Object)

Statement = str | sql.SQL | sql.Composed
Params = Sequence[Any] | Mapping[str, Any] | None


@overload
def query(
    statement: Statement, params: Params = None, *, model: None = None, read_only: bool = False
) -> list[dict[str, Any]]: ...


@overload
def query(
    statement: Statement, params: Params = None, *, model: type[T], read_only: bool = False
) -> list[T]: ...


def query(
    statement: Statement, params: Params = None, *, model: type[T] | None = None, read_only: bool = False
) -> list[Any]:
    """Run a statement that returns rows; return them as dicts, or as *model* instances.

    ::

        kata.db.query('SELECT bar, count(*) AS n FROM foo GROUP BY bar')
        kata.db.query('SELECT * FROM foo WHERE qux > %s', [3], model=Foo)

    It runs in the current :func:`kata.db.transaction`, if any. Errors are kata.db errors.
    ``read_only=True`` says the statement only reads: with ``database.replicas`` it may then
    run on a replica (see :mod:`kata.db.replicas`); otherwise it runs on the primary.
    """
    factory: Any = dict_row if model is None else row_maker(model)

    def select(conn: Connection) -> list[Any]:
        with conn.cursor(row_factory=factory) as cursor:
            cursor.execute(statement, params)
            return fetch_all(cursor) if cursor.description is not None else []

    return (read if read_only else write)(select)


def execute(statement: Statement, params: Params = None) -> int:
    """Run a statement for its effect; return the number of rows it affected (-1 if none apply).

    It runs in the current :func:`kata.db.transaction`, if any. Errors are kata.db errors.
    """
    return write(lambda conn: conn.execute(statement, params).rowcount)
