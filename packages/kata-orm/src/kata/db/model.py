"""``kata.db.Object``: one subclass per table, rows as instances with column attributes."""

from __future__ import annotations

import gc
import reprlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from typing import Any, ClassVar, TypeVar

import psycopg
from psycopg import sql

import kata.codec
from kata.db import catalog, statements
from kata.db.catalog import Table
from kata.db.connection import connection
from kata.db.errors import DatabaseError

T = TypeVar("T", bound="Object")

_repr = reprlib.Repr()
_repr.maxstring = 40
_repr.maxother = 40


def row_maker(cls: type[T]) -> Callable[[psycopg.Cursor[Any]], Callable[[Sequence[Any]], T]]:
    """A psycopg row factory that builds instances of *cls* from result rows."""

    def factory(cursor: psycopg.Cursor[Any]) -> Callable[[Sequence[Any]], T]:
        names = [column.name for column in cursor.description or ()]
        new = object.__new__

        def make(values: Sequence[Any]) -> T:
            instance = new(cls)
            instance.__dict__.update(zip(names, values))  # noqa: B905 (same length)
            return instance

        return make

    return factory


def fetch_all(cursor: psycopg.Cursor[Any]) -> list[Any]:
    """``cursor.fetchall()`` with the cyclic garbage collector paused while rows are built.

    Each instance is two objects the collector tracks, so building thousands of them sets
    off its full collections, which walk every object of the process: measured, half the
    time of a 10,000-row create. The result is already in memory when this runs, so the pause
    lasts only as long as the building, which makes no reference cycles.
    """
    if not gc.isenabled():
        return cursor.fetchall()
    gc.disable()
    try:
        return cursor.fetchall()
    finally:
        gc.enable()


def _check_count(name: str, value: int | None) -> bool:
    if value is None:
        return False
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return True


class Object:
    """A row of the table named by the subclass's ``__table__``.

    ::

        class Foo(kata.db.Object):
            __table__ = 'foo'          # or 'schema.foo'

    Columns are read from the database catalog the first time the class is used (after each
    :func:`kata.db.initialize`), and every column name a call passes is checked against them:
    an unknown one raises UnknownColumnError naming it. Each column value is an attribute of
    the instance (``foo.bar``); :meth:`to_dict` returns them all. Instances compare equal when
    they are of the same class and hold the same values.

    Every subclass is registered with :func:`kata.codec.register`, so a model instance stored
    in a kata cache comes back as an instance of its class.
    """

    __table__: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("__table__")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise TypeError(f"{cls.__qualname__}.__table__ must be a table name, got {name!r}")
        kata.codec.register(cls)

    # -- instances ---------------------------------------------------------------------

    @classmethod
    def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
        """An instance holding *data* as its values, built without a query (nor a check of
        the names against the table): the inverse of :meth:`to_dict`."""
        instance = object.__new__(cls)
        instance.__dict__.update(data)
        return instance

    def to_dict(self) -> dict[str, Any]:
        """The instance's values by column name (a new dict; changing it changes nothing)."""
        return dict(self.__dict__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.__dict__ == other.__dict__

    # Values can change, so instances are not hashable (defining __eq__ already implies it;
    # this says so explicitly).
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={_repr.repr(value)}" for name, value in self.__dict__.items())
        return f"{type(self).__name__}({values})"

    # -- the table ---------------------------------------------------------------------

    @classmethod
    def _table(cls) -> Table:
        name = getattr(cls, "__table__", None)
        if name is None:
            raise TypeError(f"{cls.__qualname__} has no __table__: set it to the name of its table")
        return catalog.table(name)

    @classmethod
    def create(cls: type[T], rows: Iterable[Mapping[str, Any]]) -> list[T]:
        """Insert *rows* (mappings of column name to value) and return them as instances, in
        the order given, with the values the database filled in (ids, defaults).

        Rows with the same columns go in one statement per chunk of up to 10,000 rows (each
        column's values as one array); rows may leave out different columns, which then get
        their defaults. All rows are inserted or none: a failing row (IntegrityError naming
        the constraint, for instance) leaves the table as it was.
        """
        table = cls._table()
        rows = list(rows)
        if not rows:
            return []
        # Rows grouped by the columns they set, in table order; keys are checked once per
        # distinct key order (usually once per call).
        groups: dict[tuple[str, ...], list[int]] = {}
        checked: dict[tuple[Any, ...], tuple[str, ...]] = {}
        for index, row in enumerate(rows):
            # type() first: isinstance() against an ABC costs more than the rest of the loop.
            if type(row) is not dict and not isinstance(row, Mapping):
                raise TypeError(f"create() takes mappings of column names to values; row {index} is {row!r}")
            keys = tuple(row)
            columns = checked.get(keys)
            if columns is None:
                names = {table.column(name).name for name in keys}
                columns = checked[keys] = tuple(name for name in table.columns if name in names)
                groups.setdefault(columns, [])
            groups[columns].append(index)
        created: list[Any] = [None] * len(rows)
        # One statement is atomic by itself; more need a transaction (or a savepoint).
        first_columns, first_indexes = next(iter(groups.items()))
        single = len(groups) == 1 and len(first_indexes) <= statements.chunk_rows(table, first_columns)
        with (
            connection() as conn,
            conn.cursor(row_factory=row_maker(cls)) as cursor,
            nullcontext() if single else conn.transaction(),
        ):
            for columns, indexes in groups.items():
                for chunk, result in _insert(cursor, table, columns, [rows[i] for i in indexes]):
                    if len(result) != len(chunk):
                        # Only a BEFORE INSERT trigger that skips rows does this.
                        raise DatabaseError(
                            f"INSERT into {table.name!r} returned {len(result)} rows for {len(chunk)}: "
                            "a trigger skipped rows"
                        )
                    for position, instance in zip(chunk, result, strict=True):
                        created[indexes[position]] = instance
        return created

    @classmethod
    def get(
        cls: type[T],
        where: Mapping[str, Any] | None = None,
        order_by: str | Sequence[str] | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[T]:
        """The rows matching *where*, as instances.

        *where* maps column names to values: a value matches with ``=``, None matches NULL, a
        list (or tuple or set) matches any of its items; all keys must match. No *where*
        matches every row. *order_by* is a column, ``'-column'`` for descending order, or a
        list of them; *limit* and *offset* are non-negative integers.
        """
        table = cls._table()
        shape, params = statements.where(table, where)
        ordering = statements.order(table, order_by)
        has_limit, has_offset = _check_count("limit", limit), _check_count("offset", offset)
        if has_limit:
            params.append(limit)
        if has_offset:
            params.append(offset)
        query = statements.select(table, shape, ordering, has_limit, has_offset)
        with connection() as conn, conn.cursor(row_factory=row_maker(cls)) as cursor:
            return fetch_all(cursor.execute(query, params))

    @classmethod
    def get_in(cls: type[T], column: str, values: Iterable[Any]) -> list[T]:
        """The rows whose *column* equals any of *values*, as instances, in no given order.

        One ``= ANY(array)`` query whatever the number of values; an empty *values* returns
        ``[]`` without a query.
        """
        table = cls._table()
        found = table.column(column)
        values = list(values)
        if not values:
            return []
        key = ("get_in", found.name)
        query = table.statements.get(key)
        if query is None:
            statement = sql.SQL("SELECT * FROM {} WHERE {} = ANY(%b{})").format(
                table.identifier, sql.Identifier(found.name), found.match_cast
            )
            query = table.statements[key] = statement.as_string()
        with connection() as conn, conn.cursor(row_factory=row_maker(cls)) as cursor:
            return fetch_all(cursor.execute(query, [statements.array(values)]))

    @classmethod
    def update(
        cls, values: Mapping[str, Any], where: Mapping[str, Any] | None = None, all_rows: bool = False
    ) -> int:
        """Set the columns in *values* on the rows matching *where*; return how many changed.

        *where* works as in :meth:`get`. An empty *where* would update every row, so it is
        refused (ValueError) unless *all_rows* is true.
        """
        table = cls._table()
        if not isinstance(values, Mapping) or not values:
            raise ValueError("update() needs a non-empty mapping of column names to new values")
        columns = tuple(table.column(name).name for name in values)
        params = [statements.bind(table.columns[name], value) for name, value in values.items()]
        shape, where_params = statements.where(table, where)
        _refuse_everything("update", shape, all_rows)
        query = statements.update(table, columns, shape)
        with connection() as conn:
            return conn.execute(query, params + where_params).rowcount

    @classmethod
    def delete(cls, where: Mapping[str, Any] | None = None, all_rows: bool = False) -> int:
        """Delete the rows matching *where* (as in :meth:`get`); return how many went.

        An empty *where* is refused (ValueError) unless *all_rows* is true.
        """
        table = cls._table()
        shape, params = statements.where(table, where)
        _refuse_everything("delete", shape, all_rows)
        with connection() as conn:
            return conn.execute(statements.delete(table, shape), params).rowcount

    @classmethod
    def count(cls, where: Mapping[str, Any] | None = None) -> int:
        """How many rows match *where* (as in :meth:`get`; none: the whole table)."""
        table = cls._table()
        shape, params = statements.where(table, where)
        with connection() as conn:
            row = conn.execute(statements.count(table, shape), params).fetchone()
        return int(row[0]) if row else 0


def _refuse_everything(what: str, shape: tuple[Any, ...], all_rows: bool) -> None:
    if not shape and not all_rows:
        raise ValueError(f"{what}() without a where would change every row; pass all_rows=True to mean it")


def _insert(
    cursor: psycopg.Cursor[Any], table: Table, columns: tuple[str, ...], rows: list[Mapping[str, Any]]
) -> Iterable[tuple[range, list[Any]]]:
    """Insert rows that all have exactly *columns*; yield (positions in *rows*, instances)."""
    size = statements.chunk_rows(table, columns)
    if not columns:
        for start in range(0, len(rows), size):
            count = min(size, len(rows) - start)
            cursor.execute(statements.insert_defaults(table), [count])
            yield range(start, start + count), fetch_all(cursor)
        return
    described = [table.columns[name] for name in columns]
    if any(column.is_array for column in described):
        # unnest() would flatten array values into their elements: list the rows instead.
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            params = [statements.bind(column, row[column.name]) for row in chunk for column in described]
            cursor.execute(statements.insert_values(table, columns, len(chunk)), params)
            yield range(start, start + len(chunk)), fetch_all(cursor)
        return
    query = statements.insert_unnest(table, columns)
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        arrays = []
        for column in described:
            name, wrap = column.name, column.wrap
            if wrap is None:
                arrays.append(statements.array([row[name] for row in chunk]))
            else:
                arrays.append([None if row[name] is None else wrap(row[name]) for row in chunk])
        cursor.execute(query, arrays)
        yield range(start, start + len(chunk)), fetch_all(cursor)
