"""The ``cache:`` section: one typed schema per cache type, checked in one place.

The schemas are msgspec Structs: msgspec converts a plain mapping to typed settings in C,
checks the constraints declared on each field, and with ``strict=False`` turns the strings
that ``${VAR}`` substitution produces into the field's int, float or bool, so
``timeout: "0.5"`` is 0.5. What a field cannot say (one of several server options, a
well-formed address) is checked after the conversion, here too.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, Union

import msgspec
from msgspec import Meta

from kata.cache._base import Cache
from kata.cache._keys import check_prefix
from kata.cache._memcached import MemcachedCache
from kata.cache._memory import MemoryCache
from kata.cache._options import split_address
from kata.cache._redis import RedisCache

Seconds = Annotated[float, Meta(gt=0, le=10**9, description="a positive number of seconds")]
Count = Annotated[int, Meta(ge=1)]
Addresses = Annotated[list[str], Meta(min_length=1)]


class MemorySettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A cache in the process's memory (``type: memory``)."""

    type: Literal["memory"] = "memory"
    prefix: Annotated[
        str, Meta(description="prepended to every key; printable ASCII, no spaces, at most 200 characters")
    ] = ""
    pickle: Annotated[
        bool, Meta(description="store values with pickle instead of the msgpack round-trip format")
    ] = False
    max_size: Annotated[
        Count | None, Meta(description="keep at most this many entries, evicting the least recently used")
    ] = None


class RedisSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A cache on Redis (``type: redis``): give one of ``host``, ``url``, ``cluster`` or ``sentinel``."""

    type: Literal["redis"] = "redis"
    host: Annotated[str | None, Meta(description="'host:port' of one server")] = None
    url: Annotated[
        str | None,
        Meta(description="redis://, rediss:// (TLS) or unix:// URL, instead of host, db and password"),
    ] = None
    cluster: Annotated[Addresses | None, Meta(description="'host:port' of some nodes of a Redis Cluster")] = (
        None
    )
    sentinel: Annotated[
        Addresses | None, Meta(description="'host:port' of the Sentinels to ask for the master")
    ] = None
    service: Annotated[
        str | None, Meta(description="the name of the master the Sentinels monitor (with sentinel)")
    ] = None
    db: Annotated[int, Meta(ge=0, description="database number (not on a cluster)")] = 0
    username: Annotated[str | None, Meta(description="user name (Redis ACL)")] = None
    password: Annotated[str | None, Meta(description="password")] = None
    prefix: Annotated[
        str, Meta(description="prepended to every key; printable ASCII, no spaces, at most 200 characters")
    ] = ""
    pickle: Annotated[
        bool, Meta(description="store values with pickle instead of the msgpack round-trip format")
    ] = False
    connect_timeout: Annotated[Seconds, Meta(description="seconds to connect")] = 0.5
    timeout: Annotated[Seconds, Meta(description="seconds to wait for each reply")] = 0.5
    retry_interval: Annotated[
        Seconds, Meta(description="seconds a server that did not answer is set aside (calls fail at once)")
    ] = 1.0
    max_connections: Annotated[
        Count | None, Meta(description="size of the connection pool (none: redis-py's default)")
    ] = None


class MemcachedSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A cache on one or more memcached servers (``type: memcached``)."""

    type: Literal["memcached"] = "memcached"
    hosts: Annotated[Addresses, Meta(description="'host:port' of each server")]
    prefix: Annotated[
        str, Meta(description="prepended to every key; printable ASCII, no spaces, at most 200 characters")
    ] = ""
    pickle: Annotated[
        bool, Meta(description="store values with pickle instead of the msgpack round-trip format")
    ] = False
    connect_timeout: Annotated[Seconds, Meta(description="seconds to connect")] = 0.5
    timeout: Annotated[Seconds, Meta(description="seconds to wait for each reply")] = 0.5
    retry_interval: Annotated[
        Seconds, Meta(description="seconds a server that failed stays out of the ring")
    ] = 30.0
    max_connections: Annotated[Count | None, Meta(description="connections per server (none: unbounded)")] = (
        None
    )
    max_value_size: Annotated[
        Count,
        Meta(
            description="largest encoded value in bytes; memcached's default item limit is 1 MiB with key and header"
        ),
    ] = 1024 * 1024 - 512


CacheSettings = Union[MemorySettings, RedisSettings, MemcachedSettings]  # noqa: UP007 (a runtime alias)
"""The settings of one entry of the ``cache:`` section."""

SETTINGS: dict[str, type[CacheSettings]] = {
    "memory": MemorySettings,
    "redis": RedisSettings,
    "memcached": MemcachedSettings,
}
"""The schema of each cache type, by the ``type`` that selects it."""

_FACTORIES: dict[type[Any], Callable[..., Cache]] = {
    MemorySettings: MemoryCache,
    RedisSettings: RedisCache,
    MemcachedSettings: MemcachedCache,
}


class SectionError(ValueError):
    """A mistake in the ``cache:`` section.

    ``key`` is the dotted path of the faulty key inside the section (``"main.timeout"``,
    ``"main.hosts[1]"``, ``""`` for the whole section), ``problem`` what is wrong with it;
    ``str(exc)`` is ``"cache.<key>: <problem>"``.
    """

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"cache.{key}: {problem}" if key else f"cache: {problem}")


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


# What a key without a default holds, for the message that says it is missing.
_WANTED = {"hosts": "a list of 'host:port' strings"}

_AT = re.compile(r" - at `\$(.*)`$")


def _converted(name: str, entry: Mapping[str, Any], schema: type[CacheSettings]) -> CacheSettings:
    try:
        settings: CacheSettings = msgspec.convert(entry, schema, strict=False)
        return settings
    except msgspec.ValidationError as exc:
        text = str(exc)
        at = _AT.search(text)
        path = at.group(1) if at else ""
        problem = text[: at.start()] if at else text
        missing = re.match(r"Object missing required field `(\w+)`", problem)
        if missing:
            field = missing.group(1)
            raise SectionError(
                f"{name}.{field}", f"missing: expected {_WANTED.get(field, 'a value')}"
            ) from None
        value: Any = entry
        for part in re.findall(r"\.(\w+)|\[(\d+)\]", path):
            try:
                value = value[part[0]] if part[0] else value[int(part[1])]
            except (LookupError, TypeError):
                break
        # msgspec says "Expected `float`, got `str`": name the value instead of its type.
        problem = re.sub(r", got `[^`]*`$", "", problem).replace("`", "")
        raise SectionError(f"{name}{path}", f"{problem[:1].lower()}{problem[1:]}, got {value!r}") from None


def _check_address(key: str, address: str, default_port: int) -> None:
    try:
        split_address(address, default_port)
    except ValueError as exc:
        raise SectionError(key, str(exc)) from None


def _check_entry(name: str, entry: Any) -> CacheSettings:
    if entry is None:  # "name:" with nothing under it
        entry = {}
    if not isinstance(entry, Mapping):
        raise SectionError(name, f"expected a mapping with a type, got {entry!r}")
    kind = entry.get("type", "memory")  # a cache without a type is a memory cache
    if kind not in SETTINGS:
        raise SectionError(
            f"{name}.type",
            f"expected one of {', '.join(sorted(SETTINGS))}, got {kind!r}{_suggest(str(kind), list(SETTINGS))}",
        )
    schema = SETTINGS[kind]
    fields = list(schema.__struct_fields__)
    for key in entry:
        if key not in fields:
            hint = _suggest(str(key), fields) or f" (the keys of a {kind} cache: {', '.join(sorted(fields))})"
            raise SectionError(f"{name}.{key}", f"not an option of a {kind} cache{hint}")
    settings = _converted(name, entry, schema)
    try:
        check_prefix(settings.prefix)
    except ValueError as exc:
        raise SectionError(f"{name}.prefix", str(exc)) from None
    if isinstance(settings, RedisSettings):
        given = [k for k in ("host", "url", "cluster", "sentinel") if getattr(settings, k) is not None]
        if len(given) != 1:
            raise SectionError(
                name,
                "a redis cache needs exactly one of host ('host:port') or url or cluster or sentinel"
                + (f"; got {' and '.join(given)}" if given else ""),
            )
        if (settings.sentinel is None) != (settings.service is None):
            key = f"{name}.service" if settings.service is None else f"{name}.sentinel"
            raise SectionError(key, "sentinel and service go together: the Sentinels, and the master's name")
        if settings.host is not None:
            _check_address(f"{name}.host", settings.host, 6379)
        if settings.url is not None and not settings.url.startswith(("redis://", "rediss://", "unix://")):
            raise SectionError(
                f"{name}.url", f"must start with redis://, rediss:// or unix://, got {settings.url!r}"
            )
        for option in ("cluster", "sentinel"):
            for index, address in enumerate(getattr(settings, option) or ()):
                _check_address(f"{name}.{option}[{index}]", address, 6379)
    elif isinstance(settings, MemcachedSettings):
        for index, address in enumerate(settings.hosts):
            _check_address(f"{name}.hosts[{index}]", address, 11211)
            if address in settings.hosts[:index]:
                raise SectionError(f"{name}.hosts[{index}]", f"{address!r} is listed twice")
    return settings


def check(section: Mapping[str, Any], reserved: Callable[[str], bool]) -> dict[str, CacheSettings]:
    """The typed settings of every entry of *section*, or SectionError for the first mistake."""
    if not isinstance(section, Mapping):
        raise SectionError("", f"expected a mapping of cache names to settings, got {type(section).__name__}")
    checked: dict[str, CacheSettings] = {}
    for name, entry in section.items():
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_") or reserved(name):
            raise SectionError(
                str(name),
                "the name must be a Python identifier, not starting with '_', that is not already a "
                "name in kata.cache (it becomes kata.cache.<name>)",
            )
        checked[name] = _check_entry(name, entry)
    return checked


def build(settings: Mapping[str, CacheSettings]) -> dict[str, Cache]:
    """One instance per checked entry; no server is contacted (clients connect on first use)."""
    built: dict[str, Cache] = {}
    try:
        for name, entry in settings.items():
            options = msgspec.structs.asdict(entry)
            del options["type"]
            cache = _FACTORIES[type(entry)](**options)
            cache.name = name
            built[name] = cache
    except BaseException:
        for cache in built.values():
            cache.close()
        raise
    return built
