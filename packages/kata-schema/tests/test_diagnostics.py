"""What a migration's failures and messages say, checked against what the database holds."""

import logging

import pytest

import kata.schema
from kata.schema import MigrationError


def tables(run):
    return {row[0] for row in run("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def functions(run):
    return {row[0] for row in run("SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace")}


def tracked(run):
    return [row[0] for row in run("SELECT version FROM kata_migrations ORDER BY version")]


def indexes(run):
    return run(
        "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relnamespace = 'public'::regnamespace AND c.relname LIKE 'items%' ORDER BY 1"
    )


PERIOD_LEN = (
    "CREATE FUNCTION period_len(begin date, finish date) RETURNS int\n"
    "    LANGUAGE sql AS $$ SELECT finish - begin $$;\n"
    "CREATE TABLE periods (id int);\n"
)


def test_a_commit_after_a_parameter_named_begin_is_refused_before_anything_runs(db, write, run, schema):
    write({"1-a.sql": PERIOD_LEN + "COMMIT;\nCREATE TABLE after_commit (id int);\n"})
    with pytest.raises(MigrationError) as caught:
        kata.schema.apply(schema)
    assert caught.value.line == 4
    assert "COMMIT would end the transaction" in str(caught.value)
    assert tables(run) == set()
    assert functions(run) == set()


def test_what_took_effect_is_said_as_the_database_has_it(db, write, run, schema):
    # In a transaction, nothing stays.
    write({"1-a.sql": PERIOD_LEN + "INSERT INTO periods VALUES (period_len('2026-01-01', 'x'));\n"})
    with pytest.raises(MigrationError) as caught:
        kata.schema.apply(schema)
    assert caught.value.line == 4
    assert "nothing from this file was applied" in str(caught.value)
    assert tables(run) == {"kata_migrations"}
    assert functions(run) == set()
    # Outside one, the statements before the failing one stay, and the message lists them.
    write(
        {
            "1-a.sql": "-- kata:no-transaction\n"
            + PERIOD_LEN
            + "COMMIT;\nINSERT INTO periods VALUES (period_len('2026-01-01', 'x'));\n"
        }
    )
    with pytest.raises(MigrationError) as caught:
        kata.schema.apply(schema)
    assert caught.value.line == 6
    assert "the statements before it (on lines 2, 4, 5) took effect and stay" in str(caught.value)
    assert tables(run) == {"kata_migrations", "periods"}
    assert functions(run) == {"period_len"}
    assert tracked(run) == []


def test_detail_hint_context_and_position_stay_in_the_error(db, write, schema):
    write(
        {
            "1-a.sql": (
                "CREATE TABLE t (id int);\n"
                "DO $$\n"
                "BEGIN\n"
                "    PERFORM 1;\n"
                "    RAISE EXCEPTION 'bad thing' USING DETAIL = 'the detail', HINT = 'the hint';\n"
                "END\n"
                "$$;\n"
            )
        }
    )
    with pytest.raises(MigrationError) as caught:
        kata.schema.apply(schema)
    message = str(caught.value)
    assert message.startswith(f"{schema / '1-a.sql'}, line 2: bad thing\n")
    assert "  DETAIL: the detail\n" in message
    assert "  HINT: the hint\n" in message
    # PL/pgSQL's line 4 of the block is line 5 of the file.
    assert (
        "CONTEXT: PL/pgSQL function inline_code_block line 4 at RAISE, which is line 5 of the file" in message
    )

    write({"1-a.sql": "CREATE TABLE t (id int, name text);\nSELECT id,\n       nmae FROM t;\n"})
    with pytest.raises(MigrationError) as caught:
        kata.schema.apply(schema)
    message = str(caught.value)
    assert caught.value.line == 3
    assert 'line 3: column "nmae" does not exist' in message
    assert 'HINT: Perhaps you meant to reference the column "t.name".' in message
    assert "  at line 3, column 8:        nmae FROM t\n" in message
    caret = message.split("column 8:        nmae FROM t\n")[1].splitlines()[0]
    assert caret == " " * len("  at line 3, column 8: ") + " " * 7 + "^"


def test_notices_and_warnings_are_logged_with_file_and_line(db, write, schema, caplog):
    write(
        {
            "1-a.sql": "CREATE TABLE t (id int);\n",
            "2-b.sql": (
                "CREATE TABLE IF NOT EXISTS t (id int);\n"
                "DO $$ BEGIN\n"
                "  RAISE WARNING 'careful: %', 42;\n"
                "END $$;\n"
            ),
        }
    )
    with caplog.at_level(logging.INFO, logger="kata.schema"):
        kata.schema.apply(schema)
    notices = [(r.levelno, r.getMessage()) for r in caplog.records if getattr(r, "migration_notice", False)]
    path = schema / "2-b.sql"
    assert notices == [
        (logging.INFO, f'{path}, line 1: NOTICE: relation "t" already exists, skipping'),
        (
            logging.WARNING,
            f"{path}, line 2: WARNING: careful: 42 (CONTEXT: PL/pgSQL function inline_code_block line 2 "
            f"at RAISE, which is line 3 of the file)",
        ),
    ]


def test_a_failed_concurrent_index_build_names_the_invalid_index_it_left(db, write, run, schema):
    write(
        {
            "1-a.sql": "CREATE TABLE items (id int);\nINSERT INTO items VALUES (1), (1), (2);\n",
            "2-index.sql": "-- kata:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY items_id ON items (id);\n",
        }
    )
    with pytest.raises(MigrationError) as caught:
        kata.schema.apply(schema)
    message = str(caught.value)
    assert "could not create unique index" in message
    assert "no statement before it took effect" in message
    assert "the failing statement left the INVALID index public.items_id behind" in message
    assert "DROP INDEX CONCURRENTLY IF EXISTS public.items_id;" in message
    assert indexes(run) == [("items_id", False)]  # as the message says
    assert tracked(run) == [1]

    # Retried with IF NOT EXISTS, the build is skipped and the index stays invalid: an error.
    run("DELETE FROM items WHERE id = 1")
    write(
        {
            "2-index.sql": (
                "-- kata:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS items_id ON items (id);\n"
            )
        }
    )
    with pytest.raises(MigrationError) as caught:
        kata.schema.apply(schema)
    assert "the index public.items_id is INVALID, so the migration is not recorded as applied" in str(
        caught.value
    )
    assert tracked(run) == [1]
    assert indexes(run) == [("items_id", False)]

    # Following the advice works.
    run("DROP INDEX CONCURRENTLY IF EXISTS public.items_id;")
    assert [a.version for a in kata.schema.apply(schema)] == [2]
    assert indexes(run) == [("items_id", True)]

    # An index on ONLY a partitioned table is invalid by design until attached: no failed build.
    write(
        {
            "3-a.sql": "CREATE TABLE events (at date NOT NULL, id int) PARTITION BY RANGE (at);\n"
            "CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');\n",
            "4-index.sql": "-- kata:no-transaction\n"
            "CREATE INDEX events_id ON ONLY events (id);\n"
            "CREATE INDEX CONCURRENTLY events_2026_id ON events_2026 (id);\n",
            "5-attach.sql": "ALTER INDEX events_id ATTACH PARTITION events_2026_id;\n",
        }
    )
    assert [a.version for a in kata.schema.apply(schema)] == [3, 4, 5]
    assert run("SELECT indisvalid FROM pg_index WHERE indexrelid = 'events_id'::regclass") == [(True,)]


@pytest.mark.parametrize("command", ["\\set ON_ERROR_STOP on", "\\connect other"])
def test_psql_meta_commands_are_errors_naming_file_and_line(db, write, run, schema, command):
    write({"1-a.sql": f"CREATE TABLE t (id int);\n{command}\nCREATE TABLE u (id int);\n"})
    with pytest.raises(MigrationError) as caught:
        kata.schema.apply(schema)
    assert (caught.value.path, caught.value.line) == (schema / "1-a.sql", 2)
    assert str(caught.value).startswith(
        f"{schema / '1-a.sql'}, line 2: psql meta-command {command.split()[0]}"
    )
    assert tables(run) == set()


def test_plain_pg_dump_output_applies_as_a_first_migration(db, other_database, write, run, schema, pg_dump):
    other_database.run(
        "CREATE SCHEMA shop;"
        "CREATE TYPE shop.state AS ENUM ('new', 'paid');"
        "CREATE TABLE shop.orders (id serial PRIMARY KEY, state shop.state NOT NULL, note text);"
        "INSERT INTO shop.orders (state, note) VALUES ('new', E'tab\\there; and \\\\ backslash'), ('paid', NULL);"
        "CREATE FUNCTION shop.paid() RETURNS bigint LANGUAGE plpgsql AS $$ BEGIN "
        "RETURN (SELECT count(*) FROM shop.orders WHERE state = 'paid'); END $$;"
        "CREATE VIEW public.summary AS SELECT shop.paid() AS paid;"
    )
    dump = pg_dump(other_database, "--no-owner", keep_restrict=True)
    assert "COPY shop.orders (id, state, note) FROM stdin;" in dump
    assert "\\restrict " in dump
    write({"1-start.sql": dump})
    assert [a.version for a in kata.schema.apply(schema)] == [1]
    assert pg_dump(db) == pg_dump(other_database)
    assert run("SELECT shop.paid(), nextval('shop.orders_id_seq')") == [(1, 3)]


@pytest.mark.parametrize("marker", ["-- KATA:NO-TRANSACTION", "--Kata: No-Transaction  "])
def test_markers_match_in_any_letter_case(db, write, run, schema, marker):
    write(
        {
            "1-a.sql": f"{marker}\nCREATE TABLE items (id int);\nCREATE INDEX CONCURRENTLY items_id ON items (id);\n"
        }
    )
    assert [a.version for a in kata.schema.apply(schema)] == [1]
    assert indexes(run) == [("items_id", True)]


@pytest.mark.parametrize(
    "marker", ["-- kata no-transaction", "--kata:no_transaction", "-- no-transaction", "-- KATA: notx"]
)
def test_near_miss_markers_are_refused(db, write, run, schema, marker):
    write({"1-a.sql": f"{marker}\nCREATE TABLE t (id int);\n"})
    with pytest.raises(MigrationError, match="line 1: unknown marker"):
        kata.schema.apply(schema)
    assert tables(run) == set()


def test_a_comment_only_file_is_a_recorded_no_op(db, write, run, schema):
    write(
        {
            # A first-line comment that merely mentions kata is no marker.
            "1-a.sql": "-- tables for the kata demo\nCREATE TABLE t (id int);\n",
            "2-b.sql": "-- kept for history; nothing to do\n/* really */\n",
        }
    )
    assert [a.version for a in kata.schema.apply(schema)] == [1, 2]
    assert tracked(run) == [1, 2]
    assert tables(run) == {"t", "kata_migrations"}
    assert kata.schema.status(schema).pending == ()


def test_a_database_without_standard_conforming_strings_is_split_as_psql_would(db, write, run, schema):
    run(f"ALTER DATABASE {db.name} SET standard_conforming_strings = off")
    write({"1-a.sql": "CREATE TABLE t (body text);\nINSERT INTO t VALUES ('it\\'s; one');\n"})
    kata.schema.apply(schema)
    assert run("SELECT body FROM t") == [("it's; one",)]
