"""Values come back equal, and of the same type, on every cache type."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

import kata.cache
import kata.codec


@kata.codec.register
@dataclass
class Point:
    x: int
    y: int

    def to_dict(self) -> dict[str, Any]:
        return {"x": self.x, "y": self.y}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Point:
        return cls(**data)


class Unregistered:
    def __init__(self, n: int) -> None:
        self.n = n

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unregistered) and other.n == self.n

    def __hash__(self) -> int:
        return self.n


VALUES: list[Any] = [
    "bar",
    "",
    "snowman ☃ and \x00 nul",
    0,
    -(2**63),
    2**64 - 1,
    1.5,
    True,
    False,
    None,
    b"\x00\xffbinary",
    [1, "two", [3.0]],
    (1, (2, "three")),
    {"a": {"b": [1, (2, 3)]}, "when": datetime(2024, 5, 1, 12, 30, 1, 5)},
    {1: "int keys stay ints"},
    datetime(2024, 5, 1, 12, 30, tzinfo=timezone(timedelta(hours=2))),
    date(2024, 2, 29),
    time(23, 59, 59, 999999),
    Decimal("12345678901234567890.000000001"),
    UUID("12345678-1234-5678-1234-567812345678"),
    Point(1, 2),
    [Point(3, 4), {"nested": Point(5, 6)}],
]


@pytest.mark.parametrize("value", VALUES, ids=[f"{type(v).__name__}{i}" for i, v in enumerate(VALUES)])
def test_value_comes_back_equal_and_of_its_type(cache: kata.cache.Cache, value: Any) -> None:
    cache.set("k", value)
    cache.set_multi({"m": value})
    for got in (cache.get("k"), cache.get_multi(["m"])["m"]):
        assert got == value
        assert type(got) is type(value)


def test_stored_none_is_found_by_get_multi(cache: kata.cache.Cache) -> None:
    cache.set("none", None)
    assert cache.get_multi(["none", "missing"]) == {"none": None}
    assert cache.get("none") is None


def test_unserializable_value_raises_type_error_and_writes_nothing(cache: kata.cache.Cache) -> None:
    cache.set("old", 1)
    with pytest.raises(TypeError, match="Unregistered"):
        cache.set("old", Unregistered(2))
    with pytest.raises(TypeError, match="Unregistered"):
        cache.set_multi({"a": 1, "b": Unregistered(2), "c": 3})
    with pytest.raises(TypeError, match="set"):
        cache.add("d", {1, 2})
    assert cache.get_multi(["old", "a", "b", "c", "d"]) == {"old": 1}


def test_pickle_is_an_explicit_opt_in(make_cache: Any) -> None:
    default = make_cache()
    with pytest.raises(TypeError, match="Unregistered"):
        default.set("x", Unregistered(1))
    pickled = make_cache(prefix=default.prefix + "p:", pickle=True)
    pickled.set("x", Unregistered(1))
    pickled.set_multi({"y": {Unregistered(2)}})
    assert pickled.get("x") == Unregistered(1)
    assert pickled.get_multi(["y"]) == {"y": {Unregistered(2)}}


class Boom:
    """Unpickling this runs code: the default serializer must never do it."""

    def __reduce__(self) -> Any:
        return (exec, ("import kata.cache; kata.cache.TAMPERED = True",))


@pytest.mark.parametrize("cache_type", ["redis", "memcached"])  # shared storage to tamper with
def test_default_serializer_runs_no_code_on_load(make_cache: Any) -> None:
    writer = make_cache(pickle=True)
    writer.set("evil", Boom())
    reader = make_cache(prefix=writer.prefix)
    assert reader.get("evil") is None
    assert reader.get_multi(["evil"]) == {}
    assert not hasattr(kata.cache, "TAMPERED")
    assert reader.stats.errors == 2  # an undecodable value is a miss, and counted


def test_values_cannot_be_changed_behind_the_cache(cache: kata.cache.Cache) -> None:
    value = {"list": [1, 2], "point": Point(1, 2)}
    cache.set("v", value)
    value["list"].append(3)
    value["point"].x = 99
    got = cache.get("v")
    assert got == {"list": [1, 2], "point": Point(1, 2)}
    got["list"].append(4)
    got["point"].y = 99
    assert cache.get("v") == {"list": [1, 2], "point": Point(1, 2)}
    assert cache.get("v") is not cache.get("v")


@pytest.mark.parametrize("cache_type", ["redis", "memcached"])  # shared storage to write odd bytes to
def test_an_undecodable_value_among_many_is_a_miss_and_the_others_are_read(make_cache: Any) -> None:
    reader = make_cache()
    # Pickled 5: bytes the default serializer did not write (msgpack reads an empty map, then
    # bytes left over).
    make_cache(prefix=reader.prefix, pickle=True).set("b", 5)
    reader.set_multi({"a": Point(1, 2), "c": [1, "x"], "d": {"k": (3, 4)}})
    assert reader.get_multi(["a", "b", "c", "d"]) == {"a": Point(1, 2), "c": [1, "x"], "d": {"k": (3, 4)}}
    assert (reader.stats.hits, reader.stats.misses, reader.stats.errors) == (3, 1, 1)
    assert reader.get_multi(["a", "c", "d"]) == {"a": Point(1, 2), "c": [1, "x"], "d": {"k": (3, 4)}}
    assert (reader.stats.hits, reader.stats.misses, reader.stats.errors) == (6, 1, 1)
