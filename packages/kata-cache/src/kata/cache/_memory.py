"""The in-process cache type."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from time import monotonic

from kata.cache._base import Cache

# (encoded value, monotonic deadline or None)
_Entry = tuple[bytes, "float | None"]


class MemoryCache(Cache):
    """A cache in this process's memory, safe to share between threads.

    Values are stored encoded, exactly as the server types store them, so every ``get``
    returns a fresh object: mutating it never changes what the cache holds, and a value
    that Redis or memcached would refuse is refused here too. Expired entries are never
    returned and are swept as the cache is written to. With ``max_size``, the least recently
    used entries are evicted to keep at most that many.
    """

    def __init__(self, prefix: str = "", max_size: int | None = None, *, pickle: bool = False) -> None:
        super().__init__(prefix, pickle=pickle)
        if max_size is not None and (
            not isinstance(max_size, int) or isinstance(max_size, bool) or max_size < 1
        ):
            raise ValueError(f"max_size must be None or a positive int, not {max_size!r}")
        self.max_size = max_size
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._writes_since_sweep = 0
        self._sweep_after = 1024

    def __len__(self) -> int:
        """The number of entries held, counting expired ones not swept yet."""
        return len(self._entries)

    def ping(self) -> None:
        """Always succeeds: there is no server."""

    def close(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._entries.clear()

    def _live(self, key: str) -> bytes | None:
        # Called with the lock held.
        entry = self._entries.get(key)
        if entry is None:
            return None
        data, deadline = entry
        if deadline is not None and deadline <= monotonic():
            del self._entries[key]
            return None
        if self.max_size is not None:
            self._entries.move_to_end(key)
        return data

    def _fetch_one(self, key: str) -> bytes | None:
        with self._lock:
            return self._live(key)

    def _fetch_many(self, keys: list[str]) -> Mapping[str, bytes]:
        found = {}
        with self._lock:
            for key in keys:
                data = self._live(key)
                if data is not None:
                    found[key] = data
        return found

    def _put(self, key: str, data: bytes, deadline: float | None) -> None:
        # Called with the lock held.
        entries = self._entries
        entries[key] = (data, deadline)
        if self.max_size is not None:
            entries.move_to_end(key)
            while len(entries) > self.max_size:
                entries.popitem(last=False)
        self._writes_since_sweep += 1

    def _sweep(self) -> None:
        # Called with the lock held. A sweep costs the entry count, and the next one waits
        # for as many writes as the entries it left, so the cost per write stays constant
        # while expired entries that nobody reads cannot pile up.
        if self._writes_since_sweep < self._sweep_after:
            return
        now = monotonic()
        for key in [
            k for k, (_, deadline) in self._entries.items() if deadline is not None and deadline <= now
        ]:
            del self._entries[key]
        self._writes_since_sweep = 0
        self._sweep_after = max(len(self._entries), 1024)

    def _store_one(self, key: str, data: bytes, expire: float | None) -> None:
        deadline = None if expire is None else monotonic() + expire
        with self._lock:
            self._put(key, data, deadline)
            self._sweep()

    def _store_many(self, items: dict[str, bytes], expire: float | None) -> None:
        deadline = None if expire is None else monotonic() + expire
        with self._lock:
            for key, data in items.items():
                self._put(key, data, deadline)
            self._sweep()

    def _add_one(self, key: str, data: bytes, expire: float | None) -> bool:
        with self._lock:
            if self._live(key) is not None:
                return False
            self._put(key, data, None if expire is None else monotonic() + expire)
            self._sweep()
            return True

    def _remove_one(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def _remove_many(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)
