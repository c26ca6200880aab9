"""Single flight: threads of one process that miss the same key wait for one pull."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any


class Flight:
    """One pull in progress; every thread that misses one of its keys waits for its outcome."""

    __slots__ = ("_done", "_error", "_values")

    def __init__(self) -> None:
        self._done = threading.Event()
        self._values: dict[str, Any] = {}
        self._error: BaseException | None = None

    def finish(self, values: dict[str, Any]) -> None:
        """Publish the values found, by cache key; a key left out was not found."""
        self._values = values
        self._done.set()

    def fail(self, error: BaseException) -> None:
        """Hand *error* to the waiters, unless the flight has already finished."""
        if not self._done.is_set():
            self._error = error
            self._done.set()

    def wait(self) -> dict[str, Any]:
        """Block until the flight ends; return its values or raise the pull's exception."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._values


class Flights:
    """The flights in progress in this process, by cache and key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[tuple[int, str], Flight] = {}

    def join(self, cache: object, keys: Iterable[str]) -> tuple[Flight, list[str], dict[str, Flight]]:
        """Take the lead for the *keys* nobody is pulling yet.

        Returns a new flight, the keys it leads, and the flights already pulling the others.
        The caller must :meth:`leave` with the keys it leads once their values are stored.
        """
        flight = Flight()
        mine: list[str] = []
        theirs: dict[str, Flight] = {}
        space = id(cache)
        with self._lock:
            for key in keys:
                other = self._by_key.get((space, key))
                if other is None:
                    self._by_key[(space, key)] = flight
                    mine.append(key)
                else:
                    theirs[key] = other
        return flight, mine, theirs

    def leave(self, cache: object, keys: Iterable[str], flight: Flight) -> None:
        """Forget *flight* for *keys*: later misses pull again (or, by then, hit the cache)."""
        space = id(cache)
        with self._lock:
            for key in keys:
                if self._by_key.get((space, key)) is flight:
                    del self._by_key[(space, key)]


flights = Flights()
