"""Round trips of an Attribute lookup, counted by the Redis server itself (INFO commandstats)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis

import kata.cache
import kata.container

ITEMS = 1000


def _commands(client: redis.Redis) -> dict[str, int]:
    """Calls per command since the server started, without our own INFO calls."""
    stats = client.info("commandstats")
    return {
        name.removeprefix("cmdstat_"): int(found["calls"])
        for name, found in stats.items()
        if name != "cmdstat_info"
    }


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {
        name: calls - before.get(name, 0) for name, calls in after.items() if calls != before.get(name, 0)
    }


@pytest.fixture
def private_redis(own_server: Callable[[str], Any]) -> Any:
    """A Redis server no other test talks to, so its counters are ours alone."""
    return own_server("redis")


def _container(cache: kata.cache.Cache, pulls: list[list[int]]) -> type[kata.container.Attribute]:
    class Ids(kata.container.Attribute):
        def cache(self) -> Any:
            return cache

        def expire(self) -> int:
            return 600

        def key(self, item: Any) -> str:
            return f"id:{item}"

        def pull(self, items: list[Any]) -> dict[Any, Any]:
            pulls.append(list(items))
            # Every tenth id does not exist: its absence is stored in the same write.
            return {item: {"id": item, "name": f"item {item}"} for item in items if item % 10}

    return Ids


@pytest.mark.parametrize("hit_percent", [0, 50, 100])
def test_a_lookup_of_1000_items_costs_one_read_one_pull_one_write(
    private_redis: Any, hit_percent: int
) -> None:
    cache = kata.cache.RedisCache(host=private_redis.address, prefix="rt:")
    pulls: list[list[int]] = []
    Ids = _container(cache, pulls)
    server = redis.Redis.from_url(private_redis.url)
    # Warm up: connect and load the bulk-write script, so that only the lookup is counted.
    Ids([-1]).get()
    hits = ITEMS * hit_percent // 100
    if hits:
        Ids(range(hits)).get()
    pulls.clear()

    before = _commands(server)
    found = Ids(range(ITEMS)).get()
    spent = _delta(before, _commands(server))

    assert found == {i: {"id": i, "name": f"item {i}"} for i in range(ITEMS) if i % 10}
    assert pulls == ([list(range(hits, ITEMS))] if hits < ITEMS else [])
    if hits == ITEMS:
        assert spent == {"mget": 1}
    else:
        # One MGET, one script call; the script's SETs run inside the server, one per key pulled.
        assert spent == {"mget": 1, "evalsha": 1, "set": ITEMS - hits}
    cache.close()


def test_dirty_of_1000_items_is_one_command(private_redis: Any) -> None:
    cache = kata.cache.RedisCache(host=private_redis.address, prefix="rt:")
    Ids = _container(cache, [])
    server = redis.Redis.from_url(private_redis.url)
    Ids(range(ITEMS)).get()

    before = _commands(server)
    Ids(range(ITEMS)).dirty()
    spent = _delta(before, _commands(server))

    assert spent == {"del": 1}
    assert server.dbsize() == 0
    cache.close()


def test_a_simple_get_is_one_read_and_one_write(private_redis: Any) -> None:
    cache = kata.cache.RedisCache(host=private_redis.address, prefix="rt:")
    server = redis.Redis.from_url(private_redis.url)
    pulls: list[str] = []

    class One(kata.container.Simple):
        def cache(self) -> Any:
            return cache

        def key(self) -> str:
            return "one"

        def pull(self) -> Any:
            pulls.append("one")
            return None

    cache.ping()
    before = _commands(server)
    assert One().get() is None
    assert One().get() is None
    spent = _delta(before, _commands(server))

    # Without an expiry the write is a plain MSET; the stored None makes the second get a hit.
    assert spent == {"mget": 2, "mset": 1}
    assert pulls == ["one"]
    cache.close()
