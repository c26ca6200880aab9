"""kata.initialize / kata.config against real PostgreSQL, Redis and memcached servers."""

import json
import uuid
from pathlib import Path

import psycopg
import pytest

import kata
import kata.cache
import kata.config
import kata.db
import kata.resource
import kata.router
from kata.router.testing import Client


@pytest.fixture(autouse=True)
def closed_afterwards():
    yield
    kata.config.close()


def config_file(tmp_path: Path, database=None, cache=None, name: str = "dev.yaml") -> Path:
    """Write a config file (as JSON, which is YAML too) with these sections."""
    sections = {}
    if database is not None:
        sections["database"] = database
    if cache is not None:
        sections["cache"] = cache
    path = tmp_path / "config" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(sections, indent=2))
    return path


def all_caches(redis_server, memcached_servers, key_prefix):
    return {
        "memcached": {
            "type": "memcached",
            "prefix": key_prefix,
            "hosts": [m.address for m in memcached_servers],
        },
        "memory": {"type": "memory"},
        "redis": {"type": "redis", "db": 0, "host": redis_server.address, "prefix": key_prefix},
    }


def connections_to(database) -> int:
    with psycopg.connect(database.target.dsn("postgres")) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [database.name],
        ).fetchone()
    assert row is not None
    return int(row[0])


def no_connections_remain(database) -> bool:
    """Whether the database's connections go away; a backend leaves pg_stat_activity a moment
    after its client closed the connection, so this waits for it (a few seconds at most)."""
    import time

    deadline = time.monotonic() + 10
    while connections_to(database) and time.monotonic() < deadline:
        time.sleep(0.05)
    return connections_to(database) == 0


def test_initialize_sets_up_database_caches_and_app(
    tmp_path, database, redis_server, memcached_servers, key_prefix
):
    path = config_file(tmp_path, database.section, all_caches(redis_server, memcached_servers, key_prefix))
    kata.initialize(str(path))

    assert kata.db.settings().name == database.name
    with kata.db.connection() as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (database.name,)
    for name in ("memcached", "memory", "redis"):
        cache = getattr(kata.cache, name)
        cache.set("foo", "bar")
        assert cache.get("foo") == "bar"

    route = f"/config-test/{uuid.uuid4().hex}/{{baz}}"

    class Echo(kata.resource.Resource):
        def get(self, request, response, baz):
            return self.success({"baz": baz})

    app = kata.config.app()
    kata.router.add_route(route, Echo)  # added after app(): still served
    response = Client(app).get(route.replace("{baz}", "123"))
    assert (response.status, response.json()) == (200, {"baz": "123"})


def test_variables_fill_in_the_database_section(tmp_path, database, monkeypatch):
    monkeypatch.setenv("KATA_TEST_DB_NAME", database.name)
    monkeypatch.setenv("KATA_TEST_DB_PORT", str(database.section["port"]))
    section = {**database.section, "name": "${KATA_TEST_DB_NAME}", "port": "${KATA_TEST_DB_PORT:-5432}"}
    kata.config.initialize(config_file(tmp_path, section), bare=True)
    assert (kata.db.settings().name, kata.db.settings().port) == (database.name, database.section["port"])


def test_initialize_again_replaces_and_closes(tmp_path, database, postgres_target, redis_server, key_prefix):
    first = config_file(
        tmp_path,
        database.section,
        {"redis": {"type": "redis", "host": redis_server.address, "prefix": key_prefix}},
    )
    kata.initialize(str(first))
    old_redis = kata.cache.redis
    old_redis.set("k", 1)
    assert connections_to(database) >= 1

    second = config_file(tmp_path, None, {"local": {"type": "memory"}}, name="other.yaml")
    kata.initialize(str(second))
    assert no_connections_remain(database), "the first file's pool is closed"
    assert set(kata.cache.caches()) == {"local"}
    with pytest.raises(AttributeError):
        _ = kata.cache.redis
    with pytest.raises(kata.db.NotInitializedError):
        kata.db.settings()
    assert kata.config.settings().path == second


def test_bare_has_no_app(tmp_path):
    path = config_file(tmp_path, cache={"memory": {"type": "memory"}})
    kata.config.initialize(str(path), bare=True)
    kata.cache.memory.set("a", 1)
    with pytest.raises(RuntimeError, match="bare=True"):
        kata.config.app()


def test_app_before_initialize_says_what_to_do():
    with pytest.raises(RuntimeError, match=r"call kata.initialize\(path\)"):
        kata.config.app()


def test_a_cache_the_library_refuses_names_file_and_key(tmp_path):
    path = config_file(tmp_path, cache={"redis": {"type": "redis", "host": "localhost:notaport"}})
    with pytest.raises(kata.config.ConfigError) as caught:
        kata.config.initialize(path)
    assert caught.value.path == str(path)
    assert caught.value.key == "cache.redis.host"
    assert str(caught.value).startswith(f"{path}: cache.redis.host: ")
    assert isinstance(caught.value.__cause__, kata.cache.SectionError)


def test_a_database_the_library_refuses_names_file_and_key(tmp_path, database):
    path = config_file(tmp_path, {**database.section, "pool_timeout": "soon"})
    with pytest.raises(kata.config.ConfigError) as caught:
        kata.config.initialize(path)
    assert caught.value.key == "database.pool_timeout"
    assert str(caught.value).startswith(f"{path}: database.pool_timeout: ")


def test_an_unreachable_database_fails_at_initialize_and_leaves_nothing_set_up(tmp_path, database):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    path = config_file(tmp_path, {**database.section, "port": closed_port}, {"memory": {"type": "memory"}})
    with pytest.raises(kata.config.ConfigError) as caught:
        kata.config.initialize(path)
    assert caught.value.key == "database"
    assert str(closed_port) in str(caught.value)
    with pytest.raises(RuntimeError, match="not configured"):
        kata.config.app()
    assert kata.cache.caches() == {}


def test_a_failed_reinitialize_leaves_the_previous_configuration_working(tmp_path, database):
    import socket

    first = config_file(tmp_path, database.section, {"memory": {"type": "memory"}})
    kata.config.initialize(first)
    kata.cache.memory.set("kept", 1)
    route = f"/config-kept/{uuid.uuid4().hex}"

    class Database(kata.resource.Resource):
        def get(self, request, response):
            with kata.db.connection() as conn:
                return self.success({"db": conn.execute("SELECT current_database()").fetchone()[0]})

    kata.router.add_route(route, Database)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    broken = config_file(
        tmp_path, {**database.section, "port": closed_port}, {"other": {"type": "memory"}}, name="b.yaml"
    )
    with pytest.raises(kata.config.ConfigError):
        kata.config.initialize(broken)
    mistaken = config_file(tmp_path, database.section, {"main": {"type": "disk"}}, name="c.yaml")
    with pytest.raises(kata.config.ConfigError):
        kata.config.initialize(mistaken)

    # Everything of the first file still works: settings, database, caches and the app.
    assert kata.config.settings().path == first
    assert kata.cache.memory.get("kept") == 1
    assert set(kata.cache.caches()) == {"memory"}
    reply = Client(kata.config.app()).get(route)
    assert (reply.status, reply.json()) == (200, {"db": database.name})


def test_each_request_uses_one_pooled_connection(tmp_path, database):
    kata.config.initialize(config_file(tmp_path, database.section))
    route = f"/config-scope/{uuid.uuid4().hex}"

    class Backends(kata.resource.Resource):
        def get(self, request, response):
            pids = kata.db.query("SELECT pg_backend_pid() AS pid") + kata.db.query(
                "SELECT pg_backend_pid() AS pid"
            )
            return self.success([row["pid"] for row in pids])

    kata.router.add_route(route, Backends)
    client = Client(kata.config.app())
    first, second = client.get(route).json()
    assert first == second, "both calls of the request on one connection"
    with psycopg.connect(database.target.dsn("postgres")) as conn:
        row = conn.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", [first]).fetchone()
    assert row is not None and row[0] == "idle", "given back to the pool, not left in a transaction"


def test_a_database_that_cannot_be_reached_is_a_503_with_retry_after(tmp_path, own_server):
    server = own_server("postgres")
    with psycopg.connect(server.dsn("postgres"), autocommit=True) as conn:
        conn.execute("CREATE DATABASE app")
    section = {"name": "app", "host": server.host, "port": server.port, "user": "kata", "connect_timeout": 1}
    kata.config.initialize(config_file(tmp_path, section))
    route = f"/config-down/{uuid.uuid4().hex}"

    class Query(kata.resource.Resource):
        def get(self, request, response):
            return self.success(kata.db.query("SELECT 1 AS one"))

    kata.router.add_route(route, Query)
    client = Client(kata.config.app())
    assert client.get(route).json() == [{"one": 1}]
    server.stop()
    reply = client.get(route)
    assert reply.status == 503
    assert int(reply.headers["Retry-After"]) >= 1
    assert reply.json()["message"] == "the database is unavailable; try again later"
