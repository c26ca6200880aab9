"""Fixtures: migration folders in tmp_path, and kata.db initialized on a fresh database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import kata.db


@pytest.fixture
def schema(tmp_path: Path) -> Path:
    """An empty migration folder."""
    folder = tmp_path / "schema"
    folder.mkdir()
    return folder


@pytest.fixture
def write(schema: Path) -> Callable[..., Path]:
    """Write migration files into ``schema``: ``write({'1-a.sql': 'SELECT 1;'})``."""

    def write(files: dict[str, str]) -> Path:
        for name, text in files.items():
            (schema / name).write_text(text, encoding="utf-8")
        return schema

    return write


@pytest.fixture
def db(database: Any) -> Iterator[Any]:
    """kata.db initialized on an empty database; closed afterwards."""
    kata.db.initialize(database.section)
    try:
        yield database
    finally:
        kata.db.close()


@pytest.fixture
def run(database: Any) -> Callable[[str], list[tuple[Any, ...]]]:
    """Run SQL on a connection of its own (not kata.db's) and return the rows."""
    return database.run  # type: ignore[no-any-return]
