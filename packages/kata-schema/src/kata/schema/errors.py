"""The one exception kata.schema raises."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg


class MigrationError(Exception):
    """A migration folder, file or run that cannot go ahead.

    The message says what is wrong and, where there is one, names the file (and the line
    of the failing statement). The same facts are kept as attributes so callers need not
    parse the message: :attr:`path` is the migration file or folder concerned (or None),
    :attr:`line` the 1-based line in that file (or None). A database error that caused
    this one is kept as ``__cause__``.
    """

    def __init__(self, message: str, *, path: Path | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


@contextmanager
def database_errors(doing: str) -> Iterator[None]:
    """Raise a psycopg error from the block as a MigrationError saying what was being done."""
    try:
        yield
    except psycopg.Error as exc:
        raise MigrationError(f"database error while {doing}: {str(exc).strip()}") from exc
