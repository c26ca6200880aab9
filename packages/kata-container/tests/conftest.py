"""Caches of every type for the container tests, and a way to count the calls made on them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

import kata.cache


class Counted:
    """A real cache that counts the calls made on it, by method name."""

    def __init__(self, cache: kata.cache.Cache) -> None:
        self.inner = cache
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return method(*args, **kwargs)

        return counted


@pytest.fixture(params=["memory", "redis", "memcached"])
def cache(request: pytest.FixtureRequest, key_prefix: str) -> Iterator[kata.cache.Cache]:
    """A cache of each type, with a key prefix of its own."""
    found: kata.cache.Cache
    if request.param == "memory":
        found = kata.cache.MemoryCache(prefix=key_prefix)
    elif request.param == "redis":
        found = kata.cache.RedisCache(host=request.getfixturevalue("redis_server").address, prefix=key_prefix)
    else:
        hosts = [server.address for server in request.getfixturevalue("memcached_servers")]
        found = kata.cache.MemcachedCache(hosts=hosts, prefix=key_prefix)
    yield found
    found.close()


@pytest.fixture
def counted(cache: kata.cache.Cache) -> Counted:
    """The ``cache`` of each type, counting the calls made on it."""
    return Counted(cache)


@pytest.fixture(params=["memcached", "redis", "memory"])
def guide_cache(request: pytest.FixtureRequest, key_prefix: str) -> Iterator[kata.cache.Cache]:
    """``kata.cache.memcached``, the cache the guide's examples use, configured as each type in turn.

    The name is the application's choice; configuring it as each type runs the guide's code
    unchanged on all three.
    """
    if request.param == "memcached":
        hosts = [server.address for server in request.getfixturevalue("memcached_servers")]
        entry: dict[str, Any] = {"type": "memcached", "prefix": key_prefix, "hosts": hosts}
    elif request.param == "redis":
        address = request.getfixturevalue("redis_server").address
        entry = {"type": "redis", "db": 0, "host": address, "prefix": key_prefix}
    else:
        entry = {"type": "memory"}
    kata.cache.initialize({"memcached": entry})
    yield kata.cache.memcached
    kata.cache.close()
