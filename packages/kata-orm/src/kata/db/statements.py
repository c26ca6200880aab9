"""SQL for the model calls, built with psycopg.sql from names checked against the catalog.

Identifiers are always quoted by psycopg and values are always bound parameters. Statements
are rendered once per shape (which columns, which operators) and kept on the Table, so a
repeated call sends the same text and psycopg can prepare it.

Arrays of values travel in binary (``%b``): for large lists that halves the work of both
psycopg (no text escaping) and the server (no array text parsing). Single values stay text
(``%s``), so that the server infers their type from the column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg import sql

from kata.db.catalog import BIGINT_RANGE, Column, Table
from kata.db.errors import InvalidValue

# A list, tuple or set as a where value means "any of these" (= ANY), except for array and
# json columns, where it is the value itself.
_MANY = (list, tuple, set, frozenset)

# PostgreSQL accepts at most 65,535 bound parameters per statement.
MAX_PARAMETERS = 65_535
# Rows per INSERT when the values go in as one array per column: bounds the statement's size.
UNNEST_ROWS = 10_000
# Rows per INSERT ... VALUES (the path for array columns): SQL text grows with each row.
VALUES_ROWS = 1_000

_EQ, _NULL, _ANY, _ANY_OR_NULL = "=", "null", "any", "any|null"

_CONDITIONS = {
    _EQ: sql.SQL("{} = %s"),
    _NULL: sql.SQL("{} IS NULL"),
    _ANY: sql.SQL("{} = ANY(%b{})"),
    _ANY_OR_NULL: sql.SQL("({} = ANY(%b{}) OR {} IS NULL)"),
}


def bind(column: Column, value: Any) -> Any:
    """*value* as a parameter for *column*: checked (see :func:`check`), json values wrapped
    for psycopg."""
    kind = type(value)
    if kind is str:
        if "\x00" in value:
            raise _nul(column)
    elif kind is int:
        bounds = column.bounds
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            raise _out_of_range(column, bounds)
    elif kind is list and column.is_array:
        check(column, value, set(map(type, value)), None)
    wrap = column.wrap
    if wrap is not None and value is not None:
        return wrap(value)
    return value


def array(column: Column, values: list[Any], bounds: tuple[int, int] | None = None) -> list[Any]:
    """*values* as one array parameter for *column* (cast to its type in the statement),
    checked (see :func:`check`); integers against *bounds* when given, else the column's.

    psycopg sends a list whose items are all of one Python type (None aside). Mixed items
    (ints and floats for a float column, say) go as their text forms, which the cast parses
    exactly as it would parse the values themselves.
    """
    kinds = set(map(type, values))
    check(column, values, kinds, bounds or column.bounds)
    kinds.discard(type(None))
    if len(kinds) <= 1:
        return values
    return [None if value is None else str(value) for value in values]


def check(column: Column, values: list[Any], kinds: set[type], bounds: tuple[int, int] | None) -> None:
    """Refuse values that PostgreSQL would refuse for *column* before anything is sent.

    Text cannot hold NUL, whatever the column's type (psycopg would refuse it too, without
    naming the column); an integer column holds its type's range. The checks run over whole
    lists in C (one join, one min and max): for 10,000 values they cost a fraction of a
    millisecond.
    """
    if str in kinds:
        texts = values if len(kinds) == 1 else [value for value in values if type(value) is str]
        if "\x00" in "".join(texts):
            raise _nul(column)
    if bounds is not None and int in kinds:
        numbers = values if len(kinds) == 1 else [value for value in values if type(value) is int]
        if min(numbers) < bounds[0] or max(numbers) > bounds[1]:
            raise _out_of_range(column, bounds)


def _nul(column: Column) -> InvalidValue:
    return InvalidValue(
        f"column {column.table}.{column.name} ({column.type}) cannot hold text with a NUL character",
        column.table,
        column.name,
    )


def _out_of_range(column: Column, bounds: tuple[int, int]) -> InvalidValue:
    return InvalidValue(
        f"column {column.table}.{column.name} ({column.type}) cannot hold an integer outside "
        f"{bounds[0]} to {bounds[1]}",
        column.table,
        column.name,
    )


def where(table: Table, conditions: Mapping[str, Any] | None) -> tuple[tuple[Any, ...], list[Any]]:
    """The shape of a where mapping (for the statement cache) and its parameters.

    Each key must be a column. None matches NULL; a list, tuple or set matches any of its
    items (and NULL when it holds None); any other value is compared with ``=``.
    """
    if not conditions:
        return (), []
    if type(conditions) is not dict and not isinstance(conditions, Mapping):
        raise TypeError(f"where must be a mapping of column names to values, got {type(conditions).__name__}")
    shape: list[tuple[str, str]] = []
    params: list[Any] = []
    columns = table.columns
    for name, value in conditions.items():
        # (table.column() makes the error; the plain lookup first is for speed.)
        column = columns.get(name) if type(name) is str else None
        if column is None:
            column = table.column(name)
        if value is None:
            shape.append((column.name, _NULL))
        elif isinstance(value, _MANY) and not column.is_array and column.wrap is None:
            items = [item for item in value if item is not None]
            shape.append((column.name, _ANY_OR_NULL if len(items) < len(value) else _ANY))
            params.append(array(column, items, BIGINT_RANGE if column.bounds else None))
        else:
            shape.append((column.name, _EQ))
            params.append(bind(column, value))
    return tuple(shape), params


def _where_sql(table: Table, shape: tuple[tuple[str, str], ...]) -> sql.Composable:
    if not shape:
        return sql.SQL("")
    parts = []
    for name, kind in shape:
        ident = sql.Identifier(name)
        cast = table.columns[name].match_cast
        if kind == _ANY:
            parts.append(_CONDITIONS[kind].format(ident, cast))
        elif kind == _ANY_OR_NULL:
            parts.append(_CONDITIONS[kind].format(ident, cast, ident))
        else:
            parts.append(_CONDITIONS[kind].format(ident))
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(parts)


def order(table: Table, order_by: str | Sequence[str] | None) -> tuple[tuple[str, bool], ...]:
    """``order_by`` as (column, descending) pairs: a column, ``-column``, or a list of them."""
    if order_by is None:
        return ()
    items = [order_by] if isinstance(order_by, str) else order_by
    result = []
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"order_by takes column names, got {item!r}")
        descending = item.startswith("-")
        result.append((table.column(item[1:] if descending else item).name, descending))
    return tuple(result)


def _render(table: Table, key: tuple[Any, ...], statement: sql.Composable) -> str:
    text = statement.as_string()
    table.statements[key] = text
    return text


def select(
    table: Table,
    shape: tuple[tuple[str, str], ...],
    ordering: tuple[tuple[str, bool], ...],
    limit: bool,
    offset: bool,
) -> str:
    key = ("select", shape, ordering, limit, offset)
    found = table.statements.get(key)
    if found is not None:
        return found
    statement = sql.SQL("SELECT * FROM {}").format(table.identifier) + _where_sql(table, shape)
    if ordering:
        terms = [
            sql.SQL("{} DESC" if descending else "{}").format(sql.Identifier(name))
            for name, descending in ordering
        ]
        statement += sql.SQL(" ORDER BY ") + sql.SQL(", ").join(terms)
    if limit:
        statement += sql.SQL(" LIMIT %s")
    if offset:
        statement += sql.SQL(" OFFSET %s")
    return _render(table, key, statement)


def select_one(table: Table, shape: tuple[tuple[str, str], ...]) -> str:
    """The SELECT of get_one: two rows at most, enough to tell one match from several (the
    limit is in the text: a parameter less to send per call)."""
    key = ("select_one", shape)
    found = table.statements.get(key)
    if found is not None:
        return found
    statement = sql.SQL("SELECT * FROM {}").format(table.identifier) + _where_sql(table, shape)
    return _render(table, key, statement + sql.SQL(" LIMIT 2"))


def count(table: Table, shape: tuple[tuple[str, str], ...]) -> str:
    key = ("count", shape)
    found = table.statements.get(key)
    if found is not None:
        return found
    statement = sql.SQL("SELECT count(*) FROM {}").format(table.identifier) + _where_sql(table, shape)
    return _render(table, key, statement)


def update(table: Table, columns: tuple[str, ...], shape: tuple[tuple[str, str], ...]) -> str:
    key = ("update", columns, shape)
    found = table.statements.get(key)
    if found is not None:
        return found
    assignments = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(name)) for name in columns)
    statement = sql.SQL("UPDATE {} SET {}").format(table.identifier, assignments) + _where_sql(table, shape)
    return _render(table, key, statement)


def update_unnest(table: Table, columns: tuple[str, ...], keys: tuple[str, ...]) -> str:
    """One UPDATE giving each row its own values: the new values and the keys travel as one
    array per column, in the order *columns* then *keys*."""
    key = ("update_unnest", columns, keys)
    found = table.statements.get(key)
    if found is not None:
        return found
    arrays = sql.SQL(", ").join(sql.SQL("%b") + table.columns[name].array_cast for name in columns + keys)
    return _render(table, key, _update_from(table, columns, keys, sql.SQL("unnest({})").format(arrays)))


def update_values(table: Table, columns: tuple[str, ...], keys: tuple[str, ...], rows: int) -> str:
    """The same UPDATE with the rows listed in the text (for array columns, which unnest
    would flatten): *rows* rows of *columns* then *keys*."""
    key = ("update_values", columns, keys, rows)
    found = table.statements.get(key)
    if found is not None:
        return found
    casts = [sql.SQL("%s::" + table.columns[name].type) for name in columns + keys]
    row = sql.SQL("(") + sql.SQL(", ").join(casts) + sql.SQL(")")
    source = sql.SQL("(VALUES {})").format(sql.SQL(", ").join([row] * rows))
    return _render(table, key, _update_from(table, columns, keys, source))


def _update_from(
    table: Table, columns: tuple[str, ...], keys: tuple[str, ...], source: sql.Composable
) -> sql.Composable:
    # The input's columns are named c0, c1, ... so that no column name can clash with them.
    aliases = [sql.Identifier("_input", f"c{index}") for index in range(len(columns) + len(keys))]
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(name), alias)
        for name, alias in zip(columns, aliases[: len(columns)], strict=True)
    )
    matches = sql.SQL(" AND ").join(
        sql.SQL("{}.{} = {}").format(table.identifier, sql.Identifier(name), alias)
        for name, alias in zip(keys, aliases[len(columns) :], strict=True)
    )
    names = sql.SQL(", ").join(sql.Identifier(f"c{index}") for index in range(len(aliases)))
    return sql.SQL("UPDATE {} SET {} FROM {} AS _input({}) WHERE {}").format(
        table.identifier, assignments, source, names, matches
    )


def delete(table: Table, shape: tuple[tuple[str, str], ...]) -> str:
    key = ("delete", shape)
    found = table.statements.get(key)
    if found is not None:
        return found
    statement = sql.SQL("DELETE FROM {}").format(table.identifier) + _where_sql(table, shape)
    return _render(table, key, statement)


def insert_unnest(table: Table, columns: tuple[str, ...]) -> str:
    """One INSERT for any number of rows: each column's values travel as one array.

    The arrays are cast to the column types without modifiers, so an over-long varchar is
    an error (as in a plain INSERT) instead of being cut by the cast. The rows are numbered
    (``WITH ORDINALITY``) and inserted in that order, so the order of the RETURNING rows, the
    order in which the INSERT processes its input, is the order of the arrays by the
    statement's own terms. The planner knows the numbering is already sorted and adds no
    sort (measured: no difference in time).
    """
    key = ("insert_unnest", columns)
    found = table.statements.get(key)
    if found is not None:
        return found
    names = sql.SQL(", ").join(sql.Identifier(name) for name in columns)
    aliases = [sql.Identifier(f"c{index}") for index in range(len(columns))]
    arrays = sql.SQL(", ").join(sql.SQL("%b") + table.columns[name].array_cast for name in columns)
    statement = sql.SQL(
        "INSERT INTO {} ({}) SELECT {} FROM unnest({}) WITH ORDINALITY AS input({}, ord) ORDER BY ord RETURNING *"
    ).format(table.identifier, names, sql.SQL(", ").join(aliases), arrays, sql.SQL(", ").join(aliases))
    return _render(table, key, statement)


def copy(table: Table, columns: tuple[str, ...]) -> str:
    """A binary COPY into *columns*."""
    key = ("copy", columns)
    found = table.statements.get(key)
    if found is not None:
        return found
    names = sql.SQL(", ").join(sql.Identifier(name) for name in columns)
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(table.identifier, names)
    return _render(table, key, statement)


def insert_values(table: Table, columns: tuple[str, ...], rows: int) -> str:
    """One INSERT ... VALUES of *rows* rows (for columns that unnest cannot carry: arrays)."""
    key = ("insert_values", columns, rows)
    found = table.statements.get(key)
    if found is not None:
        return found
    names = sql.SQL(", ").join(sql.Identifier(name) for name in columns)
    row = sql.SQL("(") + sql.SQL(", ").join([sql.Placeholder()] * len(columns)) + sql.SQL(")")
    statement = sql.SQL("INSERT INTO {} ({}) VALUES {} RETURNING *").format(
        table.identifier, names, sql.SQL(", ").join([row] * rows)
    )
    return _render(table, key, statement)


def insert_defaults(table: Table) -> str:
    """An INSERT of ``%s`` rows made only of column defaults."""
    key = ("insert_defaults",)
    found = table.statements.get(key)
    if found is not None:
        return found
    statement = sql.SQL("INSERT INTO {} SELECT FROM generate_series(1, %s) RETURNING *").format(
        table.identifier
    )
    return _render(table, key, statement)


def chunk_rows(table: Table, columns: tuple[str, ...]) -> int:
    """How many rows one INSERT of *columns* takes (see :func:`insert_unnest`)."""
    if any(table.columns[name].is_array for name in columns):
        return min(VALUES_ROWS, MAX_PARAMETERS // len(columns))
    return UNNEST_ROWS
