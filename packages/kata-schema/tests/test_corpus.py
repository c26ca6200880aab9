"""The splitter against psql itself: for every file of the corpus, the statements (and COPY
data) kata sends are the ones psql sends, and applying the file with kata leaves the same
database as running it with psql."""

import re
from pathlib import Path

import pytest

import kata.schema
from kata.schema import discover

CORPUS = Path(__file__).with_name("corpus")
_LEADING_COMMENT = re.compile(r"\s*(?:--[^\n]*(?:\n|$)|/\*)")


def without_leading_comments(text: str) -> str:
    """psql keeps a statement's leading /* */ comments (kata drops them, and --, as psql does)."""
    while match := _LEADING_COMMENT.match(text):
        if match.group().endswith("/*"):
            depth, pos = 1, match.end()
            while depth:
                opening, closing = text.find("/*", pos), text.find("*/", pos)
                if 0 <= opening < closing:
                    depth, pos = depth + 1, opening + 2
                else:
                    depth, pos = depth - 1, closing + 2
            text = text[pos:]
        else:
            text = text[match.end() :]
    return text.strip()


def as_psql_sends(text: str) -> str:
    return without_leading_comments(text.removesuffix(";").rstrip() if text.endswith(";") else text)


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.sql")), ids=lambda path: path.name)
def test_the_splitter_sends_what_psql_sends(
    path, database, other_database, db, tmp_path, psql_sends, pg_dump
):
    sent = psql_sends(path, database.target, other_database.name)
    [migration] = [m for m in discover(CORPUS) if m.path == path]
    ours = migration.statements()
    assert [without_leading_comments(s.text) for s in ours] == [as_psql_sends(s.text.rstrip()) for s in sent]
    assert [s.copy_data.encode() if s.copy_data is not None else None for s in ours] == [
        s.copy_data for s in sent
    ]
    # kata applies it to the fixture's database with the same result as psql.
    schema = tmp_path / "schema"
    schema.mkdir()
    (schema / path.name).write_bytes(path.read_bytes())
    [applied] = kata.schema.apply(schema)
    assert applied.version == migration.version
    assert pg_dump(database) == pg_dump(other_database)


def test_the_corpus_covers_every_construct():
    """A guard against the corpus losing a case: each construct appears in some file."""
    text = "\n".join(path.read_text() for path in CORPUS.glob("*.sql")).lower()
    for construct in (
        "$$",
        "$tag$",
        "/* nested",
        "e'",
        "u&'",
        "standard_conforming_strings = off",
        "begin atomic",
        "create function",
        "create procedure",
        "do $$",
        "create rule",
        "create trigger",
        "case when",
        "create table begin",
        "from stdin",
        "-- kata:no-transaction",
    ):
        assert construct in text, construct
