"""Migration files: finding them in a folder, reading them, and creating the next one."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from kata.schema.errors import MigrationError
from kata.schema.splitter import SplitError, Statement, split

NO_TRANSACTION_MARKER = "-- kata:no-transaction"

_FILENAME = re.compile(r"(?P<version>[0-9]+)-(?P<name>.+)\.sql")
_MARKER = re.compile(r"--\s*kata:\s*no-transaction\s*", re.IGNORECASE)
# A first-line comment that looks meant as a marker but is not one (-- kata: notx,
# --kata no_transaction, -- no-transaction) is refused rather than silently running the file
# in a transaction.
_NEAR_MISS = re.compile(r"--\s*kata\s*:|--.*\bno[-_ ]?transaction\b", re.IGNORECASE)
_MAX_VERSION = 2**63 - 1  # the tracking table stores versions as bigint
# Statements that end or start a transaction would commit a migration apart from its
# tracking row; ROLLBACK TO (a savepoint) stays inside the transaction and is allowed.
_TRANSACTION_CONTROL = frozenset({"begin", "start", "commit", "end", "rollback", "abort", "prepare"})
# How new() recognises timestamp versions, by the number of digits of the newest one.
_STAMP_FORMATS = {8: "%Y%m%d", 10: "%Y%m%d%H", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}


@dataclass(frozen=True)
class Migration:
    """One migration file, ``N-name.sql``.

    *version* is N as a number, *name* the part between ``N-`` and ``.sql``, *checksum* the
    SHA-256 of the file's contents (hex; CRLF line ends count as LF, so a Windows checkout
    is not a change). *transactional* is False when the file's first line is
    ``-- kata:no-transaction``.
    """

    version: int
    name: str
    path: Path
    checksum: str
    transactional: bool
    sql: str = field(repr=False)

    def statements(self, *, standard_strings: bool = True) -> list[Statement]:
        """The file's statements, in order, split as psql splits them.

        *standard_strings* is the session's ``standard_conforming_strings`` the file starts
        with. Unclosed text and psql backslash commands are a MigrationError naming the file
        and line. A transactional file may not contain BEGIN, COMMIT, ROLLBACK and the like,
        which would commit its work apart from its tracking row.
        """
        try:
            statements = split(self.sql, standard_strings=standard_strings)
        except SplitError as exc:
            raise MigrationError(
                f"{self.path}, line {exc.line}: {exc}", path=self.path, line=exc.line
            ) from None
        if self.transactional:
            for statement in statements:
                if _controls_transaction(statement):
                    raise MigrationError(
                        f"{self.path}, line {statement.line}: {statement.keywords[0].upper()} would end "
                        f"the transaction this migration runs in; remove it (each migration already "
                        f"runs in its own transaction) or make the file's first line "
                        f"{NO_TRANSACTION_MARKER!r}",
                        path=self.path,
                        line=statement.line,
                    )
        return statements


def _controls_transaction(statement: Statement) -> bool:
    words = statement.keywords
    if not words or words[0] not in _TRANSACTION_CONTROL:
        return False
    second = words[1] if len(words) > 1 else ""
    if words[0] == "rollback":
        return second != "to"
    if words[0] == "prepare":  # PREPARE name AS … is an ordinary statement
        return second == "transaction"
    return True


def discover(folder: str | os.PathLike[str]) -> list[Migration]:
    """Every migration in *folder*, ordered by version as a number (2 before 10).

    Hidden files (names starting with a dot, such as editor swap files) and subfolders are
    ignored. Any other file must be named ``N-name.sql`` with N at least 1; a file that is
    not, two files with the same N (``1-a.sql`` and ``01-b.sql``), a file that is not UTF-8
    and a misplaced or unknown ``-- kata:`` marker are MigrationErrors naming the file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is not a folder"
        raise MigrationError(f"migration folder {folder} {what}", path=folder)
    found: dict[int, Migration] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.is_dir():
            continue
        migration = _read(path)
        other = found.get(migration.version)
        if other is not None:
            raise MigrationError(
                f"{path}: version {migration.version} is also used by {other.path.name}; "
                f"each migration needs its own number",
                path=path,
            )
        found[migration.version] = migration
    return [found[version] for version in sorted(found)]


def _read(path: Path) -> Migration:
    match = _FILENAME.fullmatch(path.name)
    if match is None:
        raise MigrationError(
            f"{path}: not a migration file name; expected N-name.sql, such as 1-create-users.sql",
            path=path,
        )
    version = int(match["version"])
    if not 1 <= version <= _MAX_VERSION:
        raise MigrationError(
            f"{path}: the version must be from 1 to {_MAX_VERSION}, got {version}", path=path
        )
    data = path.read_bytes()
    try:
        sql = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MigrationError(f"{path}: not UTF-8 text ({exc})", path=path) from None
    lines = sql.splitlines()
    first = lines[0].strip() if lines else ""
    transactional = _MARKER.fullmatch(first) is None
    if transactional and _NEAR_MISS.match(first):
        raise MigrationError(
            f"{path}, line 1: unknown marker {first!r}; the only one is {NO_TRANSACTION_MARKER!r} "
            f"(in any letter case)",
            path=path,
            line=1,
        )
    for number, line in enumerate(lines[1:], start=2):
        if _MARKER.fullmatch(line.strip()):
            raise MigrationError(
                f"{path}, line {number}: {NO_TRANSACTION_MARKER!r} only counts on the first line of the file",
                path=path,
                line=number,
            )
    checksum = hashlib.sha256(data.replace(b"\r\n", b"\n")).hexdigest()
    return Migration(version, match["name"], path, checksum, transactional, sql)


def new(folder: str | os.PathLike[str], name: str) -> Path:
    """Create the next migration file in *folder*, empty, and return its path.

    The number follows the newest migration: one more than it, keeping its zero padding
    (``009-a.sql`` is followed by ``010-…``); if the newest number is a timestamp
    (``20260102030405-a.sql``), the current UTC time in the same format, or one more than the
    newest if that is not larger. The first migration is ``1-name.sql``. Spaces in *name*
    become hyphens and a trailing ``.sql`` is dropped. The folder is created if missing.
    """
    folder = Path(folder)
    slug = _slug(name)
    existing = discover(folder) if folder.exists() else []
    prefix = str(_next_version(existing))
    if existing:
        newest_prefix = existing[-1].path.name.partition("-")[0]
        if newest_prefix.startswith("0"):
            prefix = prefix.zfill(len(newest_prefix))
    path = folder / f"{prefix}-{slug}.sql"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8"):
            pass
    except FileExistsError:
        raise MigrationError(f"{path} already exists", path=path) from None
    return path


def _slug(name: str) -> str:
    slug = "-".join(name.split())
    if slug.lower().endswith(".sql"):
        slug = slug[:-4]
    if not slug or slug.startswith(".") or any(c in slug for c in "/\\\0"):
        raise MigrationError(
            f"migration name {name!r} cannot be used in a file name; use words such as 'create users'"
        )
    return slug


def _next_version(existing: list[Migration]) -> int:
    if not existing:
        return 1
    newest = existing[-1]
    following = newest.version + 1
    digits = newest.path.name.partition("-")[0]
    stamp = _STAMP_FORMATS.get(len(digits))
    if stamp is not None:
        try:
            datetime.strptime(digits, stamp)
        except ValueError:
            return following  # a counter that merely has this many digits
        return max(following, int(datetime.now(timezone.utc).strftime(stamp)))
    return following
