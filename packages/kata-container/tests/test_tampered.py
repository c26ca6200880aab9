"""Cache entries the container did not write (tampered, stale, forged markers) are misses, pulled and overwritten."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import redis

import kata.cache
import kata.container
import kata.db
from kata.container.absent import Absent


@pytest.fixture
def model(database: Any) -> Iterator[type[kata.db.Object]]:
    with psycopg.connect(database.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE thing (id bigint PRIMARY KEY, name varchar NOT NULL)")
        conn.execute("INSERT INTO thing SELECT i, 'thing ' || i FROM generate_series(1, 5) i")
    kata.db.initialize(database.section)

    class Thing(kata.db.Object):
        __table__ = "thing"

    yield Thing
    kata.db.close()


@pytest.fixture(params=["redis", "memcached"])
def shared(request: pytest.FixtureRequest, key_prefix: str) -> Iterator[kata.cache.Cache]:
    """A cache other processes write to: the only kind whose values a container checks.

    A memory cache holds only what this process stored, so values read from it are not checked
    (absence markers still are).
    """
    found: kata.cache.Cache
    if request.param == "redis":
        found = kata.cache.RedisCache(host=request.getfixturevalue("redis_server").address, prefix=key_prefix)
    else:
        hosts = [server.address for server in request.getfixturevalue("memcached_servers")]
        found = kata.cache.MemcachedCache(hosts=hosts, prefix=key_prefix)
    yield found
    found.close()


def _rows(cache: kata.cache.Cache, model: type[kata.db.Object], pulls: list[list[Any]]) -> type:
    class Rows(kata.container.Attribute):
        def cache(self) -> kata.cache.Cache:
            return cache

        def key(self, item: Any) -> str:
            return f"thing:{item}"

        def attribute(self) -> tuple[Any, str]:
            return model, "id"

        def pull(self, items: list[Any]) -> Any:
            pulls.append(list(items))
            return super().pull(items)

        def valid(self, item: Any, value: Any) -> bool:
            # pull() is overridden only to count calls: keep the default check of attribute().
            return isinstance(value, model) and value.id == item

    return Rows


@pytest.mark.parametrize(
    "planted",
    [
        {"id": 2, "name": "not a row"},  # decodes, but is a dict
        "junk",
        None,
        ["thing 2"],
    ],
    ids=["dict", "str", "none", "list"],
)
def test_a_value_of_the_wrong_type_is_pulled_and_overwritten(
    shared: kata.cache.Cache, model: type[kata.db.Object], planted: Any
) -> None:
    pulls: list[list[Any]] = []
    Rows = _rows(shared, model, pulls)
    assert [row.name for row in Rows([1, 2, 3]).get().values()] == ["thing 1", "thing 2", "thing 3"]
    shared.set("thing:2", planted)

    found = Rows([1, 2, 3]).get()

    assert [type(row) for row in found.values()] == [model] * 3
    assert found[2].name == "thing 2"
    assert pulls == [[1, 2, 3], [2]]
    stored = shared.get("thing:2")
    assert type(stored) is model and stored.id == 2  # overwritten with the real row
    Rows([1, 2, 3]).get()
    assert pulls == [[1, 2, 3], [2]]


def test_another_item_s_row_under_a_key_is_not_served(
    shared: kata.cache.Cache, model: type[kata.db.Object]
) -> None:
    pulls: list[list[Any]] = []
    Rows = _rows(shared, model, pulls)
    rows = Rows([1, 4]).get()
    shared.set("thing:1", rows[4])  # a stale or swapped entry: a real row, of item 4
    assert Rows([1, 4]).get()[1].id == 1
    assert shared.get("thing:1").id == 1
    assert pulls == [[1, 4], [1]]


def test_the_default_check_of_attribute_refuses_wrong_values(
    shared: kata.cache.Cache, model: type[kata.db.Object]
) -> None:
    class Rows(kata.container.Attribute):
        def cache(self) -> kata.cache.Cache:
            return shared

        def key(self, item: Any) -> str:
            return f"plain:{item}"

        def attribute(self) -> tuple[Any, str]:
            return model, "id"

    rows = Rows([1, 2]).get()
    shared.set_multi({"plain:1": {"id": 1}, "plain:2": rows[1]})
    found = Rows([1, 2]).get()
    assert (type(found[1]), found[1].id, type(found[2]), found[2].id) == (model, 1, model, 2)
    assert shared.get("plain:2").id == 2


def test_bytes_that_do_not_decode_are_pulled_and_overwritten(
    redis_server: Any, key_prefix: str, model: type[kata.db.Object]
) -> None:
    cache = kata.cache.RedisCache(redis_server.address, prefix=key_prefix)
    raw = redis.Redis(redis_server.host, redis_server.port)
    try:
        pulls: list[list[Any]] = []
        Rows = _rows(cache, model, pulls)
        Rows([1, 2]).get()
        raw.set(f"{key_prefix}thing:2", b"\xc1 not msgpack")
        assert Rows([1, 2]).get()[2].name == "thing 2"
        assert pulls == [[1, 2], [2]]
        assert raw.get(f"{key_prefix}thing:2") != b"\xc1 not msgpack"
        assert cache.get("thing:2").name == "thing 2"
    finally:
        raw.close()
        cache.close()


class Listing(kata.container.Simple):
    def init(self, cache: kata.cache.Cache, pulls: list[str]) -> None:
        self.store = cache
        self.pulls = pulls

    def cache(self) -> kata.cache.Cache:
        return self.store

    def key(self) -> str:
        return "listing"

    def pull(self) -> list[str]:
        self.pulls.append("pull")
        return ["a", "b"]

    def valid(self, value: Any) -> bool:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)


@pytest.mark.parametrize("planted", [{"a": 1}, [1, 2], "ab", Absent(time.time() + 3600)])
def test_simple_treats_what_valid_refuses_as_a_miss(shared: kata.cache.Cache, planted: Any) -> None:
    pulls: list[str] = []
    assert Listing(shared, pulls).get() == ["a", "b"]
    shared.set("listing", planted)
    assert Listing(shared, pulls).get() == ["a", "b"]
    assert shared.get("listing") == ["a", "b"]
    assert Listing(shared, pulls).get() == ["a", "b"]
    assert pulls == ["pull", "pull"]


def test_a_valid_that_raises_counts_as_invalid(shared: kata.cache.Cache) -> None:
    class Strict(Listing):
        def valid(self, value: Any) -> bool:
            return bool(value["must"])  # raises for a list

    pulls: list[str] = []
    shared.set("listing", ["x"])
    assert Strict(shared, pulls).get() == ["a", "b"]
    assert pulls == ["pull"]


def _lookup(cache: kata.cache.Cache, source: dict[Any, Any], pulls: list[list[Any]]) -> type:
    class Lookup(kata.container.Attribute):
        def cache(self) -> kata.cache.Cache:
            return cache

        def absent_expire(self) -> int:
            return 30

        def key(self, item: Any) -> str:
            return f"lookup:{item}"

        def pull(self, items: list[Any]) -> dict[Any, Any]:
            pulls.append(list(items))
            return {item: source[item] for item in items if item in source}

    return Lookup


@pytest.mark.parametrize("until", [time.time() + 10**9, float("inf"), float("nan"), time.time() + 600])
def test_a_forged_absent_marker_hides_nothing(cache: kata.cache.Cache, until: float) -> None:
    pulls: list[list[Any]] = []
    Lookup = _lookup(cache, {1: "one", 2: "two"}, pulls)
    cache.set("lookup:2", Absent(until))  # claims more than absent_expire() from now

    assert Lookup([1, 2]).get() == {1: "one", 2: "two"}
    assert pulls == [[1, 2]]
    assert cache.get("lookup:2") == "two"  # the marker was overwritten


def test_an_honest_absent_marker_still_hides_its_item(cache: kata.cache.Cache) -> None:
    pulls: list[list[Any]] = []
    Lookup = _lookup(cache, {1: "one"}, pulls)
    cache.set("lookup:2", Absent(time.time() + 29))
    assert Lookup([1, 2]).get() == {1: "one"}
    assert pulls == [[1]]


def test_a_memory_cache_is_trusted_with_what_this_process_stored(model: type[kata.db.Object]) -> None:
    cache = kata.cache.MemoryCache()
    pulls: list[list[Any]] = []
    Rows = _rows(cache, model, pulls)
    Rows([1]).get()
    cache.set("thing:1", "written here")  # no other process can have written it
    assert Rows([1]).get() == {1: "written here"}
    assert pulls == [[1]]
