"""Fixtures: kata.db initialized on a fresh database holding the guide's ``foo`` table."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import kata.db

FOO = """
CREATE TABLE foo (
    id serial PRIMARY KEY,
    bar varchar(100),
    qux int,
    created timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT foo_bar_unique UNIQUE (bar),
    CONSTRAINT foo_qux_positive CHECK (qux > 0)
)
"""


@pytest.fixture
def db(database: Any) -> Iterator[Any]:
    """kata.db initialized on an empty database with table ``foo``; closed afterwards."""
    database.run(FOO)
    kata.db.initialize(database.section)
    try:
        yield database
    finally:
        kata.db.close()


@pytest.fixture
def run(database: Any) -> Callable[[str], list[tuple[Any, ...]]]:
    """Run a statement on a connection of its own (not kata.db's) and return its rows."""
    return database.run  # type: ignore[no-any-return]
