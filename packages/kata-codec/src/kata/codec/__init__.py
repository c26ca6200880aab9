"""The value rules that every kata package follows when a value crosses a boundary.

Two encodings live here so that response bodies, ``kata.db.serialize`` and cached values
agree on what a value is:

* the *wire* encoding (:func:`to_json`, :func:`to_msgpack` and their decoders) that clients
  read: dict, list, tuple, str, int, float, bool and None as themselves; bytes (msgpack only);
  datetime, date and time as ISO 8601 strings; Decimal and UUID as strings; any object with a
  ``to_dict()`` method as that mapping (a :class:`Record` without a Python call per instance);
* the *round-trip* encoding (:func:`dumps`, :func:`loads`) that caches store: the same values
  come back equal and of the same type, and instances of :func:`register`-ed classes come back
  as instances of their class. Loading runs no code beyond the registered ``from_dict``
  constructors, so tampered cache contents cannot execute anything.
"""

from kata.codec.errors import DecodeError
from kata.codec.record import Record
from kata.codec.roundtrip import dumps, loads, register
from kata.codec.wire import from_json, from_msgpack, to_json, to_msgpack

__all__ = [
    "DecodeError",
    "Record",
    "dumps",
    "from_json",
    "from_msgpack",
    "loads",
    "register",
    "to_json",
    "to_msgpack",
]
