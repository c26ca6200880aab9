"""The interface every cache type implements, and the work they share.

:class:`Cache` validates arguments, maps keys, encodes values and keeps the counters; a
backend implements the byte-level primitives (``_fetch_one``, ``_fetch_many``, ``_store_one``,
``_store_many``, ``_add_one``, ``_remove_one``, ``_remove_many``) on stored keys and encoded
values, and wraps its driver's failures in :class:`CacheError`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from pickle import HIGHEST_PROTOCOL
from pickle import dumps as pickle_dumps
from pickle import loads as pickle_loads
from typing import Any

from kata import codec
from kata.cache._errors import CacheError
from kata.cache._keys import check_prefix, key_mapper
from kata.cache._stats import CacheStats

_MISSING: Any = object()


def check_expire(expire: object) -> float | None:
    """Return *expire* if it is None or a positive finite number of seconds; else ValueError."""
    if expire is None:
        return None
    if isinstance(expire, (int, float)) and not isinstance(expire, bool) and 0 < expire < math.inf:
        return expire
    raise ValueError(f"expire must be None or a positive number of seconds, not {expire!r}")


def _pickle_dumps(value: Any) -> bytes:
    try:
        return pickle_dumps(value, HIGHEST_PROTOCOL)
    except Exception as exc:  # pickle raises PicklingError, TypeError or AttributeError
        raise TypeError(f"Object of type {type(value).__qualname__} cannot be cached: {exc}") from exc


class Cache(ABC):
    """A named store of values by str key, the same on every cache type.

    Values follow the round-trip rules of :mod:`kata.codec`: they come back equal and of the
    same type (tuples, datetimes, Decimals, UUIDs, registered classes such as model
    instances). ``None`` is a value like any other: :meth:`get_multi` reports a stored None,
    :meth:`get` cannot tell it from a miss. Any str is a valid key (see ``kata.cache`` for how
    keys are mapped); every key is namespaced by ``prefix``.

    Server failures raise :class:`CacheError`. A value that cannot be encoded raises
    TypeError naming its type before anything is written; an ``expire`` that is not None or
    a positive number of seconds raises ValueError.
    """

    name: str | None
    """The instance's name in the ``cache:`` section, or None when built directly."""

    shared: bool = True
    """Whether other processes read and write the same entries (False for the memory type,
    which holds only what this process stored)."""

    def __init__(self, prefix: str = "", *, pickle: bool = False) -> None:
        self.prefix = check_prefix(prefix)
        self.name = None
        self.stats = CacheStats()
        self._key = key_mapper(prefix)
        self._dumps: Callable[[Any], bytes] = _pickle_dumps if pickle else codec.dumps
        self._loads: Callable[[bytes], Any] = pickle_loads if pickle else codec.loads

    # -- reading ------------------------------------------------------------------------

    def get(self, key: str) -> Any:
        """Return the value stored under *key*, or None when there is none."""
        data = self._fetch_one(self._key(key))
        if data is not None:
            value = self._decode(data)
            if value is not _MISSING:
                self.stats.record(1, 0)
                return value
        self.stats.record(0, 1)
        return None

    def get_multi(self, keys: Iterable[str]) -> dict[str, Any]:
        """Return ``{key: value}`` for the keys that hold a value, in one round trip per server.

        Keys without a value are absent from the result; a stored None is present.
        """
        stored = {self._key(key): key for key in keys}
        if not stored:
            return {}
        found = self._fetch_many(list(stored))
        result = {}
        loads = self._loads
        for stored_key, data in found.items():
            try:
                result[stored[stored_key]] = loads(data)
            except Exception:  # undecodable: a miss, as in _decode
                self.stats.record_error()
        self.stats.record(len(result), len(stored) - len(result))
        return result

    # -- writing ------------------------------------------------------------------------

    def set(self, key: str, value: Any, expire: float | None = None) -> None:
        """Store *value* under *key*, replacing any value, for *expire* seconds (None: no limit)."""
        seconds = check_expire(expire)
        stored_key = self._key(key)
        self._store_one(stored_key, self._dumps(value), seconds)

    def set_multi(self, value_map: Mapping[str, Any], expire: float | None = None) -> None:
        """Store every ``key: value`` of *value_map*, in one round trip per server.

        All values are encoded before anything is sent, so an unencodable value writes nothing.
        """
        seconds = check_expire(expire)
        items = {self._key(key): self._dumps(value) for key, value in value_map.items()}
        if items:
            self._store_many(items, seconds)

    def add(self, key: str, value: Any, expire: float | None = None) -> bool:
        """Store *value* only if *key* holds no value; return whether it was stored.

        Atomic on the server (Redis ``SET NX``, memcached ``add``), so it can serve as a
        lock shared by processes: the caller whose ``add`` returns True owns the key.
        """
        seconds = check_expire(expire)
        stored_key = self._key(key)
        return self._add_one(stored_key, self._dumps(value), seconds)

    def delete(self, key: str) -> None:
        """Remove *key*'s value, if any."""
        self._remove_one(self._key(key))

    def delete_multi(self, keys: Iterable[str]) -> None:
        """Remove the values of all *keys*, in one round trip per server."""
        stored = list({self._key(key): None for key in keys})
        if stored:
            self._remove_many(stored)

    # -- lifecycle ----------------------------------------------------------------------

    @abstractmethod
    def ping(self) -> None:
        """Check that every server answers; raise CacheError naming the one that does not."""

    @abstractmethod
    def close(self) -> None:
        """Close the connections. The instance reconnects if it is used again."""

    # -- what a backend implements ------------------------------------------------------

    @abstractmethod
    def _fetch_one(self, key: str) -> bytes | None: ...

    @abstractmethod
    def _fetch_many(self, keys: list[str]) -> Mapping[str, bytes]: ...

    @abstractmethod
    def _store_one(self, key: str, data: bytes, expire: float | None) -> None: ...

    @abstractmethod
    def _store_many(self, items: dict[str, bytes], expire: float | None) -> None: ...

    @abstractmethod
    def _add_one(self, key: str, data: bytes, expire: float | None) -> bool: ...

    @abstractmethod
    def _remove_one(self, key: str) -> None: ...

    @abstractmethod
    def _remove_many(self, keys: list[str]) -> None: ...

    # -- shared helpers -----------------------------------------------------------------

    def _decode(self, data: bytes) -> Any:
        """The stored value, or _MISSING for bytes that no longer decode (counted as an error).

        A value written by an older release, or of a class this process has not registered,
        is then recomputed by the caller instead of failing every read until it expires.
        """
        try:
            return self._loads(data)
        except Exception:
            self.stats.record_error()
            return _MISSING

    def _failure(self, operation: str, where: str, exc: BaseException) -> CacheError:
        """Count a failed server call and return the CacheError to raise from *exc*."""
        self.stats.record_error()
        label = f"cache {self.name!r}" if self.name else type(self).__name__
        return CacheError(f"{label} ({where}): {operation} failed: {str(exc) or type(exc).__name__}")

    def __repr__(self) -> str:
        name = f" {self.name!r}" if self.name else ""
        return f"<{type(self).__name__}{name} prefix={self.prefix!r}>"
