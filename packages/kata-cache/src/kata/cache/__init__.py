"""Named caches on memory, Redis and memcached behind one interface.

Configure the instances once with the ``cache:`` section of the configuration, then reach
each one as an attribute of this module::

    kata.cache.initialize({
        'memory': {'type': 'memory'},
        'redis': {'type': 'redis', 'host': 'localhost:6379', 'db': 0, 'prefix': 'app:'},
        'memcached': {'type': 'memcached', 'hosts': ['localhost:11211'], 'prefix': 'app:'},
    })
    kata.cache.memcached.set('foo', 'bar')
    kata.cache.memcached.get('foo') == 'bar'

The classes :class:`MemoryCache`, :class:`RedisCache` and :class:`MemcachedCache` can also
be used directly. They share the :class:`Cache` interface; every server failure raises
:class:`CacheError`.

Keys: any str. A key that memcached could not hold (over 250 bytes with the prefix, spaces,
control characters, non-ASCII, or the character ``~``) is stored under a safe key made of
its readable start and a 128-bit digest of the whole key, the same way on Redis and
memcached (the memory type keeps keys as given).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from kata.cache._base import Cache
from kata.cache._config import (
    SETTINGS,
    CacheSettings,
    MemcachedSettings,
    MemorySettings,
    RedisSettings,
    SectionError,
    build,
)
from kata.cache._config import check as _check
from kata.cache._errors import CacheError
from kata.cache._memcached import MemcachedCache
from kata.cache._memory import MemoryCache
from kata.cache._redis import RedisCache
from kata.cache._stats import CacheStats

__all__ = [
    "SETTINGS",
    "Cache",
    "CacheError",
    "CacheSettings",
    "CacheStats",
    "MemcachedCache",
    "MemcachedSettings",
    "MemoryCache",
    "MemorySettings",
    "RedisCache",
    "RedisSettings",
    "SectionError",
    "caches",
    "check",
    "close",
    "initialize",
]

_instances: dict[str, Cache] = {}
_lock = threading.Lock()


def initialize(section: Mapping[str, Any]) -> None:
    """Configure the cache instances from the ``cache:`` section (a mapping of name to settings).

    Each entry has a ``type`` (``memory``, ``redis`` or ``memcached``) and that type's keys
    (:class:`MemorySettings`, :class:`RedisSettings`, :class:`MemcachedSettings`);
    afterwards ``kata.cache.<name>`` is the instance. Calling it again replaces the
    instances and closes the old ones' connections. A bad section raises
    :class:`SectionError` naming the entry and key, and leaves the previous configuration
    in place and working.
    """
    new = build(check(section))
    with _lock:
        old = list(_instances.values())
        _instances.clear()
        _instances.update(new)
    for cache in old:
        cache.close()


def check(section: Mapping[str, Any]) -> dict[str, CacheSettings]:
    """Check *section* against the schemas and return the typed settings of each entry.

    Strings are converted by the key's type (``timeout: "0.5"``, ``db: "2"``), as values
    substituted from ``${VAR}`` need. Raises :class:`SectionError` (``.key`` is the dotted
    key inside the section, e.g. ``"main.timeout"``) for the first mistake. It has no side
    effects: no server is contacted, the configured instances stay as they are.
    """
    return _check(section, lambda name: name in globals())


def caches() -> dict[str, Cache]:
    """The configured instances by name."""
    return dict(_instances)


def close() -> None:
    """Close every configured instance and forget them."""
    with _lock:
        old = list(_instances.values())
        _instances.clear()
    for cache in old:
        cache.close()


def __getattr__(name: str) -> Cache:
    try:
        return _instances[name]
    except KeyError:
        if name.startswith("__"):
            raise AttributeError(name) from None
        configured = ", ".join(sorted(_instances)) or "none; call kata.cache.initialize first"
        raise AttributeError(f"no cache named {name!r} is configured (configured: {configured})") from None
