"""The wire encoding: JSON and msgpack as clients read them."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
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


def _json_encoder() -> Callable[[Any], str]:
    # JSONEncoder.encode builds a new C encoder on every call, which costs more than
    # encoding a small body; the C encoder is built once here instead. Circular references
    # are not tracked (that needs per-call state): they end in RecursionError.
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the C accelerator
        return json.JSONEncoder(
            ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_wire_value
        ).encode
    chunks = make(None, _wire_value, json.encoder.encode_basestring, None, ":", ",", False, False, False)
    return lambda value: "".join(chunks(value, 0))


_json_text = _json_encoder()


def to_json(value: Any) -> bytes:
    """Encode *value* as compact UTF-8 JSON.

    Raises TypeError naming the type of a value that has no JSON form, and ValueError for
    NaN and infinities, which JSON cannot represent.
    """
    return _json_text(value).encode()


# A Packer costs more to build than a small body costs to encode, and is not thread-safe:
# each thread keeps its own.
_local = threading.local()


def to_msgpack(value: Any) -> bytes:
    """Encode *value* as msgpack (bytes as bin, str as str).

    Raises TypeError naming the type of a value that has no msgpack form.
    """
    try:
        packer = _local.packer
    except AttributeError:
        packer = _local.packer = msgpack.Packer(default=_wire_value, use_bin_type=True)
    try:
        return packer.pack(value)  # type: ignore[no-any-return]
    except BaseException:
        packer.reset()  # drop what was written before the failure
        raise


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def from_json(data: bytes | str) -> Any:
    """Decode JSON text; raises DecodeError with the decoder's message.

    NaN and Infinity are refused, as :func:`to_json` refuses them.
    """
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except (ValueError, TypeError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError: ValueError
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
