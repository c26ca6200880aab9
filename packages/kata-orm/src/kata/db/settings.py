"""The ``database`` configuration section: its keys, their types and defaults."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from psycopg.conninfo import make_conninfo

from kata.db.errors import ConfigurationError

_REQUIRED = ("name", "host", "user")


@dataclass(frozen=True)
class Replica:
    """A streaming replica that serves reads (``database.replicas``); the other connection
    settings (database name, user, password) are the primary's."""

    host: str
    port: int = 5432


@dataclass(frozen=True)
class Settings:
    """The validated ``database`` section, as :func:`kata.db.settings` returns it.

    ``conninfo`` is the libpq connection string for these settings (it contains the password,
    so it is left out of the repr), ready for ``psycopg.connect(settings.conninfo)``.
    """

    name: str
    host: str
    user: str
    port: int = 5432
    password: str | None = field(default=None, repr=False)
    pool_size: int = 10
    protected: bool = False
    prepare: bool = True
    connect_timeout: float = 10.0
    pool_timeout: float = 30.0
    statement_timeout: float | None = None
    max_idle: float = 600.0
    max_lifetime: float = 3600.0
    replicas: tuple[Replica, ...] = ()
    read_your_writes: float = 2.0

    @property
    def conninfo(self) -> str:
        # libpq takes whole seconds; below 2 it uses 2 anyway.
        return make_conninfo(
            dbname=self.name,
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            connect_timeout=max(2, math.ceil(self.connect_timeout)),
        )


def _string(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"database: {key!r} must be a non-empty string, got {value!r}", key)
    return value


def _integer(key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigurationError(
            f"database: {key!r} must be an integer from {low} to {high}, got {value!r}", key
        )
    return value


def _flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"database: {key!r} must be true or false, got {value!r}", key)
    return value


def _seconds(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ConfigurationError(
            f"database: {key!r} must be a positive number of seconds, got {value!r}", key
        )
    return float(value)


def _password(key: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(f"database: {key!r} must be a string, got a {type(value).__name__}", key)
    return value or None


def _replicas(key: str, value: Any) -> tuple[Replica, ...]:
    if not isinstance(value, (list, tuple)):
        raise ConfigurationError(f"database: {key!r} must be a list of {{host, port}}, got {value!r}", key)
    found = []
    for index, entry in enumerate(value):
        where = f"{key}[{index}]"
        if not isinstance(entry, Mapping):
            raise ConfigurationError(
                f"database: {where!r} must be a mapping with host and port, got {entry!r}", where
            )
        unknown = sorted(set(entry) - {"host", "port"})
        if unknown:
            raise ConfigurationError(
                f"database: {where + '.' + str(unknown[0])!r} is not a replica key (known keys: host, port)",
                f"{where}.{unknown[0]}",
            )
        if "host" not in entry:
            raise ConfigurationError(f"database: missing required key {where + '.host'!r}", f"{where}.host")
        host = _string(f"{where}.host", entry["host"])
        port = _integer(f"{where}.port", entry.get("port", 5432), 1, 65535)
        found.append(Replica(host, port))
    return tuple(found)


def _window(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        raise ConfigurationError(
            f"database: {key!r} must be a number of seconds, 0 or more, got {value!r}", key
        )
    return float(value)


def _optional_seconds(key: str, value: Any) -> float | None:
    return None if value is None else _seconds(key, value)


_CHECKS = {
    "name": _string,
    "host": _string,
    "user": _string,
    "port": lambda key, value: _integer(key, value, 1, 65535),
    "password": _password,
    "pool_size": lambda key, value: _integer(key, value, 1, 10_000),
    "protected": _flag,
    "prepare": _flag,
    "connect_timeout": _seconds,
    "pool_timeout": _seconds,
    "statement_timeout": _optional_seconds,
    "replicas": _replicas,
    "read_your_writes": _window,
    "max_idle": _seconds,
    "max_lifetime": _seconds,
}


def parse(section: Mapping[str, Any]) -> Settings:
    """Validate a ``database`` section; raise ConfigurationError naming the first bad key."""
    if not isinstance(section, Mapping):
        raise ConfigurationError(f"database: expected a mapping of settings, got a {type(section).__name__}")
    values: dict[str, Any] = {}
    for key, value in section.items():
        check = _CHECKS.get(key)
        if check is None:
            known = ", ".join(sorted(_CHECKS))
            raise ConfigurationError(f"database: unknown key {key!r} (known keys: {known})", str(key))
        values[key] = check(key, value)
    for key in _REQUIRED:
        if key not in values:
            raise ConfigurationError(f"database: missing required key {key!r}", key)
    return Settings(**values)
