from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

import kata.db


class Foo(kata.db.Object):
    __table__ = "foo"


def test_the_guide_calls_work_as_written(db: Any) -> None:
    created = Foo.create([{"bar": "baz", "qux": 3}, {"bar": "corge", "qux": 5}])
    assert [(foo.bar, foo.qux) for foo in created] == [("baz", 3), ("corge", 5)]

    found = Foo.get({"bar": "baz"}, order_by="qux", limit=5)
    assert len(found) == 1 and isinstance(found[0], Foo)
    assert found[0].bar == "baz" and found[0].qux == 3

    assert {foo.bar for foo in Foo.get_in("bar", ["qux", "quux", "corge"])} == {"corge"}
    assert Foo.update({"bar": "baz2"}, where={"qux": 3}) == 1
    assert [foo.bar for foo in Foo.get({"qux": 3})] == ["baz2"]


def test_create_returns_database_defaults_in_input_order(db: Any) -> None:
    rows = [{"bar": f"b{i}", "qux": 1000 - i} for i in range(300)]
    created = Foo.create(rows)
    assert [(foo.bar, foo.qux) for foo in created] == [(row["bar"], row["qux"]) for row in rows]
    ids = [foo.id for foo in created]
    assert ids == sorted(ids) and len(set(ids)) == 300
    assert all(isinstance(foo.created, datetime) for foo in created)
    assert created[0].to_dict().keys() == {"id", "bar", "qux", "created"}
    assert Foo.count() == 300


def test_create_accepts_rows_with_different_columns_and_keeps_their_order(db: Any) -> None:
    rows: list[dict[str, Any]] = [
        {"bar": "a"},
        {"qux": 7, "bar": "b"},
        {},
        {"qux": 9},
        {"bar": "c", "qux": 1},
    ]
    created = Foo.create(iter(rows))
    assert [(foo.bar, foo.qux) for foo in created] == [
        ("a", None),
        ("b", 7),
        (None, None),
        (None, 9),
        ("c", 1),
    ]
    assert len({foo.id for foo in created}) == 5


def test_create_with_a_column_of_only_nulls(db: Any) -> None:
    created = Foo.create([{"bar": None, "qux": None}, {"bar": None, "qux": None}])
    assert [(foo.bar, foo.qux) for foo in created] == [(None, None), (None, None)]
    assert Foo.count({"bar": None, "qux": [None]}) == 2


def test_create_of_nothing_runs_no_statement(db: Any) -> None:
    assert Foo.create([]) == []


def test_create_in_several_chunks(db: Any, run: Any) -> None:
    rows = [{"bar": str(i), "qux": i + 1} for i in range(25_000)]
    created = Foo.create(rows)
    assert len(created) == 25_000
    assert [foo.bar for foo in created] == [row["bar"] for row in rows]
    assert run("SELECT count(*), count(DISTINCT id) FROM foo") == [(25_000, 25_000)]


def test_create_is_all_or_nothing(db: Any) -> None:
    Foo.create([{"bar": "taken"}])
    rows = [{"bar": f"new{i}"} for i in range(10)] + [{"bar": "taken"}]
    with pytest.raises(kata.db.IntegrityError) as info:
        Foo.create(rows)
    assert info.value.constraint == "foo_bar_unique"
    assert Foo.count() == 1


def test_create_is_all_or_nothing_across_chunks_and_column_sets(db: Any, run: Any) -> None:
    rows: list[dict[str, Any]] = [{"bar": str(i)} for i in range(12_000)]
    rows.append({"qux": 5, "bar": "x"})
    rows.append({"qux": -1})  # violates the check constraint, in the last statement
    with pytest.raises(kata.db.IntegrityError) as info:
        Foo.create(rows)
    assert info.value.constraint == "foo_qux_positive"
    assert run("SELECT count(*) FROM foo") == [(0,)]


def test_create_rejects_a_too_long_value_instead_of_cutting_it(db: Any) -> None:
    with pytest.raises(kata.db.DatabaseError, match="too long"):
        Foo.create([{"bar": "x" * 101}])
    assert Foo.count() == 0


def test_create_rejects_rows_that_are_not_mappings(db: Any) -> None:
    with pytest.raises(TypeError, match="row 1"):
        Foo.create([{"bar": "a"}, ("b", 1)])  # type: ignore[list-item]
    assert Foo.count() == 0


def test_get_filters(db: Any) -> None:
    Foo.create(
        [{"bar": "a", "qux": 1}, {"bar": "b", "qux": 2}, {"bar": "c", "qux": None}, {"bar": None, "qux": 4}]
    )
    assert [foo.bar for foo in Foo.get({"qux": 2})] == ["b"]
    assert [foo.bar for foo in Foo.get({"qux": None})] == ["c"]
    assert [foo.qux for foo in Foo.get({"bar": None})] == [4]
    assert sorted(foo.bar for foo in Foo.get({"qux": [1, 2, 3]})) == ["a", "b"]
    assert sorted(foo.bar for foo in Foo.get({"qux": (1, None)})) == ["a", "c"]
    assert sorted(foo.bar for foo in Foo.get({"qux": {2}, "bar": ["a", "b"]})) == ["b"]
    assert Foo.get({"qux": []}) == []
    assert Foo.get({"qux": 1, "bar": "b"}) == []
    assert len(Foo.get()) == len(Foo.get({})) == 4


def test_get_orders_limits_and_offsets(db: Any) -> None:
    Foo.create(
        [{"bar": "a", "qux": 2}, {"bar": "b", "qux": 1}, {"bar": "c", "qux": 2}, {"bar": "d", "qux": 3}]
    )
    assert Foo.get(order_by="qux")[0].bar == "b"
    assert [foo.bar for foo in Foo.get(order_by="-bar")] == ["d", "c", "b", "a"]
    assert [foo.bar for foo in Foo.get(order_by=["-qux", "bar"])] == ["d", "a", "c", "b"]
    assert [foo.bar for foo in Foo.get(order_by=("qux", "-bar"), limit=2, offset=1)] == ["c", "a"]
    assert [foo.bar for foo in Foo.get(order_by="bar", offset=3)] == ["d"]
    assert Foo.get(order_by="bar", limit=0) == []


@pytest.mark.parametrize("limit", [-1, 1.5, "2", True])
def test_get_rejects_bad_limits(db: Any, limit: Any) -> None:
    with pytest.raises(ValueError, match="limit"):
        Foo.get(limit=limit)
    with pytest.raises(ValueError, match="offset"):
        Foo.get(offset=limit)


def test_get_in(db: Any) -> None:
    created = Foo.create([{"bar": str(i), "qux": i + 1} for i in range(50)])
    wanted = [foo.id for foo in created[10:20]]
    found = Foo.get_in("id", wanted)
    assert sorted(foo.id for foo in found) == wanted
    assert sorted(foo.bar for foo in Foo.get_in("bar", ("3", "4", "nope"))) == ["3", "4"]
    assert {foo.id for foo in Foo.get_in("id", iter({created[0].id, 2**40}))} == {created[0].id}


def test_get_in_with_no_values_returns_nothing_without_a_query(db: Any) -> None:
    Foo.count()  # the catalog is read
    with kata.db.transaction():
        with pytest.raises(kata.db.DatabaseError, match="division by zero"):
            kata.db.execute("SELECT 1/0")
        # The transaction is aborted now: any statement would fail.
        assert Foo.get_in("bar", []) == []
        assert Foo.get_in("bar", iter(())) == []
        with pytest.raises(kata.db.DatabaseError, match="aborted"):
            Foo.get_in("bar", ["x"])
        with pytest.raises(kata.db.UnknownColumnError):
            Foo.get_in("nope", [])


def test_update_and_delete_count_rows(db: Any) -> None:
    Foo.create([{"bar": "a", "qux": 1}, {"bar": "b", "qux": 1}, {"bar": "c", "qux": 2}])
    assert Foo.update({"qux": 5, "bar": "z"}, where={"bar": "c"}) == 1
    assert Foo.update({"qux": 3}, where={"qux": 1}) == 2
    assert Foo.update({"qux": 4}, where={"qux": 99}) == 0
    assert Foo.count({"qux": 3}) == 2
    assert Foo.delete({"bar": ["a", "z"]}) == 2
    assert [foo.bar for foo in Foo.get()] == ["b"]


def test_update_and_delete_refuse_an_empty_where_unless_asked(db: Any) -> None:
    Foo.create([{"bar": "a", "qux": 1}, {"bar": "b", "qux": 2}])
    for where in (None, {}):
        with pytest.raises(ValueError, match="all_rows=True"):
            Foo.update({"qux": 7}, where=where)
        with pytest.raises(ValueError, match="all_rows=True"):
            Foo.delete(where)
    assert Foo.count({"qux": 7}) == 0 and Foo.count() == 2
    assert Foo.update({"qux": 7}, all_rows=True) == 2
    assert Foo.delete(all_rows=True) == 2
    assert Foo.count() == 0


def test_update_needs_values(db: Any) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        Foo.update({}, where={"qux": 1})


def test_instances(db: Any) -> None:
    (foo,) = Foo.create([{"bar": "baz", "qux": 3}])
    (again,) = Foo.get({"id": foo.id})
    assert foo == again
    assert foo != Foo.from_dict({**foo.to_dict(), "qux": 4})
    assert foo != foo.to_dict()
    data = foo.to_dict()
    data["qux"] = 100
    assert foo.qux == 3
    assert Foo.from_dict(foo.to_dict()) == foo
    assert repr(foo).startswith(f"Foo(id={foo.id}, bar='baz', qux=3, created=datetime.datetime(")
    with pytest.raises(AttributeError):
        foo.missing  # noqa: B018
    with pytest.raises(TypeError):
        hash(foo)


def test_long_values_are_shortened_in_the_repr(db: Any) -> None:
    (foo,) = Foo.create([{"bar": "x" * 100}])
    assert len(repr(foo)) < 200 and "..." in repr(foo)


class Kinds(kata.db.Object):
    __table__ = "kinds"


def test_column_types_round_trip(db: Any, run: Any) -> None:
    run(
        """CREATE TABLE kinds (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            doc jsonb, plain json, tags text[], amount numeric(10, 2), uid uuid, at timestamptz,
            mood text CHECK (mood IN ('ok', 'meh')), flag boolean, blob bytea,
            doubled bigint GENERATED ALWAYS AS (length(mood) * 2) STORED
        )""",
    )
    u = UUID("12345678-1234-5678-1234-567812345678")
    when = datetime.fromisoformat("2026-01-02T03:04:05+00:00")
    row = {
        "doc": {"a": [1, {"b": None}]},
        "plain": [1, 2],
        "tags": ["x", "y,z"],
        "amount": Decimal("12.345"),
        "uid": u,
        "at": when,
        "mood": "ok",
        "flag": True,
        "blob": b"\x00\xff",
    }
    (created,) = Kinds.create([row])
    assert created.doc == {"a": [1, {"b": None}]} and created.plain == [1, 2]
    assert created.tags == ["x", "y,z"] and created.amount == Decimal("12.35")
    assert (created.uid, created.at, created.flag, created.blob, created.doubled) == (
        u,
        when,
        True,
        b"\x00\xff",
        4,
    )
    # The array column takes the INSERT ... VALUES path; the json ones the unnest path.
    many = Kinds.create([{"tags": [str(i)], "doc": {"i": i}} for i in range(2500)])
    assert [k.tags for k in many[:3]] == [["0"], ["1"], ["2"]] and many[-1].doc == {"i": 2499}
    assert Kinds.create([{"doc": None, "tags": None}])[0].doc is None
    assert [k.id for k in Kinds.get({"doc": {"a": [1, {"b": None}]}})] == [created.id]
    assert [k.id for k in Kinds.get({"tags": ["x", "y,z"]})] == [created.id]
    assert [k.id for k in Kinds.get_in("uid", [str(u)])] == [created.id]
    assert [k.id for k in Kinds.get({"uid": [u], "amount": [Decimal("12.35"), 1]})] == [created.id]
    assert Kinds.update({"doc": {"c": 1}}, where={"id": created.id}) == 1
    assert Kinds.get({"id": created.id})[0].doc == {"c": 1}
    assert Kinds.count() == 2502


def test_a_schema_qualified_table(db: Any, run: Any) -> None:
    run("CREATE SCHEMA other; CREATE TABLE other.thing (id serial PRIMARY KEY, name text)")

    class Thing(kata.db.Object):
        __table__ = "other.thing"

    assert [t.name for t in Thing.create([{"name": "a"}])] == ["a"]
    assert Thing.count({"name": "a"}) == 1


def test_columns_added_later_are_seen_after_forget_tables(db: Any, run: Any) -> None:
    Foo.create([{"bar": "a"}])
    run("ALTER TABLE foo ADD COLUMN extra int DEFAULT 7")
    with pytest.raises(kata.db.UnknownColumnError):
        Foo.get({"extra": 7})
    kata.db.forget_tables()
    assert [foo.bar for foo in Foo.get({"extra": 7})] == ["a"]


def test_rows_follow_the_tables_columns_as_they_change(db: Any, run: Any) -> None:
    Foo.create([{"bar": "a", "qux": 1}])
    assert set(Foo.get_one({"bar": "a"}).to_dict()) == {"id", "bar", "qux", "created"}  # type: ignore[union-attr]
    run("ALTER TABLE foo DROP COLUMN created")
    assert set(Foo.get_one({"bar": "a"}).to_dict()) == {"id", "bar", "qux"}  # type: ignore[union-attr]
    run("ALTER TABLE foo RENAME COLUMN qux TO quux")
    kata.db.forget_tables()
    assert Foo.get({"quux": 1})[0].to_dict() == {"id": 1, "bar": "a", "quux": 1}


def test_a_model_without_table(db: Any) -> None:
    class Base(kata.db.Object):
        pass

    with pytest.raises(TypeError, match="__table__"):
        Base.get()
    with pytest.raises(TypeError, match="__table__"):

        class Bad(kata.db.Object):
            __table__ = ""


def test_values_of_mixed_python_types_in_one_column(db: Any, run: Any) -> None:
    run("CREATE TABLE measures (id serial PRIMARY KEY, x double precision, n numeric)")

    class Measure(kata.db.Object):
        __table__ = "measures"

    created = Measure.create([{"x": 1, "n": 1}, {"x": 2.5, "n": Decimal("0.1")}, {"x": None, "n": 3.25}])
    assert [(m.x, m.n) for m in created] == [
        (1.0, Decimal(1)),
        (2.5, Decimal("0.1")),
        (None, Decimal("3.25")),
    ]
    assert Measure.count({"x": [1, 2.5]}) == 2
    assert len(Measure.get_in("n", [Decimal("0.1"), 1, 3.25])) == 3


def test_instances_of_columns_with_any_name(db: Any, run: Any) -> None:
    # Names that cannot be written as attribute assignments, a keyword, a name that Python
    # would normalize, and a column the model shadows with a property: each comes back as
    # the value of the column, as from_dict() would hold it.
    run('CREATE TABLE odd (id serial PRIMARY KEY, "first name" text, "class" int, "ﬁle" text, label text)')

    class Odd(kata.db.Object):
        __table__ = "odd"

        @property
        def label(self) -> str:
            return "from the property"

    (odd,) = Odd.create([{"first name": "Ada", "class": 3, "ﬁle": "x", "label": "from the row"}])
    expected = {"id": odd.id, "first name": "Ada", "class": 3, "ﬁle": "x", "label": "from the row"}
    assert odd.to_dict() == expected
    assert odd == Odd.from_dict(expected)
    assert "file" not in odd.to_dict()


def test_column_names_are_read_in_the_connections_client_encoding(db: Any, run: Any) -> None:
    # The same non-ASCII column name arrives as different bytes under LATIN1 and UTF8; a row
    # read under each names its attribute the same.
    run('CREATE TABLE accents (id serial PRIMARY KEY, "café" text)')

    class Accents(kata.db.Object):
        __table__ = "accents"

    Accents.create([{"café": "noir"}])
    expected = {"id": 1, "café": "noir"}
    with kata.db.scope():
        assert Accents.get_one({"id": 1}).to_dict() == expected  # type: ignore[union-attr]
        kata.db.execute("SET client_encoding TO 'LATIN1'")
        assert Accents.get_one({"id": 1}).to_dict() == expected  # type: ignore[union-attr]
        assert Accents.get({"café": "noir"})[0].to_dict() == expected
        kata.db.execute("SET client_encoding TO 'UTF8'")
        assert Accents.get_one({"id": 1}).to_dict() == expected  # type: ignore[union-attr]


def test_instances_of_a_single_column_and_of_plain_names(db: Any, run: Any) -> None:
    run("CREATE TABLE single (id serial PRIMARY KEY)")

    class Single(kata.db.Object):
        __table__ = "single"

    assert [s.to_dict() for s in Single.create([{}, {}])] == [{"id": 1}, {"id": 2}]
    (foo,) = Foo.create([{"bar": "a", "qux": 1}])
    assert foo == Foo.from_dict(foo.to_dict()) and foo.to_dict()["bar"] == "a"
    assert kata.db.query("SELECT bar AS count, qux AS update FROM foo", model=Foo)[0].to_dict() == {
        "count": "a",
        "update": 1,
    }
