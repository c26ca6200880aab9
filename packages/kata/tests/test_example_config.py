"""kata/config.yaml.example: shipped in the wheel, complete, and a configuration that works."""

import dataclasses
import re
import zipfile

import pytest

import kata.cache
import kata.config
import kata.db
from kata.configfile import EXAMPLE

# What the example must show: the guide's database keys, every other key kata.db accepts, and
# each cache type's options (kata-cache's README lists them).
CACHE_OPTIONS = {
    "memory": {"type", "prefix", "max_size", "pickle"},
    "redis": {"type", "host", "db", "prefix", "connect_timeout", "timeout", "max_connections", "pickle"},
    "memcached": {
        "type",
        "hosts",
        "prefix",
        "connect_timeout",
        "timeout",
        "retry_interval",
        "max_connections",
        "max_value_size",
        "pickle",
    },
}
COMMENTED_OUT = ("embedded:", "username:", "password: ${REDIS_PASSWORD}", "url: rediss://")


@pytest.fixture(autouse=True)
def closed_afterwards():
    yield
    kata.config.close()


@pytest.fixture
def servers(monkeypatch, database, redis_server, memcached_servers):
    """The example's variables pointed at the test servers."""
    section = database.section
    for name, value in {
        "DB_NAME": section["name"],
        "DB_HOST": section["host"],
        "DB_PORT": str(section["port"]),
        "DB_USER": section["user"],
        "DB_PASSWORD": section["password"] or "",
        "REDIS_HOST": redis_server.address,
        "MEMCACHED_HOST_1": memcached_servers[0].address,
        "MEMCACHED_HOST_2": memcached_servers[1].address,
    }.items():
        monkeypatch.setenv(name, value)
    return database


def test_the_example_sets_up_a_working_app(tmp_path, servers, key_prefix):
    # Only the prefix changes, so that tests sharing these servers never collide.
    config = tmp_path / "dev.yaml"
    config.write_text(EXAMPLE.read_text().replace("'myproject:'", f"'{key_prefix}'"))
    kata.config.initialize(config)

    assert kata.config.app() is not None
    assert kata.db.settings().name == servers.name
    with kata.db.connection() as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (servers.name,)
    for name in ("memory", "redis", "memcached"):
        cache = getattr(kata.cache, name)
        cache.set("example", {"works": name})
        assert cache.get("example") == {"works": name}


def test_the_example_shows_every_key(servers):
    settings = kata.config.load(EXAMPLE)
    assert settings.database is not None
    assert set(settings.database) == {f.name for f in dataclasses.fields(kata.db.Settings)}
    assert {name: set(section) for name, section in settings.cache.items()} == CACHE_OPTIONS
    text = EXAMPLE.read_text()
    for commented in COMMENTED_OUT:
        assert re.search(rf"^ *# +{re.escape(commented)}", text, re.M), commented


def test_the_commented_embedded_database_is_valid_too(tmp_path, servers):
    lines = EXAMPLE.read_text().splitlines()
    start = lines.index("#   database:")
    block = []
    for line in lines[start:]:
        if not line.startswith("#   "):
            break
        block.append(line[4:])
    config = tmp_path / "embedded.yaml"
    config.write_text("\n".join(block) + "\n")
    settings = kata.config.load(config)
    assert settings.embedded is not None
    assert (settings.embedded.name, settings.embedded.pool_size) == ("myproject", 4)
    assert settings.embedded.data_dir == tmp_path / "embedded.pgdata"


def test_the_example_is_in_the_wheel(wheelhouse):
    with zipfile.ZipFile(wheelhouse["kata"]) as wheel:
        shipped = wheel.read("kata/config.yaml.example").decode()
    assert shipped == EXAMPLE.read_text()
