"""A ``cache`` fixture that runs a test once on each cache type, on real servers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import kata.cache


@pytest.fixture(params=["memory", "redis", "memcached"])
def cache_type(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_cache(request: pytest.FixtureRequest, cache_type: str, key_prefix: str) -> Iterator[Any]:
    """Build a cache of the current type on the session's servers: ``make_cache(**options)``."""
    made: list[kata.cache.Cache] = []

    def make(**options: Any) -> kata.cache.Cache:
        options.setdefault("prefix", key_prefix)
        cache: kata.cache.Cache
        if cache_type == "memory":
            cache = kata.cache.MemoryCache(**options)
        elif cache_type == "redis":
            server = request.getfixturevalue("redis_server")
            cache = kata.cache.RedisCache(server.address, **options)
        else:
            servers = request.getfixturevalue("memcached_servers")
            cache = kata.cache.MemcachedCache([s.address for s in servers], **options)
        made.append(cache)
        return cache

    yield make
    for cache in made:
        cache.close()


@pytest.fixture
def cache(make_cache: Any) -> kata.cache.Cache:
    """A cache of each type in turn, with a key prefix of its own."""
    return make_cache()  # type: ignore[no-any-return]
