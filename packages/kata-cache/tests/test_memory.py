"""The memory type: LRU bound, sweeping of expired entries, threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

import kata.cache
import kata.codec


def _in_threads(work: Callable[[int], None], count: int) -> None:
    """Run work(0) .. work(count - 1) each in a thread of its own, and wait for all of them."""
    threads = [threading.Thread(target=work, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


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

    _in_threads(work, 8)
    assert failures == []
    assert len(cache) == 8 * 500 + 500
    assert (cache.stats.hits, cache.stats.misses) == (4000, 0)


def test_hits_and_misses_are_counted_exactly_from_threads() -> None:
    cache = kata.cache.MemoryCache()
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(300):
                # A first read of each value decodes it, later ones copy it; "absent" misses.
                cache.set(f"{n}:{i}", {"n": n, "nested": [i]} if i % 2 else {"n": n})
                assert cache.get(f"{n}:{i}") is not None
                assert len(cache.get_multi([f"{n}:{i}", f"{n}:{i - 1}", "absent"])) == 1 + (i > 0)
        except BaseException as exc:
            failures.append(exc)

    _in_threads(work, 8)
    assert failures == []
    # Per thread: 300 gets and 599 keys of get_multi hit; "absent" and "n:-1" miss.
    assert (cache.stats.hits, cache.stats.misses) == (8 * (300 + 599), 8 * (300 + 1))


class Row:
    """A registered class with scalar attributes, as model rows are."""

    def __init__(self, id: int, name: str) -> None:
        self.id = id
        self.name = name

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Row:
        return cls(data["id"], data["name"])  # type: ignore[arg-type]

    def __eq__(self, other: object) -> bool:
        return type(other) is Row and other.to_dict() == self.to_dict()


kata.codec.register(Row, "tests.memory.Row")


@pytest.mark.parametrize(
    "value",
    [
        Row(1, "a"),
        {"a": 1, "b": "x"},
        [1, 2, "three"],
        {"nested": {"a": [1]}},
        [[1], [2]],
        (1, "a"),
        "text",
        None,
    ],
    ids=["row", "flat-dict", "flat-list", "nested-dict", "nested-list", "tuple", "str", "none"],
)
def test_every_read_is_a_copy_the_cache_does_not_share(value: object) -> None:
    cache = kata.cache.MemoryCache()
    cache.set("k", value)
    first, second = cache.get("k"), cache.get_multi(["k"])["k"]
    assert first == value and second == value and type(first) is type(value)
    if isinstance(value, (dict, list, Row)):
        assert first is not second
        # Changing what one read returned changes neither the cache nor another read.
        if isinstance(value, Row):
            first.name = "changed"
        elif isinstance(value, dict):
            first.clear()
        else:
            first.clear()
        if isinstance(second, dict) and "nested" in second:
            second["nested"]["a"].append(2)
        if isinstance(second, list) and second and isinstance(second[0], list):
            second[0].append(9)
        assert cache.get("k") == value
        assert cache.get_multi(["k"]) == {"k": value}


class Bare:
    """A registered class without __init__, rebuilt from its __dict__ as model rows are."""

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Bare:
        made = cls()
        made.__dict__.update(data)
        return made

    def __eq__(self, other: object) -> bool:
        return type(other) is Bare and other.__dict__ == self.__dict__


kata.codec.register(Bare, "tests.memory.Bare")


@pytest.mark.parametrize("kind", [Bare, Row])
def test_rows_are_fresh_instances_whatever_their_constructor(kind: type) -> None:
    cache = kata.cache.MemoryCache()
    row = kind.from_dict({"id": 1, "name": "a"})  # type: ignore[attr-defined]
    cache.set_multi({"k": row, "j": row})
    reads = [cache.get_multi(["k", "j"])["k"], cache.get("k"), cache.get_multi(["k"])["k"]]
    assert all(type(read) is kind and read == row for read in reads)
    assert len({id(read) for read in reads}) == 3
    reads[0].name = "changed"
    reads[1].extra = True
    assert cache.get("k") == row and cache.get_multi(["k", "j"]) == {"k": row, "j": row}


def test_an_entry_replaced_is_never_served_from_its_old_copy() -> None:
    cache = kata.cache.MemoryCache()
    cache.set("k", Row(1, "old"))
    assert cache.get("k") == Row(1, "old")
    cache.set("k", Row(1, "new"))
    assert cache.get("k") == Row(1, "new")
    assert cache.get_multi(["k", "x"]) == {"k": Row(1, "new")}
    assert (cache.stats.hits, cache.stats.misses) == (3, 1)


def test_keys_that_are_not_str_are_refused() -> None:
    cache = kata.cache.MemoryCache()
    for key in (1, b"k", ["k"]):
        with pytest.raises(TypeError, match="cache keys are str"):
            cache.get_multi([key])  # type: ignore[list-item]
        with pytest.raises(TypeError, match="cache keys are str"):
            cache.set(key, 1)  # type: ignore[arg-type]


def test_mapped_keys_are_the_same_before_and_after_the_memo_fills() -> None:
    from kata.cache._keys import MEMO_SIZE, key_mapper

    mapped = key_mapper("p:")
    keys = [f"key {i}" if i % 2 else f"key:{i}" for i in range(MEMO_SIZE + 10)]
    first = [mapped(key) for key in keys]
    again = [mapped(key) for key in keys]
    assert first == again
    assert first[1] == mapped("key 1") and first[1].startswith("p:key~")
    assert first[0] == "p:key:0"
