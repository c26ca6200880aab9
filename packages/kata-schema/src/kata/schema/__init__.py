"""Plain-SQL migrations for PostgreSQL, safe when several processes apply them at once.

Migrations are files named ``N-name.sql`` in one folder, applied in the order of N as a
number, each in its own transaction together with the row that records it in the
``public.kata_migrations`` tracking table. The database is the one kata.db is configured
for (``kata.db.initialize(section)``, or ``kata.config.initialize(path, bare=True)``)::

    kata.schema.apply('schema')          # everything not applied yet
    kata.schema.apply('schema', 3)       # 1..3 are in the database already: record them, run the rest
    kata.schema.reset('schema')          # empty the database, apply all again
    kata.schema.status('schema')         # applied, pending, changed, missing
    kata.schema.new('schema', 'add users')   # creates schema/N-add-users.sql

Files are split into statements as psql splits them. A file whose first line is
``-- kata:no-transaction`` runs statement by statement outside a transaction, for
statements such as ``CREATE INDEX CONCURRENTLY``.
"""

from kata.schema.errors import MigrationError
from kata.schema.files import NO_TRANSACTION_MARKER, Migration, discover, new
from kata.schema.runner import Status, apply, reset, status
from kata.schema.tracking import Applied

__all__ = [
    "NO_TRANSACTION_MARKER",
    "Applied",
    "Migration",
    "MigrationError",
    "Status",
    "apply",
    "discover",
    "new",
    "reset",
    "status",
]
