from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgpack
import pytest
from psycopg import sql

import kata.codec
import kata.db


class Foo(kata.db.Object):
    __table__ = "foo"


def test_query_returns_dicts_or_instances(db: Any) -> None:
    Foo.create([{"bar": "a", "qux": 1}, {"bar": "b", "qux": 1}, {"bar": "c", "qux": 2}])
    rows = kata.db.query("SELECT qux, count(*) AS n FROM foo GROUP BY qux ORDER BY qux")
    assert rows == [{"qux": 1, "n": 2}, {"qux": 2, "n": 1}]
    found = kata.db.query("SELECT * FROM foo WHERE qux = %(qux)s ORDER BY bar", {"qux": 1}, model=Foo)
    assert [type(foo) for foo in found] == [Foo, Foo] and [foo.bar for foo in found] == ["a", "b"]
    assert found == Foo.get({"qux": 1}, order_by="bar")
    statement = sql.SQL("SELECT {} FROM {} WHERE {} > %s").format(
        sql.Identifier("bar"), sql.Identifier("foo"), sql.Identifier("qux")
    )
    assert kata.db.query(statement, [1]) == [{"bar": "c"}]


def test_execute_returns_the_row_count(db: Any) -> None:
    Foo.create([{"bar": "a", "qux": 1}, {"bar": "b", "qux": 1}])
    assert kata.db.execute("UPDATE foo SET qux = qux + 1 WHERE qux = %s", [1]) == 2
    assert kata.db.execute("CREATE INDEX foo_qux ON foo (qux)") == -1
    assert kata.db.query("CREATE TABLE other (id int)") == []


def test_raw_sql_joins_the_current_transaction(db: Any) -> None:
    with pytest.raises(ZeroDivisionError), kata.db.transaction():
        kata.db.execute("INSERT INTO foo (bar) VALUES (%s)", ["a"])
        assert kata.db.query("SELECT bar FROM foo") == [{"bar": "a"}]
        raise ZeroDivisionError
    assert Foo.count() == 0


def test_serialize_objects_lists_and_dicts(db: Any) -> None:
    created = Foo.create([{"bar": "a", "qux": 1}, {"bar": "b"}])
    when = created[0].created.isoformat()
    expected = {"id": created[0].id, "bar": "a", "qux": 1, "created": when}
    assert json.loads(kata.db.serialize(created[0])) == expected
    assert json.loads(kata.db.serialize(created, format="json"))[0] == expected
    assert msgpack.unpackb(kata.db.serialize(created, format="msgpack"))[0] == expected
    value = {
        "foo": created[1],
        "n": Decimal("1.50"),
        "u": UUID(int=1),
        "at": datetime(2026, 1, 2, tzinfo=timezone.utc),
    }
    assert json.loads(kata.db.serialize(value)) == {
        "foo": created[1].to_dict() | {"created": created[1].created.isoformat()},
        "n": "1.50",
        "u": "00000000-0000-0000-0000-000000000001",
        "at": "2026-01-02T00:00:00+00:00",
    }
    assert msgpack.unpackb(kata.db.serialize({"b": b"\x00"}, format="msgpack")) == {"b": b"\x00"}


def test_serialize_refuses_unknown_formats_and_values(db: Any) -> None:
    with pytest.raises(ValueError, match="'xml'"):
        kata.db.serialize({}, format="xml")
    with pytest.raises(TypeError, match="set"):
        kata.db.serialize({1, 2})
    with pytest.raises(TypeError, match="bytes"):
        kata.db.serialize(b"x", format="json")


def test_instances_come_back_from_the_cache_encoding_as_their_class(db: Any) -> None:
    created = Foo.create([{"bar": "a", "qux": 1}, {"bar": "b"}])
    back = kata.codec.loads(kata.codec.dumps(created))
    assert back == created and all(type(foo) is Foo for foo in back)
    assert isinstance(back[0].created, datetime)
