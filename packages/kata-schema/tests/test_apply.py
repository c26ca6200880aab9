import hashlib
import logging
import re
from datetime import datetime, timedelta

import psycopg
import pytest

import kata.db
import kata.schema
from kata.schema import MigrationError
from kata.schema.lock import LOCK_KEY

LOG = "CREATE TABLE log (id serial PRIMARY KEY, version bigint NOT NULL);\n"


def logged(run):
    return [row[0] for row in run("SELECT version FROM log ORDER BY id")]


def tracked(run):
    return [row[0] for row in run("SELECT version FROM kata_migrations ORDER BY version")]


def tables(run):
    return {row[0] for row in run("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def test_migrations_run_in_numeric_order_and_are_returned(db, write, run):
    schema = write(
        {
            "10-ten.sql": "INSERT INTO log (version) VALUES (10);",
            "2-two.sql": "INSERT INTO log (version) VALUES (2);",
            "1-one.sql": LOG + "INSERT INTO log (version) VALUES (1);",
            "20260102030405-stamp.sql": "INSERT INTO log (version) VALUES (20260102030405);",
        }
    )
    applied = kata.schema.apply(str(schema))
    assert [(a.version, a.name) for a in applied] == [
        (1, "one"),
        (2, "two"),
        (10, "ten"),
        (20260102030405, "stamp"),
    ]
    assert all(isinstance(a.duration, timedelta) and a.duration >= timedelta(0) for a in applied)
    assert all(isinstance(a.applied_at, datetime) and a.applied_at.tzinfo is not None for a in applied)
    assert logged(run) == [1, 2, 10, 20260102030405]


def test_the_tracking_table_records_version_name_checksum_time_and_duration(db, write, run, schema):
    write({"1-create-things.sql": "CREATE TABLE things (id int);\r\n"})
    [applied] = kata.schema.apply(schema)
    [row] = run("SELECT version, name, checksum, applied_at, duration FROM public.kata_migrations")
    assert row == (1, "create-things", applied.checksum, applied.applied_at, applied.duration)
    assert applied.checksum == hashlib.sha256(b"CREATE TABLE things (id int);\n").hexdigest()
    assert kata.schema.status(schema).applied == (applied,)


def test_apply_after_n_records_up_to_n_as_a_baseline_and_runs_only_newer(db, write, run, schema):
    run(LOG)  # as if 1 and 2 had been applied to this database some other way
    write({f"{v}-m{v}.sql": f"INSERT INTO log (version) VALUES ({v});" for v in (1, 2, 3, 4)})
    assert [a.version for a in kata.schema.apply(schema, 2)] == [3, 4]
    assert logged(run) == [3, 4]
    assert run("SELECT version, baseline FROM kata_migrations ORDER BY version") == [
        (1, True),
        (2, True),
        (3, False),
        (4, False),
    ]
    found = kata.schema.status(schema)
    assert found.pending == ()
    assert [(a.version, a.baseline) for a in found.applied] == [(1, True), (2, True), (3, False), (4, False)]
    # A later plain apply runs only what is newer than everything recorded.
    write({"5-m5.sql": "INSERT INTO log (version) VALUES (5);"})
    assert [a.version for a in kata.schema.apply(schema)] == [5]
    assert logged(run) == [3, 4, 5]


def test_a_baseline_beyond_every_file_records_them_all_and_runs_nothing(db, write, run, schema):
    write({"1-a.sql": "CREATE TABLE never (id int);", "2-b.sql": "CREATE TABLE nor (id int);"})
    assert kata.schema.apply(schema, 10) == []
    assert tables(run) == {"kata_migrations"}
    assert run("SELECT version, baseline FROM kata_migrations ORDER BY version") == [(1, True), (2, True)]
    assert kata.schema.apply(schema) == []


def test_a_tracking_table_from_before_baselines_gains_the_column(db, write, run, schema):
    run(
        "CREATE TABLE public.kata_migrations (version bigint PRIMARY KEY, name text NOT NULL, "
        "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), duration interval NOT NULL)"
    )
    write({"1-a.sql": "SELECT 1;", "2-b.sql": "SELECT 2;"})
    digest = hashlib.sha256(b"SELECT 1;").hexdigest()
    run(f"INSERT INTO kata_migrations VALUES (1, 'a', '{digest}', now(), '1 second')")
    assert [(a.version, a.baseline) for a in kata.schema.status(schema).applied] == [(1, False)]
    assert [a.version for a in kata.schema.apply(schema)] == [2]
    assert run("SELECT version, baseline FROM kata_migrations ORDER BY version") == [(1, False), (2, False)]


def test_applying_again_does_nothing(db, write, run, schema):
    write(
        {
            "1-a.sql": LOG + "INSERT INTO log (version) VALUES (1);",
            "2-b.sql": "INSERT INTO log (version) VALUES (2);",
        }
    )
    assert len(kata.schema.apply(schema)) == 2
    assert kata.schema.apply(schema) == []
    assert kata.schema.apply(schema, 0) == []
    assert logged(run) == [1, 2]
    write({"3-c.sql": "INSERT INTO log (version) VALUES (3);"})
    assert [a.version for a in kata.schema.apply(schema)] == [3]
    assert logged(run) == [1, 2, 3]


def test_an_unapplied_migration_older_than_the_newest_is_refused_unless_out_of_order(db, write, run, schema):
    write({"1-a.sql": LOG, "3-c.sql": "INSERT INTO log (version) VALUES (3);"})
    kata.schema.apply(schema)
    write(
        {
            "2-b.sql": "INSERT INTO log (version) VALUES (2);",
            "4-d.sql": "INSERT INTO log (version) VALUES (4);",
        }
    )
    with pytest.raises(MigrationError) as caught:
        kata.schema.apply(schema)
    assert caught.value.path == schema / "2-b.sql"
    assert str(caught.value).startswith(
        f"{schema / '2-b.sql'}: not applied, yet older than the newest applied migration 3-c"
    )
    assert "out_of_order=True" in str(caught.value)
    assert logged(run) == [3]
    assert tracked(run) == [1, 3]
    assert [a.version for a in kata.schema.apply(schema, out_of_order=True)] == [2, 4]
    assert logged(run) == [3, 2, 4]


def test_a_baseline_counts_as_applied_for_the_order(db, write, run, schema):
    write({"1-a.sql": LOG, "3-c.sql": "INSERT INTO log (version) VALUES (3);"})
    kata.schema.apply(schema, 3)
    write({"2-b.sql": "INSERT INTO log (version) VALUES (2);"})
    with pytest.raises(
        MigrationError,
        match=re.escape("2-b.sql: not applied, yet older than the newest applied migration 3-c"),
    ):
        kata.schema.apply(schema)


def test_each_applied_migration_is_logged_with_its_duration(db, write, schema, caplog):
    write({"1-a.sql": "SELECT 1;", "2-b.sql": "SELECT 2;"})
    with caplog.at_level(logging.INFO, logger="kata.schema"):
        kata.schema.apply(schema)
    messages = [r.getMessage() for r in caplog.records if r.name == "kata.schema"]
    assert len(messages) == 2
    assert re.fullmatch(rf"applied {re.escape(str(schema / '1-a.sql'))} in \d+\.\d ms", messages[0])
    assert "2-b.sql" in messages[1]


def test_a_failing_migration_leaves_nothing_behind_and_names_the_file_and_line(db, write, run, schema):
    write(
        {
            "1-a.sql": LOG + "INSERT INTO log (version) VALUES (1);",
            "2-b.sql": (
                "CREATE TABLE half (id int);\n"
                "INSERT INTO half VALUES (1);\n"
                "INSERT INTO log (version) VALUES (2);\n"
                "\n"
                "INSERT INTO nowhere VALUES (1);\n"
                "CREATE TABLE never (id int);\n"
            ),
            "3-c.sql": "INSERT INTO log (version) VALUES (3);",
        }
    )
    with pytest.raises(MigrationError) as caught:
        kata.schema.apply(schema)
    error = caught.value
    assert (error.path, error.line) == (schema / "2-b.sql", 5)
    message = str(error)
    assert message.startswith(f'{schema / "2-b.sql"}, line 5: relation "nowhere" does not exist')
    assert "in the statement starting on line 5: INSERT INTO nowhere VALUES (1)" in message
    assert "nothing from this file was applied" in message
    assert isinstance(error.__cause__, psycopg.errors.UndefinedTable)
    # 1 stays applied; nothing of 2 is left; 3 did not run.
    assert tables(run) == {"log", "kata_migrations"}
    assert logged(run) == [1]
    assert tracked(run) == [1]
    # Once the file is fixed, the run picks up where it stopped.
    write({"2-b.sql": "CREATE TABLE half (id int);\nINSERT INTO log (version) VALUES (2);\n"})
    assert [a.version for a in kata.schema.apply(schema)] == [2, 3]
    assert logged(run) == [1, 2, 3]


def test_the_line_of_an_error_inside_a_long_statement_is_the_line_of_the_error(db, write, schema):
    write({"1-a.sql": "-- a table\nCREATE TABLE t (\n    id int,\n    name txet\n);\n"})
    with pytest.raises(MigrationError) as caught:
        kata.schema.apply(schema)
    assert caught.value.line == 4
    assert str(caught.value).startswith(f'{schema / "1-a.sql"}, line 4: type "txet" does not exist')
    assert "in the statement starting on line 2: CREATE TABLE t (" in str(caught.value)


def test_an_error_carries_the_servers_detail(db, write, schema):
    write(
        {
            "1-a.sql": "CREATE TABLE t (id int PRIMARY KEY);\nINSERT INTO t VALUES (1);\nINSERT INTO t VALUES (1);"
        }
    )
    with pytest.raises(MigrationError) as caught:
        kata.schema.apply(schema)
    assert caught.value.line == 3
    assert "Key (id)=(1) already exists." in str(caught.value)


def test_sql_with_percent_signs_quotes_and_function_bodies_runs_as_written(db, write, run, schema):
    write(
        {
            "1-a.sql": """
CREATE TABLE notes (body text, updated timestamptz);
INSERT INTO notes (body) VALUES ('100% sure; really'), (E'it\\'s');
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated := now();
    RETURN NEW;
END;
$$;
CREATE TRIGGER notes_touch BEFORE UPDATE ON notes FOR EACH ROW EXECUTE FUNCTION touch();
CREATE FUNCTION twice(x int) RETURNS int LANGUAGE sql
BEGIN ATOMIC
    SELECT x * 2;
END;
"""
        }
    )
    kata.schema.apply(schema)
    assert run("SELECT body FROM notes ORDER BY body") == [("100% sure; really",), ("it's",)]
    assert run("SELECT twice(21)") == [(42,)]


def test_a_non_transactional_file_can_create_indexes_concurrently(db, write, run, schema):
    write(
        {
            "1-a.sql": "CREATE TABLE items (id int, label text);\nINSERT INTO items SELECT g, g::text FROM generate_series(1, 1000) g;",
            "2-index.sql": (
                "-- kata:no-transaction\n"
                "CREATE INDEX CONCURRENTLY items_id ON items (id);\n"
                "CREATE INDEX CONCURRENTLY items_label ON items (label);\n"
            ),
            "3-c.sql": "ALTER TABLE items ADD COLUMN extra int;",
        }
    )
    assert [a.version for a in kata.schema.apply(schema)] == [1, 2, 3]
    assert run(
        "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relnamespace = 'public'::regnamespace ORDER BY 1"
    ) == [
        ("items_id", True),
        ("items_label", True),
        ("kata_migrations_pkey", True),
    ]


def test_concurrently_in_a_transactional_file_fails_with_a_hint(db, write, run, schema):
    write({"1-a.sql": "CREATE TABLE items (id int);\nCREATE INDEX CONCURRENTLY items_id ON items (id);"})
    with pytest.raises(MigrationError) as caught:
        kata.schema.apply(schema)
    assert caught.value.line == 2
    assert "cannot run in a transaction: make '-- kata:no-transaction' the first line" in str(caught.value)
    assert tables(run) == {"kata_migrations"}


def test_a_failing_non_transactional_file_says_what_took_effect_and_is_not_recorded(db, write, run, schema):
    write(
        {
            "1-a.sql": "CREATE TABLE items (id int);",
            "2-index.sql": (
                "-- kata:no-transaction\n"
                "CREATE INDEX CONCURRENTLY items_id ON items (id);\n"
                "CREATE TABLE made (id int);\n"
                "CREATE INDEX CONCURRENTLY broken ON items (nope);\n"
            ),
        }
    )
    with pytest.raises(MigrationError) as caught:
        kata.schema.apply(schema)
    assert (caught.value.path, caught.value.line) == (schema / "2-index.sql", 4)
    assert "the statements before it (on lines 2, 3) took effect and stay" in str(caught.value)
    assert tables(run) == {"items", "made", "kata_migrations"}
    assert tracked(run) == [1]
    # Made safe to repeat, the file runs from the top again.
    write(
        {
            "2-index.sql": (
                "-- kata:no-transaction\n"
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS items_id ON items (id);\n"
                "CREATE TABLE IF NOT EXISTS made (id int);\n"
            )
        }
    )
    assert [a.version for a in kata.schema.apply(schema)] == [2]


def test_a_non_transactional_file_failing_at_once_says_nothing_took_effect(db, write, schema):
    write({"1-a.sql": "-- kata:no-transaction\nCREATE INDEX CONCURRENTLY i ON nowhere (id);"})
    with pytest.raises(
        MigrationError, match="no statement before it took effect; the file is not recorded as applied"
    ):
        kata.schema.apply(schema)


def test_every_file_to_apply_is_checked_before_the_first_runs(db, write, run, schema):
    write({"1-a.sql": "CREATE TABLE a (id int);", "2-b.sql": "SELECT 'open;\n"})
    with pytest.raises(MigrationError, match="line 1: string starting on line 1 is never closed"):
        kata.schema.apply(schema)
    assert tables(run) == set()
    write({"2-b.sql": "COMMIT;"})
    with pytest.raises(MigrationError, match="COMMIT would end the transaction"):
        kata.schema.apply(schema)
    write({"2-b.sql": " \n\n"})
    with pytest.raises(MigrationError, match=re.escape(f"{schema / '2-b.sql'}: the file is empty")):
        kata.schema.apply(schema)
    assert tables(run) == set()


def test_a_changed_file_is_an_error_naming_it_unless_accepted(db, write, run, schema):
    write(
        {
            "1-a.sql": LOG + "INSERT INTO log (version) VALUES (1);",
            "2-b.sql": "INSERT INTO log (version) VALUES (2);",
        }
    )
    kata.schema.apply(schema)
    write(
        {
            "2-b.sql": "INSERT INTO log (version) VALUES (2);\n-- reformatted\n",
            "3-c.sql": "INSERT INTO log (version) VALUES (3);",
        }
    )
    with pytest.raises(MigrationError) as caught:
        kata.schema.apply(schema)
    assert caught.value.path == schema / "2-b.sql"
    assert str(caught.value).startswith(f"{schema / '2-b.sql'}: changed since applied")
    assert logged(run) == [1, 2]  # 3 did not run either

    found = kata.schema.status(schema)
    assert [m.version for m in found.changed] == [2]
    assert [m.version for m in found.pending] == [3]

    assert [a.version for a in kata.schema.apply(schema, accept_changed=True)] == [3]
    assert logged(run) == [1, 2, 3]  # 2 was not run again
    [(checksum,)] = run("SELECT checksum FROM kata_migrations WHERE version = 2")
    assert checksum == kata.schema.discover(schema)[1].checksum
    assert kata.schema.apply(schema) == []
    assert kata.schema.status(schema).changed == ()


def test_status_lists_applied_pending_changed_and_missing(db, write, schema, caplog):
    empty = kata.schema.status(schema)
    assert empty == kata.schema.Status(applied=(), pending=(), changed=(), missing=())
    write({"1-a.sql": "SELECT 1;", "2-b.sql": "SELECT 2;", "3-c.sql": "SELECT 3;"})
    assert [m.version for m in kata.schema.status(schema).pending] == [1, 2, 3]
    kata.schema.apply(schema, 0)
    (schema / "3-c.sql").unlink()
    write({"2-b.sql": "SELECT 22;", "4-d.sql": "SELECT 4;"})
    found = kata.schema.status(schema)
    assert [a.version for a in found.applied] == [1, 2, 3]
    assert [m.version for m in found.pending] == [4]
    assert [m.version for m in found.changed] == [2]
    assert [(a.version, a.name) for a in found.missing] == [(3, "c")]
    (schema / "2-b.sql").write_text("SELECT 2;")
    with caplog.at_level(logging.WARNING, logger="kata.schema"):
        assert [a.version for a in kata.schema.apply(schema)] == [4]
    assert "migration 3 (c) is recorded as applied but has no file" in caplog.text


def test_status_only_reads(db, write, run, schema):
    write({"1-a.sql": "SELECT 1;"})
    kata.schema.status(schema)
    assert tables(run) == set()


def test_each_migration_starts_with_a_fresh_session(db, write, run, schema):
    write(
        {
            "1-a.sql": "CREATE SCHEMA other;\nSET search_path = other;\nCREATE TABLE in_other (id int);",
            "2-b.sql": "CREATE TABLE in_public (id int);",
        }
    )
    kata.schema.apply(schema)
    assert run("SELECT schemaname, tablename FROM pg_tables WHERE tablename LIKE 'in_%' ORDER BY 2") == [
        ("other", "in_other"),
        ("public", "in_public"),
    ]


def test_the_configured_statement_timeout_does_not_cut_migrations_short(database, write, run, schema):
    kata.db.initialize({**database.section, "statement_timeout": 0.05})
    try:
        write({"1-slow.sql": "SELECT pg_sleep(0.3);", "2-slow.sql": "SELECT pg_sleep(0.3);"})
        assert [a.version for a in kata.schema.apply(schema)] == [1, 2]
    finally:
        kata.db.close()


def test_a_process_holding_the_lock_too_long_is_named_in_the_error(db, write, run, schema):
    write({"1-a.sql": "CREATE TABLE a (id int);"})
    with psycopg.connect(db.dsn, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
        pid = holder.info.backend_pid
        with pytest.raises(
            MigrationError,
            match=rf"another process \(PostgreSQL server process {pid}\) held the migration lock",
        ):
            kata.schema.apply(schema, lock_timeout=0.3)
    assert tables(run) == set()
    assert [a.version for a in kata.schema.apply(schema)] == [1]


def test_apply_without_kata_db_is_a_migration_error(write, schema):
    write({"1-a.sql": "SELECT 1;"})
    with pytest.raises(
        MigrationError, match=r"cannot connect to the database: kata\.db is not initialized"
    ) as caught:
        kata.schema.apply(schema)
    assert isinstance(caught.value.__cause__, kata.db.NotInitializedError)


def test_bad_arguments(db, schema):
    with pytest.raises(TypeError, match="n must be an int"):
        kata.schema.apply(schema, "3")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="n must be an int"):
        kata.schema.apply(schema, True)
    with pytest.raises(ValueError, match="lock_timeout must be a positive number"):
        kata.schema.apply(schema, lock_timeout=0)
    with pytest.raises(MigrationError, match="does not exist"):
        kata.schema.apply(schema / "nowhere")


def test_models_see_the_columns_a_migration_adds(db, write, schema):
    class Thing(kata.db.Object):
        __table__ = "thing"

    write({"1-thing.sql": "CREATE TABLE thing (id serial PRIMARY KEY, name text);"})
    kata.schema.apply(schema)
    Thing.create([{"name": "a"}])  # the model has read the table's columns now

    write({"2-colour.sql": "ALTER TABLE thing ADD COLUMN colour text DEFAULT 'red';"})
    kata.schema.apply(schema)
    assert [(t.name, t.colour) for t in Thing.get({"colour": "red"})] == [("a", "red")]
    Thing.create([{"name": "b", "colour": "blue"}])
    assert Thing.count({"colour": "blue"}) == 1


def test_models_see_the_columns_of_a_migration_that_failed_half_way(db, write, schema):
    class Thing(kata.db.Object):
        __table__ = "thing"

    write({"1-thing.sql": "CREATE TABLE thing (id serial PRIMARY KEY);"})
    kata.schema.apply(schema)
    assert Thing.count() == 0
    write(
        {
            "2-half.sql": "-- kata:no-transaction\n"
            "ALTER TABLE thing ADD COLUMN size int DEFAULT 1;\n"
            "SELECT no_such_function();\n"
        }
    )
    with pytest.raises(MigrationError):
        kata.schema.apply(schema)
    Thing.create([{"size": 2}])  # the column the first statement added is known
    assert Thing.count({"size": 2}) == 1
