"""What Simple and Attribute have in common: the methods a subclass defines, and their checks."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, TypeGuard

from kata.cache import Cache, CacheError
from kata.container.absent import Absent
from kata.container.loader import Plan, Reject
from kata.container.logs import warn


class Container:
    """Base of the containers; define :meth:`cache` and, usually, :meth:`expire`."""

    def init(self, *args: Any, **kwargs: Any) -> None:
        """Receive the constructor's arguments; the place to keep what :meth:`key` needs.

        The constructor itself is the container's, so define this instead of ``__init__``.
        Without an ``init`` the container takes no arguments (beyond an Attribute's items).
        """
        if args or kwargs:
            raise TypeError(f"{type(self).__qualname__} takes no arguments: define init() to receive them")

    def cache(self) -> Cache:
        """The cache that holds the values, e.g. ``kata.cache.redis``."""
        raise NotImplementedError(f"{type(self).__qualname__} must define cache()")

    def expire(self) -> float | None:
        """Seconds a stored value lives; None (the default) leaves it to the cache's eviction."""
        return None

    def lock(self) -> Cache | None:
        """A cache to hold cross-process pull locks in, e.g. ``kata.cache.redis``; None by default.

        Threads of one process never pull the same key twice at once. Return a shared cache here
        to extend that to every process using it: the first process to miss a key takes its lock
        (one ``add`` per missed key) and pulls; the others poll the cache until the value is
        stored, or pull it themselves after :meth:`lock_timeout` seconds.
        """
        return None

    def lock_timeout(self) -> float:
        """Seconds a cross-process lock lasts, and how long others wait for its holder; 10."""
        return 10

    def _plan(
        self,
        cache: Cache,
        pull: Callable[[list[str]], Mapping[str, Any]],
        absent_expire: float | None,
        reject: Reject | None,
    ) -> Plan:
        """What pulling and storing need: asked, and checked, only when a lookup misses."""
        owner = type(self).__qualname__
        return Plan(
            owner=type(self),
            cache=cache,
            expire=optional_seconds(owner, "expire", self.expire()),
            absent_expire=absent_expire,
            lock=self.lock(),
            lock_timeout=seconds(owner, "lock_timeout", self.lock_timeout()),
            pull=pull,
            reject=reject,
        )

    @staticmethod
    def _checked(cache: Cache) -> bool:
        """Whether values read from *cache* are checked: a memory cache holds nothing this
        process did not store, so only caches other processes write to are."""
        return bool(getattr(cache, "shared", True))

    def _cache(self) -> Cache:
        cache = self.cache()
        if not callable(getattr(cache, "get_multi", None)):
            raise TypeError(
                f"{type(self).__qualname__}.cache() returned {type(cache).__qualname__}; "
                "expected a cache such as kata.cache.redis"
            )
        return cache

    def _delete(self, keys: list[str]) -> None:
        """One ``delete_multi`` of *keys*; a cache failure is logged, not raised."""
        if not keys:
            return
        cache = self._cache()
        try:
            cache.delete_multi(keys)
        except CacheError as exc:
            warn(
                cache,
                "delete",
                "%s: cache delete failed, stale values stay until they expire: %s",
                type(self).__qualname__,
                exc,
            )


def rejecter(valid: Callable[[str, Any], bool]) -> Reject:
    """The keys of values read from the cache that *valid* (by key and value) refuses, and of
    absence markers.

    An exception raised by *valid* refuses the value: one shaped unlike what the check
    expects is not one the container stored.
    """

    def reject(cached: dict[str, Any]) -> list[str]:
        refused = []
        for key, value in cached.items():
            if type(value) is Absent:  # a marker, never a value to check
                refused.append(key)
                continue
            try:
                if not valid(key, value):
                    refused.append(key)
            except Exception:
                refused.append(key)
        return refused

    return reject


def seconds(owner: str, method: str, value: object) -> float:
    """Check what a method returning a duration returned: a positive number of seconds."""
    if not _positive(value):
        raise ValueError(f"{owner}.{method}() returned {value!r}; expected a positive number of seconds")
    return value


def optional_seconds(owner: str, method: str, value: object) -> float | None:
    """Check what a method returning an expiry returned: None or a positive number of seconds."""
    if value is not None and not _positive(value):
        raise ValueError(
            f"{owner}.{method}() returned {value!r}; expected None or a positive number of seconds"
        )
    return value


def _positive(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < math.inf


def check_key(owner: str, key: object) -> str:
    """Check what ``key()`` returned."""
    if not isinstance(key, str):
        raise TypeError(f"{owner}.key() returned {type(key).__qualname__}; expected a str")
    return key
