"""get_one: one row by key; update_many: each row its own values, in one statement."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

import kata.db


class Foo(kata.db.Object):
    __table__ = "foo"


class Tagged(kata.db.Object):
    __table__ = "tagged"


def test_get_one_returns_the_instance_or_none(db: Any) -> None:
    a, b = Foo.create([{"bar": "a", "qux": 1}, {"bar": "b", "qux": 1}])
    assert Foo.get_one({"id": a.id}) == a
    assert Foo.get_one({"bar": "b"}) == b
    assert Foo.get_one({"id": a.id + b.id}) is None
    with pytest.raises(kata.db.DatabaseError, match="more than one row"):
        Foo.get_one({"qux": 1})
    with pytest.raises(ValueError, match="picks one row"):
        Foo.get_one({})
    with pytest.raises(kata.db.UnknownColumnError):
        Foo.get_one({"nope": 1})


def test_update_many_gives_each_row_its_values_in_one_statement(db: Any, run: Any) -> None:
    rows = Foo.create([{"bar": f"r{i}", "qux": 1} for i in range(5)])
    changes = [{"id": row.id, "qux": 10 + i, "bar": f"new{i}"} for i, row in enumerate(rows[:4])]
    with kata.db.scope():
        pid = kata.db.query("SELECT pg_backend_pid() AS pid")[0]["pid"]
        assert Foo.update_many(changes) == 4
    assert run("SELECT bar, qux FROM foo ORDER BY id") == [
        ("new0", 10),
        ("new1", 11),
        ("new2", 12),
        ("new3", 13),
        ("r4", 1),
    ]
    # The connection's last statement: the one UPDATE, with every row's values as arrays.
    [(last,)] = run(f"SELECT query FROM pg_stat_activity WHERE pid = {int(pid)}")
    assert last.startswith("UPDATE") and "unnest(" in last and "$6" not in last


def test_update_many_by_another_key_and_by_several_columns(db: Any, run: Any) -> None:
    Foo.create([{"bar": "a", "qux": 1}, {"bar": "b", "qux": 2}])
    assert Foo.update_many([{"bar": "a", "qux": 5}, {"bar": "zzz", "qux": 6}], key="bar") == 1
    when = datetime(2020, 1, 2, tzinfo=timezone.utc)
    changes = [{"bar": "b", "qux": 2, "created": when}, {"bar": "b", "qux": 3, "created": when}]
    assert Foo.update_many(changes, key=["bar", "qux"]) == 1
    assert run("SELECT bar, qux, created = '2020-01-02Z' FROM foo ORDER BY bar") == [
        ("a", 5, False),
        ("b", 2, True),
    ]


def test_update_many_refuses_unclear_input(db: Any) -> None:
    Foo.create([{"bar": "a", "qux": 1}])
    for rows, message in [
        ([{"id": 1, "qux": 2}, {"id": 1, "qux": 3}], "same key"),
        ([{"id": 1, "qux": 2}, {"id": 2, "bar": "x"}], "same columns"),
        ([{"qux": 2}], "key column 'id'"),
        ([{"id": 1}], "no column besides the key"),
    ]:
        with pytest.raises(ValueError, match=message):
            Foo.update_many(rows)
    with pytest.raises(kata.db.UnknownColumnError):
        Foo.update_many([{"id": 1, "nope": 2}])
    with pytest.raises(TypeError, match="update_many"):
        Foo.update_many([("id", 1)])  # type: ignore[list-item]
    assert Foo.update_many([]) == 0
    assert Foo.get_one({"bar": "a"}).qux == 1  # type: ignore[union-attr]


def test_update_many_with_array_and_json_columns(db: Any, run: Any) -> None:
    run("CREATE TABLE tagged (id serial PRIMARY KEY, tags text[], doc jsonb)")
    kata.db.forget_tables()
    rows = Tagged.create([{"tags": ["a"], "doc": {"n": 1}}, {"tags": [], "doc": None}])
    changed = [
        {"id": rows[0].id, "tags": ["x", "y"], "doc": {"n": 2}},
        {"id": rows[1].id, "tags": None, "doc": [1]},
    ]
    assert Tagged.update_many(changed) == 2
    assert [(row.tags, row.doc) for row in Tagged.get(order_by="id")] == [(["x", "y"], {"n": 2}), (None, [1])]
