"""The ``database`` configuration section: one typed schema (:class:`Settings`) and its check.

msgspec declares the keys, their types, ranges and defaults once; ``msgspec.convert`` with
``strict=False`` also turns the text of ``${VAR}`` values into the key's type (``port: "5432"``,
``statement_timeout: "0.5"``, ``prepare: "false"``). It is a maintained C library, so checking a
section costs microseconds.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from typing import Annotated, Any

import msgspec
from msgspec import Meta
from psycopg.conninfo import make_conninfo

from kata.db.errors import ConfigurationError

Text = Annotated[str, Meta(min_length=1)]
Port = Annotated[int, Meta(ge=1, le=65535)]
# Positive and finite (msgspec's bounds must be finite: a century of seconds stands for that).
Seconds = Annotated[float, Meta(gt=0, le=100 * 365 * 86400)]


class Replica(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A streaming replica that serves reads (``database.replicas``); the other connection
    settings (database name, user, password) are the primary's."""

    host: Annotated[Text, Meta(description="host name or address of the replica")]
    port: Annotated[Port, Meta(description="its port")] = 5432


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The ``database`` section, checked, as :func:`kata.db.settings` returns it.

    ``conninfo`` is the libpq connection string for these settings (it contains the password,
    so the repr leaves the password out), ready for ``psycopg.connect(settings.conninfo)``.
    """

    name: Annotated[Text, Meta(description="database name")]
    host: Annotated[Text, Meta(description="host name or address, or the directory of a Unix socket")]
    user: Annotated[Text, Meta(description="role to connect as")]
    port: Annotated[Port, Meta(description="server port")] = 5432
    password: Annotated[
        str | None, Meta(description="none or empty: trust, peer or .pgpass authentication")
    ] = None
    pool_size: Annotated[int, Meta(ge=1, le=10_000, description="connections the pool keeps open")] = 10
    protected: Annotated[bool, Meta(description="kata.schema.reset refuses to drop this database")] = False
    prepare: Annotated[bool, Meta(description="let the server prepare statements that repeat")] = True
    connect_timeout: Annotated[
        Seconds, Meta(description="seconds to wait for the server when connecting")
    ] = 10.0
    pool_timeout: Annotated[
        Seconds, Meta(description="seconds a call waits for a pooled connection when all are lent out")
    ] = 30.0
    statement_timeout: Annotated[
        Seconds | None, Meta(description="seconds a statement may run; none: no limit")
    ] = None
    max_idle: Annotated[
        Seconds, Meta(description="seconds a pooled connection may sit unused before it is replaced")
    ] = 600.0
    max_lifetime: Annotated[Seconds, Meta(description="seconds before a pooled connection is replaced")] = (
        3600.0
    )
    replicas: Annotated[tuple[Replica, ...], Meta(description="streaming replicas that serve reads")] = ()
    read_your_writes: Annotated[
        float,
        Meta(
            ge=0, le=100 * 365 * 86400, description="seconds a thread reads from the primary after it writes"
        ),
    ] = 2.0

    def __post_init__(self) -> None:
        if self.password == "":  # an empty ${DB_PASSWORD:-} means no password
            msgspec.structs.force_setattr(self, "password", None)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}" for name in self.__struct_fields__ if name != "password"
        )
        return f"Settings({shown})"

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


_REQUIRED = tuple(field.name for field in msgspec.structs.fields(Settings) if field.required)
_AT = re.compile(r"^(?P<problem>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)


def check(section: Mapping[str, Any]) -> Settings:
    """The ``database`` section *section* (a plain mapping) checked, as :class:`Settings`.

    Text is converted to the key's type. Nothing is opened or changed. A wrong section
    raises ConfigurationError: ``.key`` is the key's path in the section (``"port"``,
    ``"replicas[0].host"``, ``""`` for the whole section), ``.problem`` what is wrong, and the
    message is ``database.<key>: <problem>``.
    """
    if not isinstance(section, Mapping):
        raise ConfigurationError(f"expected a mapping of settings, got {type(section).__name__}", "")
    for key in section:
        if key not in Settings.__struct_fields__:
            raise ConfigurationError(f"unknown key{_suggestion(key, Settings.__struct_fields__)}", str(key))
    missing = [key for key in _REQUIRED if key not in section]
    if missing:
        names = ", ".join(repr(key) for key in missing)
        raise ConfigurationError(f"missing required key{'s' if len(missing) > 1 else ''} {names}", missing[0])
    try:
        return msgspec.convert(section, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise _configuration_error(section, str(exc)) from None


def _suggestion(key: object, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f" (known keys: {', '.join(known)})"


def _configuration_error(section: Mapping[str, Any], message: str) -> ConfigurationError:
    """msgspec's message, with the key path it names as ``.key`` and the refused value."""
    found = _AT.match(message)
    assert found is not None  # the pattern matches any text
    problem, path = found["problem"], (found["path"] or "").lstrip(".")
    unknown = re.match(r"Object contains unknown field `(.*)`$", problem)
    missing = re.match(r"Object missing required field `(.*)`$", problem)
    if unknown or missing:
        name = (unknown or missing)[1]  # type: ignore[index]
        key = f"{path}.{name}" if path else name
        if unknown:
            return ConfigurationError(f"unknown key{_suggestion(name, Replica.__struct_fields__)}", key)
        return ConfigurationError(f"missing required key {name!r}", key)
    problem = re.sub(r", got `\w+`$", "", problem).replace("`", "")
    value = _at(section, path)
    if value is not _NOTHING:
        problem += f", got {value!r}"
    return ConfigurationError(problem[:1].lower() + problem[1:], path)


_NOTHING = object()


def _at(section: Mapping[str, Any], path: str) -> Any:
    """The value at a msgspec path such as ``replicas[0].port`` in *section*."""
    value: Any = section
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        try:
            value = value[int(index)] if index else value[name]
        except (KeyError, IndexError, TypeError):
            return _NOTHING
    return value
