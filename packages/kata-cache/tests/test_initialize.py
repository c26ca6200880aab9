"""kata.cache.initialize: the guide's ``cache:`` section, and what a bad one says."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
import redis

import kata.cache


@pytest.fixture(autouse=True)
def _forget_configuration() -> Iterator[None]:
    yield
    kata.cache.close()


def guide_section(redis_server: Any, memcached_servers: Any, prefix: str) -> dict[str, Any]:
    return {
        "memcached": {
            "type": "memcached",
            "prefix": prefix,
            "hosts": [s.address for s in memcached_servers],
        },
        "memory": {"type": "memory"},
        "redis": {"type": "redis", "db": 0, "host": redis_server.address, "prefix": prefix},
    }


def test_the_guide_example(redis_server: Any, memcached_servers: Any, key_prefix: str) -> None:
    kata.cache.initialize(guide_section(redis_server, memcached_servers, key_prefix))
    kata.cache.memcached.set("foo", "bar")
    assert kata.cache.memcached.get("foo") == "bar"
    assert isinstance(kata.cache.memcached, kata.cache.MemcachedCache)
    assert isinstance(kata.cache.memory, kata.cache.MemoryCache)
    assert isinstance(kata.cache.redis, kata.cache.RedisCache)
    assert set(kata.cache.caches()) == {"memcached", "memory", "redis"}
    for name, cache in kata.cache.caches().items():
        assert cache.name == name
        cache.ping()
        cache.set("foo", [name])
        assert cache.get_multi(["foo"]) == {"foo": [name]}


def test_options_reach_the_instance(redis_server: Any, memcached_servers: Any) -> None:
    kata.cache.initialize(
        {
            "small": {"type": "memory", "max_size": 2, "prefix": "s:"},
            "r": {"type": "redis", "url": f"redis://{redis_server.address}/3", "timeout": 0.2},
            "m": {
                "type": "memcached",
                "hosts": [memcached_servers[0].address],
                "retry_interval": 5,
                "max_value_size": 1000,
            },
        }
    )
    small = kata.cache.small
    assert isinstance(small, kata.cache.MemoryCache)
    assert (small.max_size, small.prefix) == (2, "s:")
    m = kata.cache.m
    assert isinstance(m, kata.cache.MemcachedCache)
    assert (m.retry_interval, m.max_value_size, m.hosts) == (5, 1000, [memcached_servers[0].address])
    kata.cache.r.set("in-db-3", 1)
    raw = redis.Redis(redis_server.host, redis_server.port, db=3)
    assert raw.exists("in-db-3") == 1
    raw.delete("in-db-3")
    raw.close()


def test_unknown_name_is_an_attribute_error() -> None:
    kata.cache.initialize({"memory": {"type": "memory"}})
    with pytest.raises(AttributeError, match=r"no cache named 'nope'.*configured: memory"):
        kata.cache.nope  # noqa: B018


BAD_SECTIONS = [
    ({"c": {"type": "mongo"}}, "c.type", "expected one of memcached, memory, redis, got 'mongo'"),
    ({"c": {"type": "memcahced"}}, "c.type", "did you mean 'memcached'?"),
    (
        {"c": {"type": "redis"}},
        "c",
        "a redis cache needs exactly one of host ('host:port') or url or cluster or sentinel",
    ),
    ({"c": {"type": "redis", "host": "h:1", "url": "redis://h:1"}}, "c", "got host and url"),
    ({"c": {"type": "redis", "host": "localhost:abc"}}, "c.host", "port must be a number"),
    ({"c": {"type": "redis", "host": "localhost:70000"}}, "c.host", "port must be a number"),
    ({"c": {"type": "redis", "host": ""}}, "c.host", "expected 'host:port'"),
    ({"c": {"type": "redis", "host": ":6379"}}, "c.host", "no host"),
    ({"c": {"type": "redis", "host": 6379}}, "c.host", "expected str | null, got 6379"),
    ({"c": {"type": "redis", "host": "h:1", "db": -1}}, "c.db", "expected int >= 0, got -1"),
    ({"c": {"type": "redis", "host": "h:1", "db": "two"}}, "c.db", "expected int, got 'two'"),
    ({"c": {"type": "redis", "url": "http://h"}}, "c.url", "must start with redis://"),
    ({"c": {"type": "redis", "host": "h:1", "timeout": 0}}, "c.timeout", "expected float > 0.0, got 0"),
    ({"c": {"type": "redis", "host": "h:1", "timeout": "soon"}}, "c.timeout", "expected float, got 'soon'"),
    ({"c": {"type": "redis", "host": "h:1", "timout": 1}}, "c.timout", "did you mean 'timeout'?"),
    (
        {"c": {"type": "redis", "host": "h:1", "hosts": ["h:1"]}},
        "c.hosts",
        "not an option of a redis cache; did you mean 'host'?",
    ),
    (
        {"c": {"type": "redis", "host": "h:1", "xyzzy": 1}},
        "c.xyzzy",
        "(the keys of a redis cache: cluster, ",
    ),
    ({"c": {"type": "redis", "cluster": []}}, "c.cluster", "expected array of length >= 1, got []"),
    ({"c": {"type": "redis", "cluster": ["a:1", "b:c"]}}, "c.cluster[1]", "port must be a number"),
    ({"c": {"type": "redis", "sentinel": ["a:1"]}}, "c.service", "sentinel and service go together"),
    (
        {"c": {"type": "redis", "host": "a:1", "service": "m"}},
        "c.sentinel",
        "sentinel and service go together",
    ),
    ({"c": {"type": "memcached"}}, "c.hosts", "missing: expected a list of 'host:port' strings"),
    (
        {"c": {"type": "memcached", "hosts": "localhost:11211"}},
        "c.hosts",
        "expected array, got 'localhost:11211'",
    ),
    ({"c": {"type": "memcached", "hosts": []}}, "c.hosts", "expected array of length >= 1"),
    ({"c": {"type": "memcached", "hosts": ["a:1", "b:x"]}}, "c.hosts[1]", "port must be"),
    ({"c": {"type": "memcached", "hosts": ["a:1", 2]}}, "c.hosts[1]", "expected str, got 2"),
    ({"c": {"type": "memcached", "hosts": ["a:1", "a:1"]}}, "c.hosts[1]", "'a:1' is listed twice"),
    ({"c": {"type": "memcached", "hosts": ["a:1"], "host": "a:1"}}, "c.host", "did you mean 'hosts'?"),
    ({"c": {"type": "memory", "max_size": 0}}, "c.max_size", "expected int >= 1, got 0"),
    ({"c": {"type": "memory", "pickle": "perhaps"}}, "c.pickle", "expected bool, got 'perhaps'"),
    ({"c": {"type": "memory", "prefix": "a b"}}, "c.prefix", "prefix 'a b' must be printable"),
    ({"initialize": {"type": "memory"}}, "initialize", "the name must be"),
    ({"has-dash": {"type": "memory"}}, "has-dash", "the name must be"),
    ({"c": "memory"}, "c", "expected a mapping with a type"),
]


@pytest.mark.parametrize(("section", "key", "problem"), BAD_SECTIONS)
def test_bad_section_names_the_instance_and_key(section: dict[str, Any], key: str, problem: str) -> None:
    for call in (kata.cache.check, kata.cache.initialize):
        with pytest.raises(kata.cache.SectionError) as caught:
            call(section)
        assert caught.value.key == key
        assert problem in caught.value.problem
        assert str(caught.value) == f"cache.{key}: {caught.value.problem}"


def test_a_cache_without_a_type_is_a_memory_cache() -> None:
    checked = kata.cache.check({"a": {"prefix": "x:"}, "b": None})
    assert checked == {"a": kata.cache.MemorySettings(prefix="x:"), "b": kata.cache.MemorySettings()}
    kata.cache.initialize({"a": {"prefix": "x:"}, "b": None})
    assert isinstance(kata.cache.a, kata.cache.MemoryCache) and kata.cache.a.prefix == "x:"


def test_a_section_that_is_not_a_mapping() -> None:
    with pytest.raises(kata.cache.SectionError) as caught:
        kata.cache.check(["memory"])  # type: ignore[arg-type]
    assert (caught.value.key, str(caught.value)) == (
        "",
        "cache: expected a mapping of cache names to settings, got list",
    )


def test_strings_are_converted_by_the_key_s_type() -> None:
    """What ${VAR} substitution produces: every value a string."""
    checked = kata.cache.check(
        {
            "r": {
                "type": "redis",
                "host": "h:1",
                "db": "2",
                "timeout": "0.25",
                "connect_timeout": "1",
                "retry_interval": "5",
                "max_connections": "8",
                "pickle": "true",
            },
            "m": {"type": "memcached", "hosts": ["a:1"], "max_value_size": "2048", "retry_interval": "2.5"},
            "s": {"type": "memory", "max_size": "100", "pickle": "false"},
        }
    )
    r, m, s = checked["r"], checked["m"], checked["s"]
    assert isinstance(r, kata.cache.RedisSettings)
    assert (r.db, r.timeout, r.connect_timeout, r.retry_interval, r.max_connections, r.pickle) == (
        2,
        0.25,
        1.0,
        5.0,
        8,
        True,
    )
    assert isinstance(m, kata.cache.MemcachedSettings)
    assert (m.max_value_size, m.retry_interval, m.timeout) == (2048, 2.5, 0.5)
    assert isinstance(s, kata.cache.MemorySettings)
    assert (s.max_size, s.pickle) == (100, False)


def test_converted_settings_reach_the_instances(redis_server: Any) -> None:
    kata.cache.initialize(
        {"r": {"type": "redis", "host": redis_server.address, "timeout": "0.25", "retry_interval": "3"}}
    )
    cache = kata.cache.r
    assert isinstance(cache, kata.cache.RedisCache)
    assert cache.retry_interval == 3.0
    cache.set("k", 1)
    assert cache.get("k") == 1


def test_the_schemas_are_public_and_describe_every_key() -> None:
    assert {
        "memory": kata.cache.MemorySettings,
        "redis": kata.cache.RedisSettings,
        "memcached": kata.cache.MemcachedSettings,
    } == kata.cache.SETTINGS
    for schema in kata.cache.SETTINGS.values():
        info = msgspec.inspect.type_info(schema)
        assert isinstance(info, msgspec.inspect.StructType)
        for field in info.fields:
            if field.name != "type":
                assert getattr(field.type, "extra", {}) or field.type, field.name
    # The only key without a default is memcached's hosts.
    required = {
        kind: [f.name for f in msgspec.inspect.type_info(schema).fields if f.required]  # type: ignore[attr-defined]
        for kind, schema in kata.cache.SETTINGS.items()
    }
    assert required == {"memory": [], "redis": [], "memcached": ["hosts"]}


def test_a_bad_section_keeps_the_previous_configuration(redis_server: Any, key_prefix: str) -> None:
    kata.cache.initialize(
        {
            "memory": {"type": "memory"},
            "redis": {"type": "redis", "host": redis_server.address, "prefix": key_prefix},
        }
    )
    kata.cache.memory.set("k", 1)
    kata.cache.redis.set("k", 2)
    old = kata.cache.caches()
    with pytest.raises(kata.cache.SectionError, match=r"cache\.other\.timeout"):
        kata.cache.initialize(
            {"fresh": {"type": "memory"}, "other": {"type": "redis", "host": "h:1", "timeout": "x"}}
        )
    assert kata.cache.caches() == old
    # The previous instances still work, connections included.
    assert kata.cache.memory.get("k") == 1
    assert kata.cache.redis.get("k") == 2
    kata.cache.redis.set("k", 3)
    assert kata.cache.redis.get("k") == 3


def test_initialize_again_closes_the_old_clients(own_server: Any) -> None:
    server = own_server("redis")
    watcher = redis.Redis(server.host, server.port)
    kata.cache.initialize({"redis": {"type": "redis", "host": server.address}})
    old = kata.cache.redis
    old.set("k", 1)
    assert len(watcher.client_list()) == 2  # the watcher and the cache
    kata.cache.initialize({"redis": {"type": "redis", "host": server.address}})
    assert kata.cache.redis is not old
    # The server handles a closed socket on its own loop, after the close returns: look again
    # until it has (a client left open would stay listed and fail this after 5 s).
    deadline = time.monotonic() + 5
    while len(watcher.client_list()) > 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(watcher.client_list()) == 1
    kata.cache.close()
    assert kata.cache.caches() == {}
    watcher.close()


def test_check_refuses_what_initialize_refuses_and_changes_nothing():
    kata.cache.initialize({"a": {"type": "memory"}})
    try:
        before = kata.cache.caches()
        with pytest.raises(kata.cache.SectionError, match=r"cache\.b\.type"):
            kata.cache.check({"b": {"type": "bogus"}})
        kata.cache.check({"b": {"type": "memory"}, "c": {"type": "redis", "host": "127.0.0.1:1"}})
        assert kata.cache.caches() == before
        assert "b" not in kata.cache.caches()
    finally:
        kata.cache.close()
