"""What the database says about a table: its columns and their types.

Read from the system catalog the first time a model is used after each initialize(), so that
every table and column name a caller passes is checked against the real table.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql
from psycopg.types.json import Json, Jsonb

from kata.db import pool
from kata.db.errors import UnknownColumnError, UnknownTableError

_TABLE = """
SELECT c.oid, c.relkind IN ('r', 'p') AND NOT c.relhastriggers AND NOT c.relhasrules
FROM pg_class c WHERE c.oid = to_regclass(%s)
"""

_COLUMNS = """
SELECT a.attname,
       format_type(a.atttypid, NULL),
       t.typname,
       t.typcategory = 'A',
       CASE WHEN a.attidentity <> 'a' THEN pg_get_serial_sequence(%s, a.attname) END,
       a.attgenerated <> '',
       CASE WHEN t.typname IN ('varchar', 'bpchar') AND a.atttypmod >= 4 THEN a.atttypmod - 4 END
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""


_JSON_WRAPPERS: dict[str, Callable[[Any], Any]] = {"json": Json, "jsonb": Jsonb}
# The values each integer type holds.
_INTEGER_RANGES = {
    "int2": (-(2**15), 2**15 - 1),
    "int4": (-(2**31), 2**31 - 1),
    "int8": (-(2**63), 2**63 - 1),
}
BIGINT_RANGE = _INTEGER_RANGES["int8"]


@dataclass(frozen=True)
class Column:
    """One column. ``type`` is the type without modifiers (``character varying``, not
    ``character varying(100)``), for casts that must neither truncate nor round values."""

    name: str
    type: str
    type_name: str
    is_array: bool
    # The sequence that numbers the column (serial, or identity BY DEFAULT), if any.
    sequence: str | None
    generated: bool
    # The declared length of a varchar(n) or char(n) column.
    max_length: int | None
    table: str
    # The lowest and highest value of an integer column (None for other types).
    bounds: tuple[int, int] | None = field(init=False, repr=False)
    # What wraps a value for a json/jsonb column (psycopg does not adapt dict by itself).
    wrap: Callable[[Any], Any] | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Fixed when the column is read, because every bound value looks at both.
        object.__setattr__(self, "bounds", _INTEGER_RANGES.get(self.type_name))
        object.__setattr__(self, "wrap", _JSON_WRAPPERS.get(self.type_name))

    @property
    def array_cast(self) -> sql.Composable:
        """``::type[]``, to send a list of this column's values as one array parameter."""
        return sql.SQL("::" + self.type + "[]")

    @property
    def match_cast(self) -> sql.Composable:
        """The cast of a list of values this column is compared with (``= ANY``).

        Integers are compared as bigint, which works for every integer column (and its
        index) and keeps a lookup of a value too big for the column from failing.
        """
        if self.bounds is not None:
            return sql.SQL("::bigint[]")
        return self.array_cast


@dataclass(frozen=True)
class Table:
    """A table or view as the catalog describes it."""

    name: str
    identifier: sql.Identifier
    columns: dict[str, Column]
    # Whether COPY stores exactly the rows it is given: a plain table without triggers or rules.
    plain: bool
    # Rendered statements, by the shape of the call that needed them.
    statements: dict[Any, str] = field(default_factory=dict, compare=False, repr=False)
    # For each model class, the number of fields of a ``SELECT *`` result and the function
    # that makes an instance of a row of it (kata.db.model.select_rows).
    makers: dict[type, tuple[int, Callable[[Any], Any]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def column(self, name: object) -> Column:
        """The column called *name*; UnknownColumnError naming the table and *name* otherwise."""
        found = self.columns.get(name) if isinstance(name, str) else None
        if found is None:
            raise UnknownColumnError(f"table {self.name!r} has no column {name!r}", self.name, str(name))
        return found


def identifier(table: str) -> sql.Identifier:
    """The quoted identifier for a ``__table__`` value: ``name`` or ``schema.name``."""
    return sql.Identifier(*table.split(".", 1))


_cache: dict[str, Table] = {}
_cache_generation = -1
_lock = threading.Lock()


def table(name: str) -> Table:
    """The catalog facts for table *name*, read once per initialize(); UnknownTableError if the
    database has no such table or view on its search path."""
    global _cache_generation
    generation = pool.generation()
    if generation != _cache_generation:
        with _lock:
            if generation != _cache_generation:
                _cache.clear()
                _cache_generation = generation
    found = _cache.get(name)
    if found is None:
        found = _cache[name] = _read(name)
    return found


def forget() -> None:
    """Forget every table read so far: the next use of each model reads the catalog again."""
    _cache.clear()


def _read(name: str) -> Table:
    ident = identifier(name)

    def read(conn: pool.Connection) -> tuple[bool, list[tuple[Any, ...]]] | None:
        quoted = ident.as_string(conn)
        found = conn.execute(_TABLE, [quoted]).fetchone()
        if found is None:
            return None
        return found[1], conn.execute(_COLUMNS, [quoted, found[0]]).fetchall()

    described = pool.run(read)
    if described is None:
        raise UnknownTableError(f"no table or view named {name!r} in the database", name)
    plain, rows = described
    columns = {row[0]: Column(row[0], row[1], row[2], row[3], row[4], row[5], row[6], name) for row in rows}
    return Table(name, ident, columns, plain)
