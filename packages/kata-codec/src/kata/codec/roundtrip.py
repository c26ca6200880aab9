"""The round-trip encoding that caches store: values come back equal and of the same type."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import msgpack

from kata.codec.errors import DecodeError

# Extension type codes. They are part of the stored format: never renumber one.
_DATETIME = 1
_DATE = 2
_TIME = 3
_DECIMAL = 4
_UUID = 5
# Tuples and registered objects are stored as an array whose first element is a marker
# extension: [TUPLE, *items] and [OBJECT(name), fields]. Unlike a nested msgpack document in
# an extension's payload, this costs no second encoder or decoder per value.
_TUPLE = 6
_OBJECT = 7


class _Marker:
    """What a marker extension decodes to, until the array it heads is rebuilt.

    ``from_dict`` builds a registered object from its fields; None marks a tuple.
    """

    __slots__ = ("from_dict",)

    def __init__(self, from_dict: Callable[[Any], Any] | None) -> None:
        self.from_dict = from_dict


_TUPLE_EXT = msgpack.ExtType(_TUPLE, b"")
_TUPLE_MARKER = _Marker(None)

T = TypeVar("T", bound=type)

_ext_by_class: dict[type, msgpack.ExtType] = {}
_marker_by_name: dict[bytes, _Marker] = {}


def register(cls: T, name: str | None = None) -> T:
    """Let instances of *cls* round-trip through :func:`dumps` and :func:`loads`.

    *cls* needs a ``to_dict()`` method and a ``from_dict(mapping)`` classmethod. It is stored
    under *name*, by default ``module.QualName``; registering another class under the same
    name replaces the first. Usable as a class decorator. ``kata.db.Object`` registers each
    model class when it is defined.
    """
    if not callable(getattr(cls, "to_dict", None)) or not callable(getattr(cls, "from_dict", None)):
        raise TypeError(f"{cls.__qualname__} needs to_dict() and a from_dict() classmethod to be registered")
    key = (name or f"{cls.__module__}.{cls.__qualname__}").encode()
    _ext_by_class[cls] = msgpack.ExtType(_OBJECT, key)
    _marker_by_name[key] = _Marker(cls.from_dict)  # type: ignore[attr-defined]
    return cls


_BUILTINS: tuple[type[Any], ...] = (int, float, str, bytes, dict, list)


def _ext(value: Any) -> Any:
    kind = type(value)
    marker = _ext_by_class.get(kind)
    if marker is not None:
        return [marker, value.to_dict()]
    if kind is tuple:
        return [_TUPLE_EXT, *value]
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
    # Subclasses of the built-in types (OrderedDict, IntEnum, StrEnum...) are stored as
    # their base type: they compare equal to it.
    for base in _BUILTINS:
        if isinstance(value, base):
            return base(value)
    if callable(getattr(value, "to_dict", None)):
        raise TypeError(
            f"Object of type {kind.__qualname__} cannot be cached: register its class with "
            "kata.codec.register so that it comes back as itself"
        )
    raise TypeError(f"Object of type {kind.__qualname__} cannot be cached")


# A Packer costs far more to build than a small value costs to encode, and is not
# thread-safe: each thread keeps its own.
_local = threading.local()


def dumps(value: Any) -> bytes:
    """Encode *value* for storage; :func:`loads` returns an equal value of the same type.

    Raises TypeError naming the type of anything that cannot be stored faithfully.
    """
    try:
        packer = _local.packer
    except AttributeError:
        packer = _local.packer = msgpack.Packer(default=_ext, use_bin_type=True, strict_types=True)
    try:
        return packer.pack(value)  # type: ignore[no-any-return]
    except OverflowError as exc:
        packer.reset()
        raise TypeError(f"Object of type int is out of the storable range: {exc}") from exc
    except BaseException:
        packer.reset()  # drop what was written before the failure
        raise


def _unext(code: int, data: bytes) -> Any:
    if code == _OBJECT:
        marker = _marker_by_name.get(data)
        if marker is None:
            raise DecodeError(
                f"stored object of class {data.decode(errors='replace')!r}, which is not registered"
            )
        return marker
    if code == _TUPLE:
        return _TUPLE_MARKER
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
    raise DecodeError(f"unknown extension type {code}")


def _rebuild(items: list[Any]) -> Any:
    if items and type(items[0]) is _Marker:
        from_dict = items[0].from_dict
        return tuple(items[1:]) if from_dict is None else from_dict(items[1])
    return items


def loads(data: bytes) -> Any:
    """Decode bytes written by :func:`dumps`; raises DecodeError for anything else."""
    try:
        value = msgpack.unpackb(data, ext_hook=_unext, list_hook=_rebuild, raw=False, strict_map_key=False)
    except DecodeError:
        raise
    except Exception as exc:  # msgpack raises several unrelated types for malformed input
        raise DecodeError(f"undecodable cached value: {str(exc) or type(exc).__name__}") from exc
    if type(value) is _Marker:  # a marker outside the array it must head
        raise DecodeError("undecodable cached value: a type marker outside its array")
    return value
