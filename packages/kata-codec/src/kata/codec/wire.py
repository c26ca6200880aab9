"""The wire encoding: JSON and msgpack as clients read them.

Decoders accept exactly the values the encoders can write back, in either format, so a
request body echoed as a response never fails to encode: finite floats, integers from -2**63
to 2**64 - 1, str map keys, valid Unicode, at most :data:`MAX_DEPTH` nested arrays and maps,
and no msgpack extension types. Anything else is a :class:`DecodeError` naming the problem.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from enum import Enum
from itertools import chain
from math import isfinite
from operator import attrgetter, methodcaller
from typing import Any, Final
from uuid import UUID
from zoneinfo import ZoneInfo

import msgpack
import orjson

from kata.codec.errors import DecodeError
from kata.codec.record import Record, wire_form

MAX_DEPTH: Final = 254
"""The deepest nesting of arrays and maps that both encoders write (orjson's own limit)."""

_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**64 - 1

# orjson writes datetimes, dates and naive times in C, eight times faster than isoformat(), and
# with the same text except in two cases: a UTC offset with seconds (an LMT zone's +00:09:21),
# which it cuts to minutes, and a tzinfo whose utcoffset() is None, written as +00:00. A body
# that holds an aware datetime is checked for both (_problem) and, where one is found,
# encoded again with isoformat() for every datetime (_EXACT). Dataclasses go to the default
# function, so that they follow the same rule as any other object (to_dict() or a TypeError).
_OPTIONS: Final = orjson.OPT_PASSTHROUGH_DATACLASS
_EXACT: Final = _OPTIONS | orjson.OPT_PASSTHROUGH_DATETIME
# int, float, bool and None keys are written as JSON strings, as the standard library does.
# orjson does so only with this option, which makes every map slower (measured: 1,000 small
# dicts in 3.5x the time): it is used only for a value that has such a key.
_NON_STR_KEYS: Final = orjson.OPT_NON_STR_KEYS


def _converter(kind: type) -> Callable[[Any], Any] | None:
    """How values of type *kind* become a value JSON and msgpack have a type for, if they can."""
    if issubclass(kind, (datetime, date, time)):
        return kind.isoformat
    if issubclass(kind, (Decimal, UUID)):
        return str
    if issubclass(kind, Enum):  # orjson writes members as their value: msgpack does the same
        return attrgetter("value")
    if issubclass(kind, Record):
        return wire_form
    to_dict = getattr(kind, "to_dict", None)
    if callable(to_dict):
        return methodcaller("to_dict")
    return None


# The converter of each type met so far: _wire_value runs once per such value (each model
# instance of a result), so it finds it with one lookup.
_converters: dict[type, Callable[[Any], Any]] = {}


def _wire_value(value: Any) -> Any:
    """Map a value that JSON and msgpack have no type for to one they have."""
    convert = _converters.get(type(value))
    if convert is None:
        convert = _converter(type(value))
        if convert is None:
            if isinstance(value, (bytes, bytearray, memoryview)):
                raise TypeError("bytes cannot be encoded as JSON; use the msgpack format for binary data")
            raise TypeError(f"Object of type {type(value).__qualname__} is not serializable")
        _converters[type(value)] = convert
    return convert(value)


# Values that hold neither a float nor a datetime: the walk below passes over them in bulk.
_PLAIN: Final = frozenset({str, int, bool, type(None), date, time, Decimal, UUID})

# How orjson writes an aware datetime: a body without one needs no look at its datetimes.
_AWARE_DATETIME_TEXT: Final = re.compile(rb"T\d\d:\d\d:\d\d(?:\.\d{6})?[+-]\d\d:\d\d\"")

# Zones whose offset is zero at every instant: a datetime in one is written exactly by orjson.
_UTC_KEYS: Final = frozenset(
    {"UTC", "Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "UCT", "Universal", "Zulu"}
)
_tzinfo = attrgetter("tzinfo")


def _whole_minutes(offset: timedelta | None) -> bool:
    return offset is not None and not offset.microseconds and not offset.seconds % 60


def _exact_in_orjson(moments: list[datetime]) -> bool:
    """Whether orjson writes every one of *moments* (exact datetimes) as isoformat() does."""
    zones = set(map(_tzinfo, moments))
    one_zone = len(zones) == 1  # (naive ones among them: a None there)
    zones.discard(None)
    for zone in zones:
        if type(zone) is timezone:
            if not _whole_minutes(zone.utcoffset(None)):
                return False
        elif not (type(zone) is ZoneInfo and zone.key in _UTC_KEYS):
            # A zone's offset depends on the moment: each one is asked (a C call each).
            in_zone = moments if one_zone else [moment for moment in moments if moment.tzinfo is zone]
            if not all(map(_whole_minutes, map(datetime.utcoffset, in_zone))):
                return False
    return True


def _problem(value: Any, floats: bool, datetimes: bool) -> tuple[float | None, bool]:
    """What orjson wrote unfaithfully in the encoding of *value*: the first NaN or infinity
    (written as null), looked for when *floats*, and whether a datetime is written otherwise
    than isoformat() does, looked at when *datetimes*.

    The walk goes one nesting level at a time and handles each type met on a level in bulk,
    so that a list of flat rows costs a few C-speed passes rather than a Python loop per value.
    It stops at the first non-finite float.
    """
    inexact = False
    level: list[Any] = [value]
    while level:
        met = set(map(type, level))
        below: list[Any] = []
        for kind in met - _PLAIN:
            members: list[Any] = level if len(met) == 1 else [item for item in level if type(item) is kind]
            if kind is datetime:
                if datetimes and not _exact_in_orjson(members):
                    inexact, datetimes = True, False  # one is enough: all are written again
            elif issubclass(kind, float):
                if floats and not all(map(isfinite, members)):
                    return next(float(number) for number in members if not isfinite(number)), inexact
            elif issubclass(kind, dict):
                below.extend(chain.from_iterable(map(dict.values, members)))
            elif issubclass(kind, (list, tuple)):
                below.extend(chain.from_iterable(members))
            else:
                convert = _converters.get(kind) or _converter(kind)
                if convert is not None:  # an object written as its to_dict()
                    below.extend(map(convert, members))
        level = below
    return None, inexact


def to_json(value: Any) -> bytes:
    """Encode *value* as compact UTF-8 JSON.

    Raises TypeError naming the type of a value that has no JSON form (and for a str with a
    lone surrogate, an int beyond 64 bits, or nesting deeper than :data:`MAX_DEPTH`), and
    ValueError for NaN and infinities, which JSON cannot represent.
    """
    try:
        # Most bodies hold no other object than model instances (Records): orjson reaches
        # their attributes through C calls alone. Anything else fails this attempt at its
        # first odd value, and the second one follows every rule.
        body = orjson.dumps(value, default=wire_form, option=_OPTIONS)
    except orjson.JSONEncodeError:
        if type(value) is list and value and isinstance(value[0], Record):
            # Model instances with a value orjson has no type for (a Decimal column, say):
            # their attributes first, by C calls, so that the second attempt calls Python for
            # those values alone and not for each instance too (1,000 rows: 0.2 ms less).
            try:
                value = list(map(wire_form, value))
            except AttributeError:
                pass  # not all Records: the second attempt converts each as it meets it
        body = _dumps(value, _OPTIONS)
    # orjson writes NaN and infinities as null: most bodies hold no null at all and need no
    # further look. Most hold no aware datetime either. A one-byte test runs at memchr's
    # speed, where a search for "null" runs at 0.5 ns a byte (its skip table takes digits
    # and commas for letters of "null"): a body without an "l" or a "T" skips that search.
    floats = b"l" in body and b"null" in body
    datetimes = b"T" in body and _AWARE_DATETIME_TEXT.search(body) is not None
    if floats or datetimes:
        bad, inexact = _problem(value, floats, datetimes)
        if bad is not None:
            raise ValueError(f"Out of range float values are not JSON compliant: {bad!r}")
        if inexact:  # every datetime is written by isoformat() instead
            body = _dumps(value, _EXACT)
    return body


def _dumps(value: Any, options: int) -> bytes:
    """orjson's encoding of *value* with every rule of _wire_value, and non-str keys."""
    while True:
        try:
            return orjson.dumps(value, default=_wire_value, option=options)
        except orjson.JSONEncodeError as exc:
            # orjson wraps what _wire_value (or a to_dict() method) raised: give the caller
            # that error itself.
            if exc.__cause__ is not None:
                raise exc.__cause__ from None
            if str(exc).startswith("Dict key must be str") and not options & _NON_STR_KEYS:
                options |= _NON_STR_KEYS
            elif not options & orjson.OPT_PASSTHROUGH_DATETIME:
                # orjson refuses a time with a tzinfo, which isoformat() writes. Its other
                # errors (a lone surrogate, an int beyond 64 bits, too deep a nesting) are
                # TypeErrors that the same attempt raises again.
                options |= orjson.OPT_PASSTHROUGH_DATETIME
            else:
                raise


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


# orjson decodes integers beyond 64 bits as floats, silently. A body with a run of 19 digits
# or more may hold one; only such bodies are parsed a second time, by the standard library,
# which keeps integers exact (a false alarm, such as digits in a string, costs that time only).
_LONG_DIGITS: Final = re.compile(rb"\d{19}")


def _exact_int(text: str) -> int:
    number = int(text)
    if not _INT_MIN <= number <= _INT_MAX:
        raise DecodeError(
            f"invalid JSON: the integer {text[:30]}{'...' if len(text) > 30 else ''} is out of range"
        )
    return number


def _too_deep(value: Any) -> bool:
    """Whether *value* nests arrays and maps deeper than MAX_DEPTH."""
    level: list[Any] = [value]
    for _ in range(MAX_DEPTH):
        level = [
            child
            for item in level
            if type(item) is list or type(item) is dict
            for child in (item.values() if type(item) is dict else item)
            if type(child) is list or type(child) is dict
        ]
        if not level:
            return False
    return True


def from_json(data: bytes | str) -> Any:
    """Decode JSON text; raises DecodeError with the decoder's message.

    Refused, since :func:`to_json` could not write them back: NaN, Infinity and numbers too
    large for a float (``1e999``), lone surrogates (``"\\ud800"``), integers outside
    -2**63 .. 2**64 - 1, and nesting deeper than :data:`MAX_DEPTH`.
    """
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"invalid JSON: {exc}") from None
    raw = data if isinstance(data, bytes) else data.encode()
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _too_deep(value):
        raise DecodeError(f"invalid JSON: arrays and objects nest more than {MAX_DEPTH} deep")
    if _LONG_DIGITS.search(raw) is not None:
        value = json.loads(raw, parse_int=_exact_int)
    return value


def _check_msgpack(value: Any, binary: bool) -> None:
    """Raise DecodeError for what the wire encoders could not write back."""
    level: list[Any] = [value]
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH + 1:
            raise DecodeError(f"invalid msgpack: arrays and maps nest more than {MAX_DEPTH} deep")
        nested = []
        for item in level:
            if type(item) is dict:
                for key in item:
                    if type(key) is not str:
                        raise DecodeError(f"invalid msgpack: map keys must be str, not {type(key).__name__}")
                items = item.values()
            else:
                items = item
            for child in items:
                kind = type(child)
                if kind is list or kind is dict:
                    nested.append(child)
                elif kind is float:
                    if child - child != 0.0:
                        raise DecodeError(f"invalid msgpack: {child} is not a finite number")
                elif kind is bytes:
                    if not binary:
                        raise DecodeError(
                            "invalid msgpack: bin values are not accepted here (the response has no binary type)"
                        )
                elif kind is msgpack.Timestamp:
                    raise DecodeError(
                        "invalid msgpack: Timestamp extension values are not accepted: send date and time "
                        "as an ISO 8601 string"
                    )
        level = nested


def _refuse_ext(code: int, data: bytes) -> Any:
    raise DecodeError(f"invalid msgpack: extension type {code} is not accepted")


def from_msgpack(data: bytes, *, binary: bool = True) -> Any:
    """Decode one msgpack document; raises DecodeError with the decoder's message.

    Refused, since :func:`to_json` or :func:`to_msgpack` could not write them back: map keys
    other than str, extension types (Timestamp included), NaN and infinities, and nesting
    deeper than :data:`MAX_DEPTH`; bin values too when *binary* is false (for a body whose
    answer is JSON, which has no binary type).
    """
    try:
        value = msgpack.unpackb(data, raw=False, ext_hook=_refuse_ext)
    except DecodeError:
        raise
    except Exception as exc:  # msgpack raises several unrelated types for malformed input
        raise DecodeError(f"invalid msgpack: {str(exc) or type(exc).__name__}") from None
    _check_msgpack([value], binary)
    return value
