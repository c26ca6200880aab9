from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest

import kata.db


class Foo(kata.db.Object):
    __table__ = "foo"


GOOD = {"name": "app", "host": "localhost", "user": "app"}


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        ({"pool_sise": 3}, "pool_sise", "unknown key; did you mean 'pool_size'?"),
        ({"colour": 3}, "colour", "unknown key (known keys: name, host, user, port,"),
        ({"port": "abc"}, "port", "expected int, got 'abc'"),
        ({"port": 70000}, "port", "expected int <= 65535, got 70000"),
        ({"port": True}, "port", "expected int, got True"),
        ({"pool_size": 0}, "pool_size", "expected int >= 1, got 0"),
        ({"name": ""}, "name", "expected str of length >= 1, got ''"),
        ({"host": 5}, "host", "expected str, got 5"),
        ({"password": 1234}, "password", "expected str | null, got 1234"),
        ({"protected": "yes"}, "protected", "expected bool, got 'yes'"),
        ({"pool_timeout": 0}, "pool_timeout", "expected float > 0.0, got 0"),
        ({"connect_timeout": "ten"}, "connect_timeout", "expected float, got 'ten'"),
        ({"statement_timeout": -1}, "statement_timeout", "expected float > 0.0, got -1"),
        ({"max_idle": "inf"}, "max_idle", "expected float <= 3153600000.0, got 'inf'"),
        ({"replicas": [{"host": "r", "port": "x"}]}, "replicas[0].port", "expected int, got 'x'"),
    ],
)
def test_a_wrong_key_is_named(change: dict[str, Any], key: str, problem: str) -> None:
    with pytest.raises(kata.db.ConfigurationError) as info:
        kata.db.check({**GOOD, **change})
    error = info.value
    assert (error.key, str(error)) == (key, f"database.{key}: {error.problem}")
    assert error.problem.startswith(problem), error.problem
    assert isinstance(error, ValueError) and isinstance(error, kata.db.DatabaseError)
    with pytest.raises(kata.db.ConfigurationError, match=re.escape(str(error))):
        kata.db.initialize({**GOOD, **change})


def test_missing_keys_are_named_and_only_those_without_a_default() -> None:
    with pytest.raises(kata.db.ConfigurationError) as info:
        kata.db.check({"port": 5432})
    assert (info.value.key, info.value.problem) == ("name", "missing required keys 'name', 'host', 'user'")
    for missing in ("name", "host", "user"):
        section = {key: value for key, value in GOOD.items() if key != missing}
        with pytest.raises(kata.db.ConfigurationError) as info:
            kata.db.check(section)
        assert str(info.value) == f"database.{missing}: missing required key '{missing}'"


def test_text_is_converted_by_the_key_type() -> None:
    """What ${VAR} values look like: every key accepts its value as text."""
    section = {
        **GOOD,
        "port": "5433",
        "password": "",
        "pool_size": "3",
        "protected": "true",
        "prepare": "false",
        "connect_timeout": "2.5",
        "pool_timeout": "1",
        "statement_timeout": "0.5",
        "max_idle": "60",
        "max_lifetime": "120",
        "replicas": [{"host": "r1", "port": "5434"}],
        "read_your_writes": "0",
    }
    settings = kata.db.check(section)
    assert isinstance(settings, kata.db.Settings)
    assert (settings.port, settings.pool_size, settings.protected, settings.prepare) == (5433, 3, True, False)
    assert (settings.connect_timeout, settings.statement_timeout, settings.max_idle) == (2.5, 0.5, 60.0)
    assert settings.password is None and settings.read_your_writes == 0.0
    assert settings.replicas == (kata.db.Replica("r1", 5434),)


def test_check_has_no_side_effects(database: Any) -> None:
    kata.db.close()
    assert kata.db.check(database.section).name == database.name
    with pytest.raises(kata.db.NotInitializedError):
        kata.db.settings()


def test_the_section_must_be_a_mapping() -> None:
    with pytest.raises(kata.db.ConfigurationError) as info:
        kata.db.initialize(["name", "app"])  # type: ignore[arg-type]
    assert (info.value.key, str(info.value)) == ("", "database: expected a mapping of settings, got list")


def test_a_refused_section_leaves_the_previous_configuration_working(db: Any) -> None:
    Foo.create([{"bar": "kept"}])
    with pytest.raises(kata.db.ConfigurationError):
        kata.db.initialize({**db.section, "pool_size": "many"})
    assert kata.db.settings().name == db.name
    assert [foo.bar for foo in Foo.get()] == ["kept"]


def test_using_kata_db_before_initialize_says_so() -> None:
    kata.db.close()
    for call in (kata.db.settings, kata.db.connect, Foo.count, lambda: kata.db.query("SELECT 1")):
        with pytest.raises(kata.db.NotInitializedError, match=r"kata.db.initialize"):
            call()


def test_settings_and_connect(database: Any) -> None:
    kata.db.initialize({**database.section, "protected": True, "prepare": False, "statement_timeout": 1.5})
    try:
        settings = kata.db.settings()
        assert settings.name == database.name and settings.protected and settings.pool_size == 4
        assert f"dbname={database.name}" in settings.conninfo
        with psycopg.connect(settings.conninfo) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (database.name,)
        conn = kata.db.connect()
        try:
            assert not conn.autocommit and conn.prepare_threshold is None
            assert conn.execute("SHOW statement_timeout").fetchone() == ("1500ms",)
            with kata.db.connection() as pooled:
                assert pooled.autocommit and pooled.prepare_threshold is None
                assert pooled.execute("SHOW statement_timeout").fetchone() == ("1500ms",)
                assert pooled.info.backend_pid != conn.info.backend_pid
        finally:
            conn.close()
        with pytest.raises(kata.db.DatabaseError, match="statement timeout") as info:
            kata.db.execute("SELECT pg_sleep(5)")
        assert info.value.sqlstate == "57014"
    finally:
        kata.db.close()


def test_defaults(database: Any) -> None:
    section = {key: value for key, value in database.section.items() if key not in ("pool_size", "password")}
    kata.db.initialize(section)
    try:
        settings = kata.db.settings()
        assert (settings.pool_size, settings.protected, settings.prepare, settings.password) == (
            10,
            False,
            True,
            None,
        )
        assert "password" not in repr(settings) and "conninfo" not in repr(settings)
        with kata.db.connection() as conn:
            assert conn.prepare_threshold == 5
            assert conn.execute("SHOW statement_timeout").fetchone() == ("0",)
    finally:
        kata.db.close()


def test_a_unix_socket_directory_as_host(own_server: Any) -> None:
    server = own_server("postgres")
    kata.db.initialize({"name": "postgres", "host": server.workdir, "port": server.port, "user": "kata"})
    try:
        rows = kata.db.query("SELECT inet_server_addr() AS address")
        assert rows == [{"address": None}]  # None: not a TCP connection
    finally:
        kata.db.close()


def test_unreachable_server_fails_at_initialize_and_keeps_the_previous_setup(database: Any) -> None:
    kata.db.initialize(database.section)
    try:
        with pytest.raises(kata.db.ConnectionLost, match="database connection failed") as info:
            kata.db.initialize({**database.section, "name": "no_such_database"})
        assert isinstance(info.value.__cause__, psycopg.OperationalError)
        assert kata.db.settings().name == database.name
        assert kata.db.query("SELECT 1 AS one") == [{"one": 1}]
    finally:
        kata.db.close()


def test_initialize_again_closes_the_old_pool_and_rereads_tables(database: Any, postgres_target: Any) -> None:
    with psycopg.connect(database.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE foo (id serial PRIMARY KEY, a int)")
        conn.execute("CREATE DATABASE " + database.name + "_2")
    other = {**database.section, "name": database.name + "_2"}
    try:
        with psycopg.connect(postgres_target.dsn(other["name"]), autocommit=True) as conn:
            conn.execute("CREATE TABLE foo (id serial PRIMARY KEY, b text)")
        kata.db.initialize(database.section)
        assert Foo.create([{"a": 1}])[0].a == 1
        with kata.db.connection() as old:
            pass
        kata.db.initialize(other)
        assert old.closed
        assert Foo.create([{"b": "x"}])[0].to_dict() == {"id": 1, "b": "x"}
        with pytest.raises(kata.db.UnknownColumnError):
            Foo.get({"a": 1})
        kata.db.close()
        kata.db.close()
        with pytest.raises(kata.db.NotInitializedError):
            Foo.count()
    finally:
        kata.db.close()
        with psycopg.connect(database.dsn, autocommit=True) as conn:
            conn.execute("DROP DATABASE " + other["name"] + " WITH (FORCE)")


def test_create_without_prepared_statements(database: Any) -> None:
    # The PgBouncer setting: repeated and pipelined creates run without a prepared statement.
    with psycopg.connect(database.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id serial PRIMARY KEY, a text, b int)")

    class T(kata.db.Object):
        __table__ = "t"

    kata.db.initialize({**database.section, "prepare": False})
    try:
        # One transaction keeps every call on one connection: with prepared statements on,
        # psycopg would have prepared the INSERT by the sixth call.
        with kata.db.transaction():
            for _ in range(6):
                rows: list[dict[str, Any]] = [{"a": str(i)} for i in range(12_000)] + [{"b": 1}]
                created = T.create(rows)
                assert [t.a for t in created[:-1]] == [row["a"] for row in rows[:-1]] and created[-1].b == 1
            assert kata.db.query("SELECT count(*) AS n FROM pg_prepared_statements")[0]["n"] == 0
        assert T.count() == 6 * 12_001
    finally:
        kata.db.close()
