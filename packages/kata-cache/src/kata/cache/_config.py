"""Building cache instances from the ``cache:`` section of the configuration."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kata.cache._base import Cache
from kata.cache._memcached import MemcachedCache
from kata.cache._memory import MemoryCache
from kata.cache._options import split_address
from kata.cache._redis import RedisCache

# Per type: the constructor and the keys an entry may have beyond ``type``.
_TYPES: dict[str, tuple[Callable[..., Cache], frozenset[str]]] = {
    "memory": (MemoryCache, frozenset({"prefix", "max_size", "pickle"})),
    "redis": (
        RedisCache,
        frozenset(
            {
                "host",
                "url",
                "db",
                "prefix",
                "username",
                "password",
                "connect_timeout",
                "timeout",
                "retry_interval",
                "max_connections",
                "pickle",
            }
        ),
    ),
    "memcached": (
        MemcachedCache,
        frozenset(
            {
                "hosts",
                "prefix",
                "connect_timeout",
                "timeout",
                "retry_interval",
                "max_connections",
                "max_value_size",
                "pickle",
            }
        ),
    ),
}


class SectionError(ValueError):
    """A ``cache:`` entry that cannot be built; the message names the entry and the key."""


def _build(name: str, entry: Mapping[str, Any]) -> Cache:
    kind = entry.get("type")
    if kind not in _TYPES:
        known = ", ".join(sorted(_TYPES))
        raise SectionError(f"cache.{name}.type: expected one of {known}, got {kind!r}")
    factory, allowed = _TYPES[kind]
    options = {key: value for key, value in entry.items() if key != "type"}
    for key in options:
        if key not in allowed:
            raise SectionError(
                f"cache.{name}.{key}: not an option of a {kind} cache (expected one of {', '.join(sorted(allowed))})"
            )
    # Check the server addresses here, where the key they came from is known.
    if kind == "redis":
        if ("host" in options) == ("url" in options):
            raise SectionError(f"cache.{name}: a redis cache needs exactly one of host ('host:port') or url")
        if "host" in options:
            try:
                split_address(options["host"], 6379)
            except ValueError as exc:
                raise SectionError(f"cache.{name}.host: {exc}") from None
    if kind == "memcached":
        hosts = options.get("hosts")
        if not isinstance(hosts, (list, tuple)) or not hosts:
            raise SectionError(f"cache.{name}.hosts: expected a list of 'host:port' strings, got {hosts!r}")
        for index, address in enumerate(hosts):
            try:
                split_address(address, 11211)
            except ValueError as exc:
                raise SectionError(f"cache.{name}.hosts[{index}]: {exc}") from None
    try:
        cache = factory(**options)
    except (TypeError, ValueError) as exc:
        # The remaining checks live in the constructors; their messages start with the option.
        option = str(exc).split(" ", 1)[0]
        where = f"cache.{name}.{option}" if option in options else f"cache.{name}"
        raise SectionError(f"{where}: {exc}") from None
    cache.name = name
    return cache


def build(section: Mapping[str, Any], reserved: Callable[[str], bool]) -> dict[str, Cache]:
    """Build every instance of *section*, or none: on an error the ones built are closed.

    *reserved* tells names that cannot be attributes of ``kata.cache``.
    """
    if not isinstance(section, Mapping):
        raise SectionError(
            f"cache: expected a mapping of cache names to settings, got {type(section).__name__}"
        )
    built: dict[str, Cache] = {}
    try:
        for name, entry in section.items():
            if not isinstance(name, str) or not name.isidentifier() or reserved(name):
                raise SectionError(
                    f"cache.{name}: the name must be a Python identifier that is not already a "
                    "name in kata.cache (it becomes kata.cache.<name>)"
                )
            if not isinstance(entry, Mapping):
                raise SectionError(f"cache.{name}: expected a mapping with a type, got {entry!r}")
            built[name] = _build(name, entry)
    except BaseException:
        for cache in built.values():
            cache.close()
        raise
    return built
