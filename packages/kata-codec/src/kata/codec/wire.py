"""The wire encoding: JSON and msgpack as clients read them."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgpack

from kata.codec.errors import DecodeError


def _wire_value(value: Any) -> Any:
    """Map a value that JSON and msgpack have no type for to one they have."""
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (Decimal, UUID)):
        return str(value)
    to_dict = getattr(value, "to_dict", None)
    if to_dict is not None:
        return to_dict()
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError("bytes cannot be encoded as JSON; use the msgpack format for binary data")
    raise TypeError(f"Object of type {type(value).__qualname__} is not serializable")


# Built once: constructing a JSONEncoder per call costs more than encoding a small body.
_json_encode = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_wire_value
).encode


def to_json(value: Any) -> bytes:
    """Encode *value* as compact UTF-8 JSON.

    Raises TypeError naming the type of a value that has no JSON form, and ValueError for
    NaN and infinities, which JSON cannot represent.
    """
    return _json_encode(value).encode()


def to_msgpack(value: Any) -> bytes:
    """Encode *value* as msgpack (bytes as bin, str as str).

    Raises TypeError naming the type of a value that has no msgpack form.
    """
    return msgpack.packb(value, default=_wire_value, use_bin_type=True)


def from_json(data: bytes | str) -> Any:
    """Decode JSON text; raises DecodeError with the decoder's message."""
    try:
        return json.loads(data)
    except (ValueError, TypeError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise DecodeError(f"invalid JSON: {exc}") from exc


def from_msgpack(data: bytes) -> Any:
    """Decode one msgpack document; raises DecodeError with the decoder's message.

    Map keys must be str or bytes, which keeps hostile input from building maps keyed by
    arbitrary objects.
    """
    try:
        return msgpack.unpackb(data, raw=False)
    except Exception as exc:  # msgpack raises several unrelated types for malformed input
        raise DecodeError(f"invalid msgpack: {exc}") from exc
