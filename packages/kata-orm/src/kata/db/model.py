"""``kata.db.Object``: one subclass per table, rows as instances with column attributes."""

from __future__ import annotations

import functools
import gc
import inspect
import keyword
import reprlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from operator import itemgetter
from typing import Any, ClassVar, TypeVar, cast

import psycopg
from psycopg import sql

import kata.codec
from kata.db import catalog, statements
from kata.db.catalog import Column, Table
from kata.db.errors import DatabaseError
from kata.db.pool import Connection
from kata.db.replicas import read, write

T = TypeVar("T", bound="Object")

_repr = reprlib.Repr()
_repr.maxstring = 40
_repr.maxother = 40


def row_maker(cls: type[T]) -> Callable[[psycopg.Cursor[Any]], Callable[[Sequence[Any]], T]]:
    """A psycopg row factory that builds instances of *cls* from result rows."""

    def factory(cursor: psycopg.Cursor[Any]) -> Callable[[Sequence[Any]], T]:
        return _result_maker(cls, cursor)

    return factory


def _result_maker(cls: type[T], cursor: psycopg.Cursor[Any]) -> Callable[[Sequence[Any]], T]:
    """The function that builds instances of *cls* from the rows of *cursor*'s current result."""
    # Looked up by the result's field names as bytes and the client encoding's name as the
    # server reports it: cursor.description would build a Column object per field on every
    # query (measured: 3.7 µs, as much as the rest of kata's part of a one-row read).
    result = cursor.pgresult
    fields = tuple(map(result.fname, range(result.nfields))) if result is not None else ()
    conn = cursor.connection
    # (The class as a plain ``type``: mypy does not see a model class as hashable, because
    # its instances are not.)
    made: Callable[[Sequence[Any]], T] = _fields_maker(
        cast(type, cls), fields, conn.pgconn.parameter_status(b"client_encoding"), conn
    )
    return made


def select_rows(
    conn: Connection, cls: type[T], table: Table, query: str, params: Sequence[Any] | None
) -> list[T]:
    """Run *query*, a ``SELECT *`` of *table*, on *conn*'s reader cursor; its rows as
    instances of *cls*."""
    cursor = conn.reader()
    cursor.execute(query, params)
    return _instances(cursor, cls, table)


def select_each(
    conn: Connection,
    cls: type[T],
    table: Table,
    groups: Mapping[str, tuple[list[int], list[list[Any]]]],
    count: int,
) -> list[list[T]]:
    """Run each query of *groups*, a ``SELECT *`` of *table*, once per parameter list, all of
    a query's runs in one pipeline; the rows of the run at each position (``0 .. count-1``)
    as instances of *cls*."""
    found: list[list[T]] = [[]] * count
    for query, (positions, params) in groups.items():
        with conn.cursor() as cursor:
            # With returning=True, psycopg sends every run before it reads any result, then
            # reads them in order, one result set each.
            cursor.executemany(query, params, returning=True)
            for position in positions:
                found[position] = _instances(cursor, cls, table)
                cursor.nextset()
    return found


def _instances(cursor: psycopg.Cursor[Any], cls: type[T], table: Table) -> list[T]:
    """The rows of *cursor*'s current result, a ``SELECT *`` of *table*, as instances of *cls*."""
    result = cursor.pgresult
    assert result is not None
    # Every SELECT * of the table has the fields its first one had, as long as their number
    # is the same: the catalog that kata reads once per table says so too (a column renamed
    # later is seen after kata.db.forget_tables(), as by the other calls). Reading the names
    # of every result cost 6% of a one-row read's instructions.
    known = table.makers.get(cls)
    if known is not None and known[0] == result.nfields:
        make = known[1]
    else:
        make = _result_maker(cls, cursor)
        table.makers[cls] = (result.nfields, make)
    if result.ntuples < _PAUSE_ROWS:
        return list(map(make, cursor.fetchall()))
    with _collector_paused():
        return list(map(make, cursor.fetchall()))


def _fields_maker(
    cls: type, fields: tuple[bytes | None, ...], client_encoding: bytes | None, conn: psycopg.Connection[Any]
) -> Callable[[Sequence[Any]], Any]:
    """:func:`_maker` for result fields named *fields*, as *conn* received them."""
    key = (cls, fields, client_encoding)
    found = _field_makers.get(key)
    if found is None:
        encoding = conn.info.encoding
        found = _maker(cls, tuple((field or b"").decode(encoding) for field in fields))
        if len(_field_makers) >= 512:
            _field_makers.clear()
        _field_makers[key] = found
    return found


_field_makers: dict[tuple[type, tuple[bytes | None, ...], bytes | None], Callable[[Sequence[Any]], Any]] = {}


@functools.lru_cache(maxsize=512)
def _maker(cls: type, names: tuple[str, ...]) -> Callable[[Sequence[Any]], Any]:
    """The function that turns one result row with columns *names* into an instance of *cls*.

    When every name can be written as a plain attribute assignment, the function is generated
    (``instance.id, instance.name = values``): Python then stores the values without building
    a dict per instance, a third of the time of filling ``__dict__`` (measured: 1.3 against
    4.0 ms for 10,000 rows of three columns). Only names checked to be ASCII identifiers reach
    the generated text. Any other name (a quoted column such as "first name", a keyword, a
    name the class defines as a property) fills ``__dict__`` instead, as ``from_dict`` does.
    """
    new = object.__new__
    if names and all(_assignable(cls, name) for name in names):
        targets = ", ".join(f"instance.{name}" for name in names)
        source = (
            "def make(values):\n"
            "    instance = new(cls)\n"
            f"    {targets}{',' if len(names) == 1 else ''} = values\n"
            "    return instance\n"
        )
        namespace: dict[str, Any] = {"new": new, "cls": cls}
        exec(source, namespace)  # the text holds only identifiers checked by _assignable
        made: Callable[[Sequence[Any]], Any] = namespace["make"]
        return made

    def make(values: Sequence[Any]) -> Any:
        instance: Any = new(cls)
        instance.__dict__.update(zip(names, values))  # noqa: B905 (same length)
        return instance

    return make


def _assignable(cls: type, name: str) -> bool:
    """Whether ``instance.<name> = value`` stores *name* in the instance like a dict entry:
    an ASCII identifier (Python would normalize others), not a keyword nor a dunder, that the
    class does not define as a data descriptor (a property would run instead)."""
    if not (name.isascii() and name.isidentifier()) or keyword.iskeyword(name) or name.startswith("__"):
        return False
    found = inspect.getattr_static(cls, name, None)
    return not (hasattr(type(found), "__set__") or hasattr(type(found), "__delete__"))


# Below this many rows, building the instances sets off at most a few young-generation
# collections, which cost less than pausing the collector does.
_PAUSE_ROWS = 1_000
_pause_lock = threading.Lock()
_building = 0  # fetches of many rows in progress, in all threads
_paused = False  # whether those fetches turned the collector off (and must turn it on again)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while the block builds many instances.

    Each instance is an object the collector tracks, so building thousands of them sets
    off its full collections, which walk every object of the process (measured: with a million
    live objects, a 10,000-row create took 80 ms instead of 63). The building makes no
    reference cycles. The collector switch is process-wide: the blocks of all threads share
    one pause, which the last of them to finish ends, and a collector that was already off
    stays off.
    """
    global _building, _paused
    with _pause_lock:
        if _building == 0 and gc.isenabled():
            gc.disable()
            _paused = True
        _building += 1
    try:
        yield
    finally:
        with _pause_lock:
            _building -= 1
            if _building == 0 and _paused:
                _paused = False
                gc.enable()


def fetch_all(cursor: psycopg.Cursor[Any]) -> list[Any]:
    """``cursor.fetchall()``, with the collector paused while many rows are built (the result
    is already in memory, so the pause lasts only as long as the building)."""
    count = cursor.rowcount
    if 0 <= count < _PAUSE_ROWS:
        return cursor.fetchall()
    with _collector_paused():
        return cursor.fetchall()


def _check_count(name: str, value: int | None) -> bool:
    if value is None:
        return False
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return True


class Object(kata.codec.Record):
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
    in a kata cache comes back as an instance of its class. As a :class:`kata.codec.Record`,
    it has :meth:`to_dict` (its values by column name, in a new dict), and responses and
    :func:`kata.db.serialize` write its values without a call per instance.
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

        Rows with the same columns go in one statement per chunk of rows (each column's values
        as one array); rows may leave out different columns, which then get their defaults.
        All rows are inserted or none: a failing row (IntegrityError naming the constraint,
        for instance) leaves the table as it was.
        """
        table = cls._table()
        rows = list(rows)
        if not rows:
            return []
        groups = _group(table, rows)
        copied = _copy_route(table, groups, rows) if len(rows) >= COPY_ROWS else None
        if copied is not None:
            return write(lambda conn: _copy(cls, conn, table, *copied))
        # One statement is atomic by itself; more need a transaction (or a savepoint). They go
        # out in a pipeline, so that PostgreSQL inserts one chunk while the next is encoded and
        # sent rather than each side waiting for the other (measured: 30,000 rows in 10% less
        # time). Splitting a single chunk into smaller pipelined ones gained nothing measurable.
        several = len(groups) > 1 or any(
            len(indexes) > statements.chunk_rows(table, columns) for columns, indexes in groups.items()
        )
        pipelined = several and psycopg.Pipeline.is_supported()
        make = row_maker(cls)

        def insert(conn: Connection) -> list[T]:
            created: list[Any] = [None] * len(rows)
            with (
                conn.pipeline() if pipelined else nullcontext(),
                conn.transaction() if several else nullcontext(),
            ):
                sent: list[tuple[Sequence[int], psycopg.Cursor[Any]]] = []
                for columns, indexes in groups.items():
                    part = rows if len(indexes) == len(rows) else [rows[i] for i in indexes]
                    for start, count, query, params in _inserts(table, columns, part):
                        cursor = conn.cursor(row_factory=make)
                        cursor.execute(query, params)
                        sent.append((indexes[start : start + count], cursor))
                for positions, cursor in sent:
                    result = fetch_all(cursor)
                    cursor.close()
                    if len(result) != len(positions):
                        # Only a BEFORE INSERT trigger that skips rows does this.
                        raise DatabaseError(
                            f"INSERT into {table.name!r} returned {len(result)} rows for {len(positions)}: "
                            "a trigger skipped rows"
                        )
                    if isinstance(positions, range):
                        created[positions.start : positions.stop] = result
                    else:
                        for position, instance in zip(positions, result, strict=True):
                            created[position] = instance
            return created

        return write(insert)

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
        # No parameters to send: psycopg skips its placeholder handling for None (4,500
        # instructions of the 495,000 of a TechEmpower fortunes request).
        sent = params if params or "%" in query else None
        return read(lambda conn: select_rows(conn, cls, table, query, sent))

    @classmethod
    def get_one(cls: type[T], where: Mapping[str, Any]) -> T | None:
        """The row matching *where* (as in :meth:`get`), as an instance; None if no row does.

        Meant for a lookup by a key: if more than one row matches, it raises DatabaseError
        rather than pick one.
        """
        table = cls._table()
        shape, params = statements.where(table, where)
        if not shape:
            raise ValueError("get_one() needs a where mapping that picks one row")
        query = statements.select_one(table, shape)
        found = read(lambda conn: select_rows(conn, cls, table, query, params))
        return _one_row("get_one", table, where, found)

    @classmethod
    def get_each(cls: type[T], wheres: Iterable[Mapping[str, Any]]) -> list[T | None]:
        """For each mapping of *wheres*, the row it matches (as in :meth:`get_one`) or None, in
        the order given.

        Each mapping is a query of its own, but the queries are sent together, in psycopg's
        pipeline mode, and their results read after: the call costs one round trip for all
        the mappings of one shape (the same columns, each compared the same way), where a
        loop of :meth:`get_one` costs one per mapping::

            worlds = World.get_each({'id': n} for n in ids)

        If a mapping matches more than one row, it raises DatabaseError naming it.
        """
        table = cls._table()
        wheres = list(wheres)
        groups: dict[str, tuple[list[int], list[list[Any]]]] = {}
        for position, where in enumerate(wheres):
            shape, params = statements.where(table, where)
            if not shape:
                raise ValueError("get_each() needs where mappings that each pick one row")
            query = statements.select_one(table, shape)
            group = groups.get(query)
            if group is None:
                group = groups[query] = ([], [])
            group[0].append(position)
            group[1].append(params)
        if not wheres:
            return []
        found = read(lambda conn: select_each(conn, cls, table, groups, len(wheres)))
        return [
            _one_row("get_each", table, where, matched) for where, matched in zip(wheres, found, strict=True)
        ]

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
        params = [statements.array(found, values, catalog.BIGINT_RANGE if found.bounds else None)]
        return read(lambda conn: select_rows(conn, cls, table, query, params))

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
        params += where_params
        return write(lambda conn: conn.execute(query, params).rowcount)

    @classmethod
    def update_many(cls, rows: Iterable[Mapping[str, Any]], key: str | Sequence[str] = "id") -> int:
        """Give each row its own new values, in one statement; return how many rows changed.

        Each mapping holds the *key* column(s), which pick the row, and the columns to set
        on it; all mappings set the same columns, and no two name the same row::

            World.update_many([{'id': 1, 'number': 42}, {'id': 7, 'number': 3}])

        The rows travel as one array per column (``UPDATE ... FROM unnest(...)``), so the
        call costs one round trip whatever the number of rows. A key that matches no row
        changes nothing (the count says so).
        """
        table = cls._table()
        keys = (key,) if isinstance(key, str) else tuple(key)
        if not keys:
            raise ValueError("update_many() needs a key column")
        rows = list(rows)
        if not rows:
            return 0
        groups = _group(table, rows, "update_many")
        if len(groups) > 1:
            raise ValueError("update_many() takes rows that all set the same columns")
        names = next(iter(groups))
        key_columns = tuple(table.column(name).name for name in keys)
        missing = [name for name in key_columns if name not in names]
        if missing:
            raise ValueError(f"update_many(): the rows lack the key column {missing[0]!r}")
        columns = tuple(name for name in names if name not in key_columns)
        if not columns:
            raise ValueError("update_many(): the rows set no column besides the key")
        pick = itemgetter(*key_columns)
        if len(set(map(pick, rows))) != len(rows):
            raise ValueError("update_many(): two rows have the same key")
        everything = columns + key_columns
        described = [table.columns[name] for name in everything]
        if any(column.is_array for column in described):
            # unnest() would flatten array values into their elements: list the rows instead.
            query = statements.update_values(table, columns, key_columns, len(rows))
            params = [statements.bind(column, row[column.name]) for row in rows for column in described]
        else:
            query = statements.update_unnest(table, columns, key_columns)
            params = _column_arrays(described, rows)
        return write(lambda conn: conn.execute(query, params).rowcount)

    @classmethod
    def delete(cls, where: Mapping[str, Any] | None = None, all_rows: bool = False) -> int:
        """Delete the rows matching *where* (as in :meth:`get`); return how many went.

        An empty *where* is refused (ValueError) unless *all_rows* is true.
        """
        table = cls._table()
        shape, params = statements.where(table, where)
        _refuse_everything("delete", shape, all_rows)
        query = statements.delete(table, shape)
        return write(lambda conn: conn.execute(query, params).rowcount)

    @classmethod
    def count(cls, where: Mapping[str, Any] | None = None) -> int:
        """How many rows match *where* (as in :meth:`get`; none: the whole table)."""
        table = cls._table()
        shape, params = statements.where(table, where)
        query = statements.count(table, shape)
        row = read(lambda conn: conn.execute(query, params).fetchone())
        return int(row[0]) if row else 0


def _one_row(call: str, table: Table, where: Mapping[str, Any], found: list[T]) -> T | None:
    """The row a key lookup found, or None; DatabaseError if *where* matched several."""
    if len(found) > 1:
        raise DatabaseError(f"{call}() on {table.name!r}: more than one row matches {dict(where)!r}")
    return found[0] if found else None


def _refuse_everything(what: str, shape: tuple[Any, ...], all_rows: bool) -> None:
    if not shape and not all_rows:
        raise ValueError(f"{what}() without a where would change every row; pass all_rows=True to mean it")


def _group(table: Table, rows: list[Any], call: str = "create") -> Mapping[tuple[str, ...], Sequence[int]]:
    """The positions in *rows* of the rows setting each set of columns (in table order).

    Every key is checked against the table once per distinct key order, usually once per call.
    The per-row work runs in C (``map``): for 10,000 rows a Python loop here cost as much as
    building the instances.
    """
    if set(map(type, rows)) != {dict}:
        for index, row in enumerate(rows):
            # type() first: isinstance() against an ABC costs more than the check itself.
            if type(row) is not dict and not isinstance(row, Mapping):
                raise TypeError(f"{call}() takes mappings of column names to values; row {index} is {row!r}")
    columns_of: dict[tuple[Any, ...], tuple[str, ...]] = {}
    for keys in dict.fromkeys(map(tuple, rows)):
        names = {table.column(name).name for name in keys}
        columns_of[keys] = tuple(name for name in table.columns if name in names)
    if len(set(columns_of.values())) == 1:
        return {next(iter(columns_of.values())): range(len(rows))}
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, keys in enumerate(map(tuple, rows)):
        groups.setdefault(columns_of[keys], []).append(index)
    return groups


def _inserts(
    table: Table, columns: tuple[str, ...], rows: list[Mapping[str, Any]]
) -> Iterator[tuple[int, int, str, list[Any]]]:
    """The INSERT statements for rows that all set exactly *columns*, one per chunk, as
    (position of the chunk's first row in *rows*, its row count, statement, parameters)."""
    size = statements.chunk_rows(table, columns)
    if not columns:
        for start in range(0, len(rows), size):
            count = min(size, len(rows) - start)
            yield start, count, statements.insert_defaults(table), [count]
        return
    described = [table.columns[name] for name in columns]
    if any(column.is_array for column in described):
        # unnest() would flatten array values into their elements: list the rows instead.
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            params = [statements.bind(column, row[column.name]) for row in chunk for column in described]
            yield start, len(chunk), statements.insert_values(table, columns, len(chunk)), params
        return
    query = statements.insert_unnest(table, columns)
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size] if size < len(rows) else rows
        yield start, len(chunk), query, _column_arrays(described, chunk)


# From this many rows on, a create that can go by COPY does (two round trips, against one
# for the INSERT, which costs the server more per row).
COPY_ROWS = 1_000
# Column types that give back exactly the Python value they were given, by type of value.
_EXACT = {"int2": int, "int4": int, "int8": int, "text": str, "varchar": str, "bool": bool, "float8": float}


def _copy_route(
    table: Table, groups: Mapping[tuple[str, ...], Sequence[int]], rows: list[Mapping[str, Any]]
) -> tuple[Column, list[Column], list[list[Any]]] | None:
    """What a create needs to go by COPY, or None when the database could store anything but
    the given values plus an id, so that only ``RETURNING`` can say what it stored.

    The rows must set every column but one numbered by a sequence, of a plain table (no
    triggers, rules or generated columns), with values of the Python type the column gives
    back (int for integers, str for text and varchar within its length, bool, float for
    double precision) or None. Then the row in the table is the row given plus its id.
    """
    if not table.plain or len(groups) != 1:
        return None
    given = next(iter(groups))
    rest = [column for column in table.columns.values() if column.name not in given]
    if len(rest) != 1 or rest[0].sequence is None:
        return None
    described, arrays = [], []
    for name in given:
        column = table.columns[name]
        values = list(map(itemgetter(name), rows))
        kinds = set(map(type, values))
        exact = kinds - {type(None)}
        if len(exact) > 1 or (exact and exact != {_EXACT.get(column.type_name)}):
            return None
        statements.check(column, values, kinds, column.bounds)
        if column.max_length is not None and exact:
            texts = values if None not in values else [value for value in values if value is not None]
            if max(map(len, texts)) > column.max_length:
                return None  # too long: the INSERT says so (or drops trailing spaces as PostgreSQL does)
        described.append(column)
        arrays.append(values)
    return rest[0], described, arrays


def _copy(
    cls: type[T], conn: Connection, table: Table, key: Column, columns: list[Column], arrays: list[list[Any]]
) -> list[T]:
    """Insert the rows by binary COPY, with ids taken from the key's sequence in one query
    before, and make the instances from the ids and the values given."""
    count = len(arrays[0])
    cursor = conn.cursor(binary=True)
    # One array value rather than a row per id: less to send and to read.
    cursor.execute("SELECT array(SELECT nextval(%s) FROM generate_series(1, %s))", [key.sequence, count])
    found = cursor.fetchone()
    ids: list[int] = found[0] if found else []
    if key.bounds is not None and ids and ids[-1] > key.bounds[1]:
        raise DatabaseError(
            f"the sequence {key.sequence} of {table.name}.{key.name} passed the column's range"
        )
    by_name = {column.name: values for column, values in zip(columns, arrays, strict=True)}
    by_name[key.name] = ids
    values = [by_name[name] for name in table.columns]
    copy = statements.copy(table, tuple(table.columns))
    with cursor.copy(copy) as stream:
        stream.set_types([table.columns[name].type_name for name in table.columns])
        for row in zip(*values, strict=True):
            stream.write_row(row)
    cursor.close()
    make = _maker(cast(type, cls), tuple(table.columns))
    with _collector_paused():
        return list(map(make, zip(*values, strict=True)))


def _column_arrays(columns: Sequence[Column], rows: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """The values of each of *columns* in *rows*, one checked array parameter per column."""
    arrays = []
    for column in columns:
        values = list(map(itemgetter(column.name), rows))
        wrap = column.wrap
        if wrap is None:
            arrays.append(statements.array(column, values))
        else:
            arrays.append([None if value is None else wrap(value) for value in values])
    return arrays
