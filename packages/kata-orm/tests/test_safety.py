"""Hostile input never reaches the database as SQL: names are checked, values are bound."""

from __future__ import annotations

from typing import Any

import pytest

import kata.db


class Foo(kata.db.Object):
    __table__ = "foo"


ATTACKS = [
    "x'); DROP TABLE foo; --",
    "' OR '1'='1",
    'x"; DROP TABLE foo; --',
    "\\'; DELETE FROM foo; --",
    "$1; DROP TABLE foo",
    "%s %(x)s {}",
]


def test_values_are_stored_verbatim(db: Any, run: Any) -> None:
    Foo.create([{"bar": "keep"}])
    created = Foo.create([{"bar": attack} for attack in ATTACKS])
    assert [foo.bar for foo in created] == ATTACKS
    for attack in ATTACKS:
        assert [foo.bar for foo in Foo.get({"bar": attack})] == [attack]
        assert Foo.count({"bar": [attack]}) == 1
        assert [foo.bar for foo in Foo.get_in("bar", [attack])] == [attack]
    assert Foo.update({"qux": 1}, where={"bar": ATTACKS[1]}) == 1
    assert Foo.delete({"bar": ATTACKS[0]}) == 1
    assert run("SELECT count(*) FROM foo") == [(len(ATTACKS),)]


@pytest.mark.parametrize(
    "key", ["bar = bar OR 1=1 --", '"bar"', "bar; DROP TABLE foo", "BAR", "bar ", "", "qux)", 1, None]
)
def test_where_keys_must_be_columns(db: Any, run: Any, key: Any) -> None:
    Foo.create([{"bar": "a", "qux": 1}])
    with pytest.raises(kata.db.UnknownColumnError) as info:
        Foo.get({key: 1})
    assert info.value.table == "foo" and info.value.column == str(key)
    assert repr(key) in str(info.value)
    for call in (
        lambda: Foo.count({key: 1}),
        lambda: Foo.update({"qux": 2}, where={key: 1}),
        lambda: Foo.update({key: 2}, where={"qux": 1}),
        lambda: Foo.delete({key: 1}),
        lambda: Foo.create([{"bar": "b", key: 1}]),
        lambda: Foo.get_in(key, [1]),
    ):
        with pytest.raises(kata.db.UnknownColumnError):
            call()
    assert run("SELECT bar, qux FROM foo") == [("a", 1)]


@pytest.mark.parametrize("order_by", ["qux; DROP TABLE foo", "-", "--qux", "qux desc", "1", ["bar", "nope"]])
def test_order_by_must_name_columns(db: Any, run: Any, order_by: Any) -> None:
    with pytest.raises(kata.db.UnknownColumnError):
        Foo.get(order_by=order_by)
    assert run("SELECT count(*) FROM foo") == [(0,)]


def test_order_by_takes_only_strings(db: Any) -> None:
    with pytest.raises(TypeError, match="order_by"):
        Foo.get(order_by=[1])  # type: ignore[list-item]


@pytest.mark.parametrize(
    "table", ["foo; DROP TABLE foo", "foo WHERE 1=1", 'foo"', "FOO", "nope", "public.nope"]
)
def test_table_names_must_exist(db: Any, run: Any, table: str) -> None:
    class Hostile(kata.db.Object):
        __table__ = table

    with pytest.raises(kata.db.UnknownTableError) as info:
        Hostile.get()
    assert info.value.table == table and repr(table) in str(info.value)
    assert run("SELECT count(*) FROM foo") == [(0,)]


def test_odd_but_real_names_are_quoted(db: Any, run: Any) -> None:
    run('CREATE TABLE "we""ird table" (id serial PRIMARY KEY, "select" text, "Mixed Case" int)')

    class Weird(kata.db.Object):
        __table__ = 'we"ird table'

    created = Weird.create([{"select": "a", "Mixed Case": 2}, {"select": "b", "Mixed Case": 1}])
    assert created[0].to_dict() == {"id": 1, "select": "a", "Mixed Case": 2}
    assert [w.select for w in Weird.get({"Mixed Case": [1, 2]}, order_by="-Mixed Case")] == ["a", "b"]
    assert Weird.update({"select": "c"}, where={"select": "a"}) == 1


def test_raw_sql_binds_its_parameters(db: Any, run: Any) -> None:
    Foo.create([{"bar": "a"}])
    for attack in ATTACKS:
        assert kata.db.query("SELECT %s::text AS v", [attack]) == [{"v": attack}]
        assert kata.db.query("SELECT count(*) AS n FROM foo WHERE bar = %(bar)s", {"bar": attack}) == [
            {"n": 0}
        ]
    assert run("SELECT count(*) FROM foo") == [(1,)]
