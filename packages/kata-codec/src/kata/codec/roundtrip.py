"""The round-trip encoding that caches store: values come back equal and of the same type."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Protocol, TypeVar
from uuid import UUID

import msgpack

from kata.codec.errors import DecodeError

# Extension type codes. They are part of the stored format: never renumber one.
_DATETIME = 1
_DATE = 2
_TIME = 3
_DECIMAL = 4
_UUID = 5
_TUPLE = 6
_OBJECT = 7


class RoundTrip(Protocol):
    """What a class needs to be stored in a cache and come back as itself."""

    def to_dict(self) -> Mapping[str, Any]: ...

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any: ...


T = TypeVar("T", bound=type)

_name_by_class: dict[type, str] = {}
_class_by_name: dict[str, Callable[[dict[str, Any]], Any]] = {}


def register(cls: T, name: str | None = None) -> T:
    """Let instances of *cls* round-trip through :func:`dumps` and :func:`loads`.

    *cls* needs a ``to_dict()`` method and a ``from_dict(mapping)`` classmethod. It is stored
    under *name*, by default ``module.QualName``; registering another class under the same
    name replaces the first. Usable as a class decorator. ``kata.db.Object`` registers each
    model class when it is defined.
    """
    if not callable(getattr(cls, "to_dict", None)) or not callable(getattr(cls, "from_dict", None)):
        raise TypeError(f"{cls.__qualname__} needs to_dict() and a from_dict() classmethod to be registered")
    key = name or f"{cls.__module__}.{cls.__qualname__}"
    _name_by_class[cls] = key
    _class_by_name[key] = cls.from_dict  # type: ignore[attr-defined]
    return cls


def _ext(value: Any) -> Any:
    kind = type(value)
    if kind is datetime:
        return msgpack.ExtType(_DATETIME, value.isoformat().encode())
    if kind is date:
        return msgpack.ExtType(_DATE, value.isoformat().encode())
    if kind is time:
        return msgpack.ExtType(_TIME, value.isoformat().encode())
    if kind is Decimal:
        return msgpack.ExtType(_DECIMAL, str(value).encode())
    if kind is UUID:
        return msgpack.ExtType(_UUID, value.bytes)
    if kind is tuple:
        return msgpack.ExtType(_TUPLE, _pack(list(value)))
    name = _name_by_class.get(kind)
    if name is not None:
        return msgpack.ExtType(_OBJECT, _pack([name, value.to_dict()]))
    # Subclasses of the built-in types (OrderedDict, IntEnum, StrEnum...) are stored as
    # their base type: they compare equal to it.
    for base in (bool, int, float, str, bytes, dict, list):
        if isinstance(value, base):
            return base(value)
    if callable(getattr(value, "to_dict", None)):
        raise TypeError(
            f"Object of type {kind.__qualname__} cannot be cached: register its class with "
            "kata.codec.register so that it comes back as itself"
        )
    raise TypeError(f"Object of type {kind.__qualname__} cannot be cached")


def _pack(value: Any) -> bytes:
    return msgpack.packb(value, default=_ext, use_bin_type=True, strict_types=True)


def dumps(value: Any) -> bytes:
    """Encode *value* for storage; :func:`loads` returns an equal value of the same type.

    Raises TypeError naming the type of anything that cannot be stored faithfully.
    """
    try:
        return _pack(value)
    except OverflowError as exc:
        raise TypeError(f"Object of type int is out of the storable range: {exc}") from exc


def _unext(code: int, data: bytes) -> Any:
    if code == _DATETIME:
        return datetime.fromisoformat(data.decode())
    if code == _DATE:
        return date.fromisoformat(data.decode())
    if code == _TIME:
        return time.fromisoformat(data.decode())
    if code == _DECIMAL:
        return Decimal(data.decode())
    if code == _UUID:
        return UUID(bytes=data)
    if code == _TUPLE:
        return tuple(_unpack(data))
    if code == _OBJECT:
        name, fields = _unpack(data)
        from_dict = _class_by_name.get(name)
        if from_dict is None:
            raise DecodeError(f"stored object of class {name!r}, which is not registered in this process")
        return from_dict(fields)
    raise DecodeError(f"unknown extension type {code}")


def _unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, ext_hook=_unext, raw=False, strict_map_key=False)


def loads(data: bytes) -> Any:
    """Decode bytes written by :func:`dumps`; raises DecodeError for anything else."""
    try:
        return _unpack(data)
    except DecodeError:
        raise
    except Exception as exc:  # msgpack raises several unrelated types for malformed input
        raise DecodeError(f"undecodable cached value: {exc}") from exc
