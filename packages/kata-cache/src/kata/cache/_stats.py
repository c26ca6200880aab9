"""Per-instance hit, miss and error counters."""

from __future__ import annotations

import threading


class CacheStats:
    """Counters of one cache instance since it was created.

    ``hits`` and ``misses`` count keys (a ``get_multi`` of ten keys with three found adds 3
    and 7); ``errors`` counts failed server calls and stored values that could not be decoded
    (which are returned as misses). Updating them costs one uncontended lock per call; the
    memory type counts hits and misses under its own lock instead, which it holds anyway.
    """

    __slots__ = ("_lock", "errors", "hits", "misses")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.errors = 0

    def record(self, hits: int, misses: int) -> None:
        with self._lock:
            self.hits += hits
            self.misses += misses

    def record_error(self) -> None:
        with self._lock:
            self.errors += 1

    def __repr__(self) -> str:
        return f"CacheStats(hits={self.hits}, misses={self.misses}, errors={self.errors})"
