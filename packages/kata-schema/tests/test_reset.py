import json
import subprocess
import sys
import uuid

import psycopg
import pytest

import kata.db
import kata.schema
from kata.schema import MigrationError
from kata.schema.lock import LOCK_KEY

MIGRATIONS = {
    "1-users.sql": "CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL);",
    "2-seed.sql": "INSERT INTO users (name) VALUES ('ada'), ('grace');",
    "3-index.sql": "-- kata:no-transaction\nCREATE INDEX CONCURRENTLY users_name ON users (name);",
}


def tables(run):
    return {row[0] for row in run("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def test_reset_empties_the_database_and_applies_everything_again(db, write, run, schema):
    write(MIGRATIONS)
    kata.schema.apply(schema)
    run(
        "INSERT INTO users (name) VALUES ('extra'); CREATE TABLE scratch (id int); CREATE SCHEMA keep; CREATE TABLE keep.t (id int)"
    )
    applied = kata.schema.reset(schema)
    assert [a.version for a in applied] == [1, 2, 3]
    assert tables(run) == {"users", "kata_migrations"}
    assert run("SELECT name FROM users ORDER BY id") == [("ada",), ("grace",)]
    assert run("SELECT version FROM kata_migrations ORDER BY version") == [(1,), (2,), (3,)]
    # A schema no migration made is gone too: the database is as new.
    assert run("SELECT count(*) FROM pg_namespace WHERE nspname = 'keep'") == [(0,)]


def test_reset_of_a_new_database_applies_everything(db, write, run, schema):
    write(MIGRATIONS)
    assert [a.version for a in kata.schema.reset(schema)] == [1, 2, 3]
    assert kata.schema.apply(schema) == []


def test_reset_keeps_the_public_schemas_owner_grants_and_comment(db, write, run, schema):
    role = f"kata_reader_{uuid.uuid4().hex[:8]}"
    run(f'CREATE ROLE "{role}"')
    try:
        run(
            f"GRANT USAGE ON SCHEMA public TO \"{role}\" WITH GRANT OPTION; COMMENT ON SCHEMA public IS 'the app''s tables'"
        )
        describe = (
            "SELECT nspowner::regrole::text, nspacl::text[], obj_description(oid, 'pg_namespace') "
            "FROM pg_namespace WHERE nspname = 'public'"
        )
        before = run(describe)
        write(MIGRATIONS)
        kata.schema.reset(schema)
        assert run(describe) == before
        assert f"{role}=U*/pg_database_owner" in before[0][1]
    finally:
        run(f'DROP OWNED BY "{role}"; DROP ROLE "{role}"')


def test_reset_refuses_a_protected_database(database, write, run, schema):
    write(MIGRATIONS)
    kata.db.initialize({**database.section, "protected": True})
    try:
        kata.schema.apply(schema)
        with pytest.raises(
            MigrationError, match=rf"database '{database.name}' is protected \(protected: true"
        ):
            kata.schema.reset(schema)
    finally:
        kata.db.close()
    assert run("SELECT count(*) FROM users") == [(2,)]


def test_a_broken_file_stops_reset_before_anything_is_dropped(db, write, run, schema):
    write(MIGRATIONS)
    kata.schema.apply(schema)
    write({"4-broken.sql": "INSERT INTO users (name) VALUES ('open);"})
    with pytest.raises(
        MigrationError, match=r"4-broken\.sql, line 1: string starting on line 1 is never closed"
    ):
        kata.schema.reset(schema)
    assert run("SELECT count(*) FROM users") == [(2,)]


def test_reset_waits_for_the_migration_lock(db, write, run, schema):
    write(MIGRATIONS)
    kata.schema.apply(schema)
    with psycopg.connect(db.dsn, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
        with pytest.raises(MigrationError, match="another process"):
            kata.schema.reset(schema, lock_timeout=0.2)
    assert tables(run) == {"users", "kata_migrations"}
    assert run("SELECT count(*) FROM users") == [(2,)]


def test_a_migration_failing_during_reset_is_reported_like_in_apply(db, write, run, schema):
    write({**MIGRATIONS, "4-bad.sql": "INSERT INTO nowhere VALUES (1);"})
    with pytest.raises(MigrationError) as caught:
        kata.schema.reset(schema)
    assert (caught.value.path, caught.value.line) == (schema / "4-bad.sql", 1)
    assert run("SELECT version FROM kata_migrations ORDER BY version") == [(1,), (2,), (3,)]


RESET_SCRIPT = """\
#!/usr/bin/env python

import json
import os
import sys

app = os.path.dirname(os.path.realpath(__file__)) + '/..'
sys.path.append(app)

import kata.db
import kata.schema

config_path = os.environ.get('CONFIG', app + '/config/dev.json')
with open(config_path) as config:
    kata.db.initialize(json.load(config)['database'])
kata.schema.reset('%s/schema' % app)
"""


def test_reset_from_a_script_beside_the_schema_folder(database, write, run, tmp_path):
    """The guide's reset script, reading the database section without the umbrella's YAML."""
    write(MIGRATIONS)
    (tmp_path / "bin").mkdir()
    (tmp_path / "config").mkdir()
    script = tmp_path / "bin" / "reset"
    script.write_text(RESET_SCRIPT)
    (tmp_path / "config" / "dev.json").write_text(json.dumps({"database": database.section}))
    run("CREATE TABLE leftover (id int)")

    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert tables(run) == {"users", "kata_migrations"}
    assert run("SELECT count(*) FROM users") == [(2,)]

    protected = tmp_path / "config" / "prod.json"
    protected.write_text(json.dumps({"database": {**database.section, "protected": True}}))
    refused = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"CONFIG": str(protected), "PATH": ""},
    )
    assert refused.returncode == 1
    assert "kata.schema.errors.MigrationError: database" in refused.stderr
    assert "is protected" in refused.stderr
    assert run("SELECT count(*) FROM users") == [(2,)]


def test_reset_creates_the_public_schema_when_it_is_gone(db, write, run, schema):
    run("DROP SCHEMA public CASCADE")
    write(MIGRATIONS)
    assert [a.version for a in kata.schema.reset(schema)] == [1, 2, 3]
    assert tables(run) == {"users", "kata_migrations"}


def test_models_see_the_tables_as_reset_leaves_them(db, write, schema):
    class Thing(kata.db.Object):
        __table__ = "thing"

    write({"1-thing.sql": "CREATE TABLE thing (id serial PRIMARY KEY, name text);"})
    kata.schema.apply(schema)
    Thing.create([{"name": "a"}])

    write({"1-thing.sql": "CREATE TABLE thing (id serial PRIMARY KEY, label text NOT NULL);"})
    kata.schema.reset(schema)
    [thing] = Thing.create([{"label": "b"}])
    assert thing.label == "b"
    with pytest.raises(kata.db.UnknownColumnError):
        Thing.create([{"name": "c"}])

    write({"1-thing.sql": "CREATE TABLE other (id int);"})
    kata.schema.reset(schema)  # the table is gone, and the model knows it
    with pytest.raises(kata.db.UnknownTableError):
        Thing.count()


def test_reset_leaves_the_database_as_new_whatever_schema_the_migrations_used(db, write, run, schema):
    write(
        {
            "1-users.sql": "CREATE TABLE users (id serial PRIMARY KEY);",
            "51-utils.sql": (
                "CREATE SCHEMA utils;\n"
                "CREATE EXTENSION citext SCHEMA utils;\n"
                "CREATE TYPE utils.mood AS ENUM ('ok', 'sad');\n"
                "CREATE TABLE utils.notes (id int, mood utils.mood, email utils.citext);\n"
                "CREATE FUNCTION utils.twice(n int) RETURNS int LANGUAGE sql RETURN n * 2;\n"
                "CREATE FUNCTION public.stop_drops() RETURNS event_trigger LANGUAGE plpgsql AS $$\n"
                "BEGIN RAISE EXCEPTION 'no dropping'; END $$;\n"
                "CREATE EVENT TRIGGER no_drops ON sql_drop EXECUTE FUNCTION public.stop_drops();\n"
                "SELECT lo_create(4242);\n"
            ),
        }
    )
    kata.schema.apply(schema)
    run(
        "INSERT INTO utils.notes VALUES (1, 'sad', 'A@B'); CREATE SCHEMA scratch; CREATE TABLE scratch.t (id int)"
    )
    assert [a.version for a in kata.schema.reset(schema)] == [1, 51]
    assert run("SELECT count(*) FROM utils.notes") == [(0,)]  # the row did not survive
    assert run("SELECT utils.twice(21)") == [(42,)]
    assert run("SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' ORDER BY 1") == [
        ("information_schema",),
        ("public",),
        ("utils",),
    ]
    assert run("SELECT count(*) FROM pg_largeobject_metadata") == [(1,)]


def test_reset_with_nothing_to_apply_back_leaves_nothing_a_migration_made(db, write, run, schema):
    write({"1-all.sql": MIGRATIONS["1-users.sql"]})
    run(
        "CREATE SCHEMA utils; CREATE EXTENSION hstore; CREATE TYPE utils.t AS (a int);"
        "CREATE FUNCTION utils.f() RETURNS int LANGUAGE sql RETURN 1; SELECT lo_create(77);"
        "CREATE PUBLICATION everything FOR ALL TABLES"
    )
    kata.schema.reset(schema)
    assert run("SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' ORDER BY 1") == [
        ("information_schema",),
        ("public",),
    ]
    assert run("SELECT extname FROM pg_extension") == [("plpgsql",)]
    assert run("SELECT count(*) FROM pg_largeobject_metadata") == [(0,)]
    assert run("SELECT count(*) FROM pg_publication") == [(0,)]
    assert tables(run) == {"users", "kata_migrations"}


def test_reset_refuses_a_folder_with_no_migrations(db, write, run, schema):
    write(MIGRATIONS)
    kata.schema.apply(schema)
    for path in list(schema.iterdir()):
        path.unlink()
    with pytest.raises(MigrationError, match="holds no migration; reset\\(\\) refuses"):
        kata.schema.reset(schema)
    assert run("SELECT count(*) FROM users") == [(2,)]
