"""kata.cache.initialize: the guide's ``cache:`` section, and what a bad one says."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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
    ({"c": {"type": "mongo"}}, "cache.c.type: expected one of memcached, memory, redis, got 'mongo'"),
    ({"c": {"prefix": "x"}}, "cache.c.type"),
    ({"c": {"type": "redis"}}, "cache.c: a redis cache needs exactly one of host"),
    (
        {"c": {"type": "redis", "host": "h:1", "url": "redis://h:1"}},
        "cache.c: a redis cache needs exactly one",
    ),
    ({"c": {"type": "redis", "host": "localhost:abc"}}, "cache.c.host: port must be a number"),
    ({"c": {"type": "redis", "host": "localhost:70000"}}, "cache.c.host: port must be a number"),
    ({"c": {"type": "redis", "host": ""}}, "cache.c.host: expected 'host:port'"),
    ({"c": {"type": "redis", "host": ":6379"}}, "cache.c.host: no host"),
    ({"c": {"type": "redis", "host": 6379}}, "cache.c.host: expected 'host:port'"),
    ({"c": {"type": "redis", "host": "h:1", "db": -1}}, "cache.c.db: db must be an int"),
    ({"c": {"type": "redis", "url": "http://h"}}, "cache.c.url: url must start with"),
    ({"c": {"type": "redis", "host": "h:1", "timeout": 0}}, "cache.c.timeout: timeout must be a positive"),
    ({"c": {"type": "redis", "host": "h:1", "hosts": ["h:1"]}}, "cache.c.hosts: not an option of a redis"),
    ({"c": {"type": "memcached"}}, "cache.c.hosts: expected a list"),
    ({"c": {"type": "memcached", "hosts": "localhost:11211"}}, "cache.c.hosts: expected a list"),
    ({"c": {"type": "memcached", "hosts": []}}, "cache.c.hosts: expected a list"),
    ({"c": {"type": "memcached", "hosts": ["a:1", "b:x"]}}, r"cache.c.hosts\[1\]: port must be"),
    ({"c": {"type": "memcached", "hosts": ["a:1", "a:1"]}}, "cache.c.hosts: hosts lists 'a:1' twice"),
    ({"c": {"type": "memcached", "hosts": ["a:1"], "host": "a:1"}}, "cache.c.host: not an option"),
    ({"c": {"type": "memory", "max_size": 0}}, "cache.c.max_size: max_size must be"),
    ({"c": {"type": "memory", "prefix": "a b"}}, "cache.c.prefix: prefix 'a b' must be printable"),
    ({"initialize": {"type": "memory"}}, "cache.initialize: the name must be"),
    ({"has-dash": {"type": "memory"}}, "cache.has-dash: the name must be"),
    ({"c": "memory"}, "cache.c: expected a mapping"),
]


@pytest.mark.parametrize(("section", "message"), BAD_SECTIONS)
def test_bad_section_names_the_instance_and_key(section: dict[str, Any], message: str) -> None:
    with pytest.raises(kata.cache.SectionError, match=message):
        kata.cache.initialize(section)


def test_a_bad_section_keeps_the_previous_configuration() -> None:
    kata.cache.initialize({"memory": {"type": "memory"}})
    kata.cache.memory.set("k", 1)
    with pytest.raises(ValueError, match=r"cache\.other\.type"):
        kata.cache.initialize({"fresh": {"type": "memory"}, "other": {"type": "nope"}})
    assert set(kata.cache.caches()) == {"memory"}
    assert kata.cache.memory.get("k") == 1


def test_initialize_again_closes_the_old_clients(own_server: Any) -> None:
    server = own_server("redis")
    watcher = redis.Redis(server.host, server.port)
    kata.cache.initialize({"redis": {"type": "redis", "host": server.address}})
    old = kata.cache.redis
    old.set("k", 1)
    assert len(watcher.client_list()) == 2  # the watcher and the cache
    kata.cache.initialize({"redis": {"type": "redis", "host": server.address}})
    assert kata.cache.redis is not old
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
