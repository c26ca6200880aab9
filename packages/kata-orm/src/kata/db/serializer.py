"""Encoding query results for clients, with the value rules shared by all of kata."""

from __future__ import annotations

from typing import Any

import kata.codec

_ENCODERS = {"json": kata.codec.to_json, "msgpack": kata.codec.to_msgpack}


def serialize(data: Any, format: str = "json") -> bytes:
    """Encode *data* (an instance, a list of instances, dicts, ...) as JSON or msgpack bytes.

    Instances become their :meth:`~kata.db.Object.to_dict` mapping; datetime and date become
    ISO 8601 strings, Decimal and UUID strings. A value with no encoding raises TypeError
    naming its type; a *format* other than ``'json'`` or ``'msgpack'`` raises ValueError.
    """
    encode = _ENCODERS.get(format)
    if encode is None:
        raise ValueError(f"unknown serialization format {format!r}: use 'json' or 'msgpack'")
    return encode(data)
