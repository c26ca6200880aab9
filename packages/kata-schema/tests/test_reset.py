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


def test_reset_drops_the_public_schema_and_applies_everything_again(db, write, run, schema):
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
    # Only the public schema is what reset manages.
    assert run("SELECT count(*) FROM keep.t") == [(0,)]


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

    (schema / "1-thing.sql").unlink()
    kata.schema.reset(schema)  # no migration left: the table is gone, and the model knows it
    with pytest.raises(kata.db.UnknownTableError):
        Thing.count()
