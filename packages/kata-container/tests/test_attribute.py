"""The Attribute container on every cache type: bulk behaviour, negative caching, bad definitions."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

import kata.cache
import kata.container


def test_the_guide_example_with_pull(guide_cache: kata.cache.Cache) -> None:
    computed: list[int] = []

    def some_expensive_thing(item: int) -> str:
        computed.append(item)
        return f"thing {item}"

    class Bar(kata.container.Attribute):
        def cache(self):
            return kata.cache.memcached

        def key(self, item):
            return "bar:%s" % item  # noqa: UP031 (as in the guide)

        def pull(self, items):
            result = {}
            for item in items:
                result[item] = some_expensive_thing(item)

            return result

    assert Bar([1, 2, 3]).get() == {1: "thing 1", 2: "thing 2", 3: "thing 3"}
    # "If some of those values are in the cache and some aren't, then only the values with misses
    # will be queried."
    assert Bar([1, 2, 3, 4, 5]).get() == {i: f"thing {i}" for i in range(1, 6)}
    assert computed == [1, 2, 3, 4, 5]


def _counting(cache: Any, source: dict[Any, Any], calls: list[list[Any]], **methods: Any) -> type:
    """An Attribute container over *source* that records each pull's items in *calls*."""

    class Lookup(kata.container.Attribute):
        def cache(self) -> Any:
            return cache

        def expire(self) -> int:
            return 600

        def key(self, item: Any) -> str:
            return f"lookup:{item}"

        def pull(self, items: list[Any]) -> dict[Any, Any]:
            calls.append(list(items))
            return {item: source[item] for item in items if item in source}

    for name, method in methods.items():
        setattr(Lookup, name, method)
    return Lookup


def test_only_the_misses_are_pulled_in_one_call(counted: Any) -> None:
    source = {i: {"id": i, "half": i / 2} for i in range(100)}
    calls: list[list[Any]] = []
    Lookup = _counting(counted, source, calls)

    assert Lookup(range(0, 100, 2)).get() == {i: source[i] for i in range(0, 100, 2)}
    assert calls == [list(range(0, 100, 2))]
    assert counted.calls == {"get_multi": 1, "set_multi": 1}

    calls.clear()
    counted.calls.clear()
    assert Lookup(range(100)).get() == source
    assert calls == [list(range(1, 100, 2))]
    assert counted.calls == {"get_multi": 1, "set_multi": 1}

    calls.clear()
    counted.calls.clear()
    assert Lookup(reversed(range(100))).get() == {i: source[i] for i in reversed(range(100))}
    assert calls == []
    assert counted.calls == {"get_multi": 1}


def test_order_follows_the_caller_and_items_are_deduplicated(counted: Any) -> None:
    source = {"b": 2, "a": 1, "c": 3}
    calls: list[list[Any]] = []
    Lookup = _counting(counted, source, calls)

    found = Lookup(["c", "a", "c", "zzz", "b", "a"]).get()

    assert list(found.items()) == [("c", 3), ("a", 1), ("b", 2)]
    assert calls == [["c", "a", "zzz", "b"]]


def test_no_items_cost_nothing(counted: Any) -> None:
    Lookup = _counting(counted, {}, [])

    assert Lookup([]).get() == {}
    Lookup([]).dirty()
    assert counted.calls == {}


def test_dirty_is_one_delete_multi(counted: Any) -> None:
    source = {i: i * i for i in range(10)}
    calls: list[list[Any]] = []
    Lookup = _counting(counted, source, calls)
    Lookup(range(10)).get()
    counted.calls.clear()

    Lookup([1, 2, 3, 2, 1]).dirty()

    assert counted.calls == {"delete_multi": 1}
    assert Lookup(range(10)).get() == source
    assert calls == [list(range(10)), [1, 2, 3]]


def test_missing_items_are_remembered_as_absent(cache: kata.cache.Cache) -> None:
    source = {1: "one", 3: "three"}
    calls: list[list[Any]] = []
    Lookup = _counting(cache, source, calls, absent_expire=lambda self: 1)

    assert Lookup([1, 2, 3, 4]).get() == {1: "one", 3: "three"}
    assert Lookup([1, 2, 3, 4]).get() == {1: "one", 3: "three"}
    assert Lookup([2, 4]).get() == {}
    # Only the first lookup reached the source: 2 and 4 are known to be absent.
    assert calls == [[1, 2, 3, 4]]

    # The cache holds markers for them, which are never handed out as values.
    assert set(cache.get_multi(["lookup:2", "lookup:4"])) == {"lookup:2", "lookup:4"}

    # Once their own expiry has passed, absent items are asked for again, and a new row is found.
    source[2] = "two"
    time.sleep(1.2)
    assert Lookup([1, 2, 3, 4]).get() == {1: "one", 2: "two", 3: "three"}
    assert calls == [[1, 2, 3, 4], [2, 4]]


def test_a_lookup_of_only_absent_items_stores_them_for_their_own_expiry(cache: kata.cache.Cache) -> None:
    calls: list[list[Any]] = []
    Lookup = _counting(cache, {}, calls, absent_expire=lambda self: 1)

    assert Lookup(["ghost"]).get() == {}
    assert Lookup(["ghost"]).get() == {}
    assert calls == [["ghost"]]
    time.sleep(1.2)
    assert Lookup(["ghost"]).get() == {}
    assert calls == [["ghost"], ["ghost"]]


def test_absent_expire_defaults_to_a_minute_or_the_expiry_if_shorter() -> None:
    class Long(kata.container.Attribute):
        def expire(self) -> int:
            return 3600

    class Short(kata.container.Attribute):
        def expire(self) -> int:
            return 5

    assert Long([]).absent_expire() == 60
    assert Short([]).absent_expire() == 5
    assert kata.container.Attribute([]).absent_expire() == 60


def test_unstorable_values_are_returned_and_the_others_stored(
    cache: kata.cache.Cache, caplog: pytest.LogCaptureFixture
) -> None:
    source: dict[Any, Any] = {1: "fine", 2: {"a", "set"}, 3: (1, 2)}
    calls: list[list[Any]] = []
    Lookup = _counting(cache, source, calls)

    with caplog.at_level(logging.WARNING, logger="kata.container"):
        assert Lookup([1, 2, 3]).get() == source
        assert Lookup([1, 2, 3]).get() == source

    assert calls == [[1, 2, 3], [2]]
    assert cache.get_multi(["lookup:1", "lookup:3"]) == {"lookup:1": "fine", "lookup:3": (1, 2)}
    messages = [r.getMessage() for r in caplog.records if r.name == "kata.container"]
    assert len(messages) == 1
    assert "Lookup: values of type set cannot be cached" in messages[0]
    assert "lookup:2" in messages[0]


def test_extra_constructor_arguments_go_to_init(cache: kata.cache.Cache) -> None:
    class Localized(kata.container.Attribute):
        def init(self, language: str) -> None:
            self.language = language

        def cache(self) -> Any:
            return cache

        def key(self, item: Any) -> str:
            return f"word:{self.language}:{item}"

        def pull(self, items: list[Any]) -> dict[Any, Any]:
            return {item: f"{self.language}-{item}" for item in items}

    assert Localized(["a", "b"], "fr").get() == {"a": "fr-a", "b": "fr-b"}
    assert Localized(["a"], language="de").get() == {"a": "de-a"}
    assert Localized(["a", "b"], "fr").items == ["a", "b"]


def test_two_items_with_one_key_are_refused(cache: kata.cache.Cache) -> None:
    Lookup = _counting(cache, {}, [])

    with pytest.raises(ValueError, match=r"Lookup: items 1 and '1' have the same key 'lookup:1'"):
        Lookup([1, 2, "1"]).get()


@pytest.mark.parametrize("items", ["abc", b"abc", 5, None])
def test_items_must_be_a_collection(items: Any) -> None:
    with pytest.raises(TypeError, match="Attribute takes a collection of items"):
        kata.container.Attribute(items)


def test_pull_must_return_a_mapping(cache: kata.cache.Cache) -> None:
    class Listing(kata.container.Attribute):
        def cache(self) -> Any:
            return cache

        def key(self, item: Any) -> str:
            return f"listing:{item}"

        def pull(self, items: list[Any]) -> Any:
            return list(items)

    with pytest.raises(
        TypeError, match=r"Listing.pull\(items\) returned list; expected a dict indexed by item"
    ):
        Listing([1]).get()


def test_neither_attribute_nor_pull_is_named(cache: kata.cache.Cache) -> None:
    class Incomplete(kata.container.Attribute):
        def cache(self) -> Any:
            return cache

        def key(self, item: Any) -> str:
            return f"incomplete:{item}"

    with pytest.raises(NotImplementedError, match=r"Incomplete must define attribute\(\) or pull\(items\)"):
        Incomplete([1]).get()


def test_two_items_with_one_key_are_refused_when_the_key_is_cached(cache: kata.cache.Cache) -> None:
    Lookup = _counting(cache, {1: "one"}, [])
    assert Lookup([1]).get() == {1: "one"}

    with pytest.raises(ValueError, match=r"Lookup: items 1 and '1' have the same key 'lookup:1'"):
        Lookup([1, "1"]).get()


def test_a_lookup_that_finds_every_item_asks_nothing_about_pulling(cache: kata.cache.Cache) -> None:
    asked: list[str] = []

    def bad(name: str) -> Any:
        def method(self: Any) -> Any:
            asked.append(name)
            return -1

        return method

    calls: list[list[Any]] = []
    Lookup = _counting(cache, {1: "one", 2: "two"}, calls)
    Strict = _counting(
        cache,
        {1: "one", 2: "two"},
        calls,
        expire=bad("expire"),
        absent_expire=bad("absent_expire"),
        lock_timeout=bad("lock_timeout"),
    )
    assert Lookup([1, 2]).get() == {1: "one", 2: "two"}
    assert Strict([2, 1]).get() == {2: "two", 1: "one"}
    assert asked == []
    # The first lookup with something to pull checks them, before pulling.
    with pytest.raises(ValueError, match=r"Lookup.absent_expire\(\) returned -1"):
        Strict([1, 3]).get()
    assert asked == ["absent_expire"]
    assert calls == [[1, 2]]
