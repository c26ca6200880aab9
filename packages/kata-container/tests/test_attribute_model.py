"""The Attribute container over kata.db models: the guide's ``attribute()`` example, rows as values.

These tests need kata-orm (and psycopg) next to kata-container; the container itself only
calls the model's ``get_in`` and never imports kata.db.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

import kata.cache
import kata.container
import kata.db


@pytest.fixture
def some_model(database: Any) -> Iterator[type[kata.db.Object]]:
    """A ``some_model`` table with a ``bigint`` ``id`` (rows 1 to 5 and 1000 to 2999) and its model."""
    with psycopg.connect(database.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE some_model (id bigint PRIMARY KEY, name varchar NOT NULL, score numeric)")
        conn.execute(
            "INSERT INTO some_model SELECT i, 'row ' || i, i / 4.0 FROM generate_series(1, 5) i "
            "UNION ALL SELECT i, 'row ' || i, i / 4.0 FROM generate_series(1000, 2999) i"
        )
    kata.db.initialize(database.section)

    class SomeModel(kata.db.Object):
        __table__ = "some_model"

    yield SomeModel
    kata.db.close()


def test_the_guide_example_with_attribute(
    guide_cache: kata.cache.Cache, some_model: type[kata.db.Object]
) -> None:
    SomeModel = some_model

    class Bar(kata.container.Attribute):
        def cache(self):
            return kata.cache.memcached

        def key(self, item):
            return "bar:%s" % item  # noqa: UP031 (as in the guide)

        def attribute(self):
            return SomeModel, "id"

    found = Bar([1, 2, 3, 4, 5]).get()

    assert list(found) == [1, 2, 3, 4, 5]
    assert all(type(row) is SomeModel for row in found.values())
    assert [row.name for row in found.values()] == ["row 1", "row 2", "row 3", "row 4", "row 5"]
    # Cached: the rows come back from the cache as instances of the model, equal to the rows.
    assert kata.cache.memcached.get("bar:3") == found[3]
    assert Bar([5, 3, 1]).get() == {5: found[5], 3: found[3], 1: found[1]}

    Bar([1, 2, 3, 4, 5]).dirty()
    assert kata.cache.memcached.get_multi([f"bar:{i}" for i in range(1, 6)]) == {}


def test_model_rows_are_cached_on_every_type(
    cache: kata.cache.Cache, some_model: type[kata.db.Object]
) -> None:
    SomeModel = some_model

    class ById(kata.container.Attribute):
        def cache(self) -> Any:
            return cache

        def expire(self) -> int:
            return 600

        def key(self, item: Any) -> str:
            return f"some_model:{item}"

        def attribute(self) -> Any:
            return SomeModel, "id"

    pulled = ById([1000, 4, 1001, 77777]).get()
    cached = ById([1000, 4, 1001, 77777]).get()

    assert list(pulled) == list(cached) == [1000, 4, 1001]
    assert cached == pulled
    assert all(type(row) is SomeModel for row in cached.values())
    assert cached[4].name == "row 4" and cached[4].score == pulled[4].score


def test_attribute_needs_a_unique_column(cache: kata.cache.Cache, some_model: type[kata.db.Object]) -> None:
    SomeModel = some_model
    SomeModel.create([{"id": 10, "name": "twin"}, {"id": 11, "name": "twin"}])

    class ByName(kata.container.Attribute):
        def cache(self) -> Any:
            return cache

        def key(self, item: Any) -> str:
            return f"by_name:{item}"

        def attribute(self) -> Any:
            return SomeModel, "name"

    assert ByName(["row 1"]).get()["row 1"].id == 1
    with pytest.raises(
        ValueError, match="ByName: two rows have name = 'twin'; attribute\\(\\) must name a unique column"
    ):
        ByName(["twin"]).get()
    # Nothing was stored for the failed lookup.
    assert cache.get_multi(["by_name:twin"]) == {}
