"""The memory type: LRU bound, sweeping of expired entries, threads."""

from __future__ import annotations

import threading
import time

import pytest

import kata.cache


def test_max_size_evicts_the_least_recently_used() -> None:
    cache = kata.cache.MemoryCache(max_size=3)
    cache.set_multi({"a": 1, "b": 2, "c": 3})
    assert cache.get("a") == 1  # a is now the most recently used
    cache.set("d", 4)
    assert cache.get_multi(["a", "b", "c", "d"]) == {"a": 1, "c": 3, "d": 4}
    cache.set_multi({"e": 5, "f": 6})
    assert len(cache) == 3
    assert cache.get_multi(["a", "c", "d", "e", "f"]) == {"d": 4, "e": 5, "f": 6}


@pytest.mark.parametrize("max_size", [0, -1, 1.5, True, "10"])
def test_bad_max_size(max_size: object) -> None:
    with pytest.raises(ValueError, match="max_size"):
        kata.cache.MemoryCache(max_size=max_size)  # type: ignore[arg-type]


def test_expired_entries_nobody_reads_are_swept() -> None:
    cache = kata.cache.MemoryCache()
    cache.set_multi({f"old{i}": i for i in range(2000)}, expire=0.05)
    time.sleep(0.1)
    for i in range(2100):
        cache.set(f"new{i}", i)
    assert len(cache) == 2100


def test_threads_share_one_instance() -> None:
    cache = kata.cache.MemoryCache(max_size=10_000)  # LRU bookkeeping on, nothing evicted
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(500):
                cache.set(f"{n}:{i}", i, expire=60)
                assert cache.get_multi([f"{n}:{i}"]) == {f"{n}:{i}": i}
                cache.add(f"shared:{i}", n)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(cache) == 8 * 500 + 500
    assert (cache.stats.hits, cache.stats.misses) == (4000, 0)
