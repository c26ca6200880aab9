"""The Simple container on every cache type: the guide's example, hits, None, dirty, bad definitions."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

import kata.cache
import kata.codec
import kata.container


def test_the_guide_example(guide_cache: kata.cache.Cache) -> None:
    computed: list[int] = []

    def some_expensive_thing(foo: int) -> dict[str, int]:
        computed.append(foo)
        return {"foo": foo, "square": foo * foo}

    class Foo(kata.container.Simple):
        def init(self, foo):
            self.foo = foo

        def cache(self):
            return kata.cache.memcached

        def expire(self):
            return 3600

        def key(self):
            return "foo:%s" % self.foo  # noqa: UP031 (as in the guide)

        def pull(self):
            return some_expensive_thing(self.foo)

    assert Foo(5).get() == {"foo": 5, "square": 25}
    assert Foo(5).get() == {"foo": 5, "square": 25}
    assert computed == [5]
    assert kata.cache.memcached.get("foo:5") == {"foo": 5, "square": 25}

    Foo(5).dirty()
    assert kata.cache.memcached.get_multi(["foo:5"]) == {}
    assert Foo(5).get() == {"foo": 5, "square": 25}
    assert computed == [5, 5]


def _simple(cache: Any, pulled: list[Any], value: Any) -> type[kata.container.Simple]:
    class Thing(kata.container.Simple):
        def init(self, name: str) -> None:
            self.name = name

        def cache(self) -> Any:
            return cache

        def expire(self) -> int:
            return 600

        def key(self) -> str:
            return f"thing:{self.name}"

        def pull(self) -> Any:
            pulled.append(self.name)
            return value

    return Thing


def test_only_a_miss_is_pulled_and_costs_one_read_one_write(counted: Any) -> None:
    pulled: list[str] = []
    Thing = _simple(counted, pulled, [1, "two", 3.0])

    assert Thing("a").get() == [1, "two", 3.0]
    assert counted.calls == {"get_multi": 1, "set_multi": 1}
    assert Thing("a").get() == [1, "two", 3.0]
    assert Thing("a").get() == [1, "two", 3.0]
    assert pulled == ["a"]
    assert counted.calls == {"get_multi": 3, "set_multi": 1}


def test_a_pulled_none_is_cached_and_is_a_hit(cache: kata.cache.Cache) -> None:
    pulled: list[str] = []
    Thing = _simple(cache, pulled, None)

    assert Thing("none").get() is None
    assert Thing("none").get() is None
    assert pulled == ["none"]
    assert cache.get_multi(["thing:none"]) == {"thing:none": None}


def test_values_come_back_with_their_types(cache: kata.cache.Cache) -> None:
    value = {
        "when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        "price": Decimal("9.90"),
        "pair": (1, 2),
        "blob": b"\x00\xff",
    }
    Thing = _simple(cache, [], value)

    first = Thing("typed").get()
    again = Thing("typed").get()
    assert first == again == value
    assert type(again["pair"]) is tuple
    assert type(again["price"]) is Decimal


def test_dirty_removes_only_its_own_key(cache: kata.cache.Cache) -> None:
    pulled: list[str] = []
    Thing = _simple(cache, pulled, "v")
    Thing("a").get()
    Thing("b").get()

    Thing("a").dirty()
    Thing("a").dirty()  # nothing left to remove: not an error

    assert cache.get_multi(["thing:a", "thing:b"]) == {"thing:b": "v"}
    Thing("a").get()
    Thing("b").get()
    assert pulled == ["a", "b", "a"]


def test_a_value_that_cannot_be_cached_is_returned_with_a_warning(
    cache: kata.cache.Cache, caplog: pytest.LogCaptureFixture
) -> None:
    pulled: list[str] = []
    Thing = _simple(cache, pulled, {1, 2, 3})

    with caplog.at_level(logging.WARNING, logger="kata.container"):
        assert Thing("set").get() == {1, 2, 3}
        assert Thing("set").get() == {1, 2, 3}

    assert pulled == ["set", "set"]
    assert cache.get_multi(["thing:set"]) == {}
    warnings = [r.getMessage() for r in caplog.records if r.name == "kata.container"]
    # Rate-limited: the second failure within the interval is counted, not logged.
    assert len(warnings) == 1
    assert "Thing" in warnings[0] and "set cannot be cached" in warnings[0]


def test_a_container_without_init_takes_no_arguments(cache: kata.cache.Cache) -> None:
    class Total(kata.container.Simple):
        def cache(self) -> Any:
            return cache

        def key(self) -> str:
            return "total"

        def pull(self) -> int:
            return 42

    assert Total().get() == 42
    with pytest.raises(TypeError, match="Total takes no arguments: define init"):
        Total(5)


def test_missing_methods_are_named() -> None:
    class Empty(kata.container.Simple):
        pass

    with pytest.raises(NotImplementedError, match=r"Empty must define key\(\)"):
        Empty().get()

    class NoCache(kata.container.Simple):
        def key(self) -> str:
            return "k"

    with pytest.raises(NotImplementedError, match=r"NoCache must define cache\(\)"):
        NoCache().get()


@pytest.mark.parametrize("expire", [0, -5, "3600", True, float("inf")])
def test_a_bad_expire_is_refused_before_pulling(expire: Any) -> None:
    pulled: list[str] = []

    class Thing(kata.container.Simple):
        def cache(self) -> Any:
            return kata.cache.MemoryCache()

        def expire(self) -> Any:
            return expire

        def key(self) -> str:
            return "k"

        def pull(self) -> str:
            pulled.append("k")
            return "v"

    with pytest.raises(
        ValueError, match=r"Thing.expire\(\) returned .*; expected None or a positive number of seconds"
    ):
        Thing().get()
    assert pulled == []


def test_a_key_that_is_not_a_str_is_refused() -> None:
    class Thing(kata.container.Simple):
        def cache(self) -> Any:
            return kata.cache.MemoryCache()

        def key(self) -> Any:
            return 5

    with pytest.raises(TypeError, match=r"Thing.key\(\) returned int; expected a str"):
        Thing().get()


def test_an_exception_from_pull_propagates_and_nothing_is_stored(cache: kata.cache.Cache) -> None:
    class Broken(kata.container.Simple):
        def cache(self) -> Any:
            return cache

        def key(self) -> str:
            return "broken"

        def pull(self) -> Any:
            raise LookupError("source unavailable")

    with pytest.raises(LookupError, match="source unavailable"):
        Broken().get()
    assert cache.get_multi(["broken"]) == {}


def test_cache_must_return_a_cache() -> None:
    class Misconfigured(kata.container.Simple):
        def cache(self) -> Any:
            return None

        def key(self) -> str:
            return "k"

    with pytest.raises(TypeError, match=r"Misconfigured.cache\(\) returned NoneType; expected a cache"):
        Misconfigured().get()
