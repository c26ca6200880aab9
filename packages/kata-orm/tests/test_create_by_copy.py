"""Large creates go by COPY (ids from the sequence first) when the rows stored are exactly the
rows given plus ids; the instances then match the table as the INSERT's would."""

from __future__ import annotations

from typing import Any

import pytest

import kata.db
from kata.db.model import COPY_ROWS

ITEM = """
CREATE TABLE item (
    id serial PRIMARY KEY,
    name varchar(10) NOT NULL UNIQUE,
    qty int,
    price float8,
    seen bool
)
"""


class Item(kata.db.Object):
    __table__ = "item"


@pytest.fixture
def item(db: Any) -> Any:
    db.run(ITEM)
    kata.db.forget_tables()
    return db


def rows(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {"name": f"n{i}", "qty": i if i % 3 else None, "price": i / 3, "seen": i % 2 == 0}
        for i in range(start, start + count)
    ]


def last_statement(pid: int, run: Any) -> str:
    [(query,)] = run(f"SELECT query FROM pg_stat_activity WHERE pid = {pid}")
    return str(query)


def stored(run: Any) -> list[tuple[Any, ...]]:
    return run("SELECT id, name, qty, price, seen FROM item ORDER BY id")


def test_a_large_create_goes_by_copy_and_returns_what_was_stored(item: Any, run: Any) -> None:
    given = rows(COPY_ROWS + 500)
    with kata.db.scope():
        pid = kata.db.query("SELECT pg_backend_pid() AS pid")[0]["pid"]
        created = Item.create(given)
        assert last_statement(pid, run).startswith("COPY")
    assert [(i.id, i.name, i.qty, i.price, i.seen) for i in created] == stored(run)
    assert [i.name for i in created] == [row["name"] for row in given]  # input order, ids rising
    assert created[0] == Item.get_one({"id": created[0].id})


def test_rows_the_table_could_store_differently_go_by_insert(item: Any, run: Any) -> None:
    padded = rows(COPY_ROWS)
    padded[5]["name"] = "n5" + " " * 20  # varchar(10) cuts the spaces beyond 10 characters
    with kata.db.scope():
        pid = kata.db.query("SELECT pg_backend_pid() AS pid")[0]["pid"]
        created = Item.create(padded)
        assert last_statement(pid, run).startswith("INSERT")
    assert created[5].name == "n5" + " " * 8 == run(f"SELECT name FROM item WHERE id = {created[5].id}")[0][0]
    run("TRUNCATE item")
    mixed = rows(COPY_ROWS)
    mixed[0]["price"] = 1  # an int for a float column comes back as a float
    assert Item.create(mixed)[0].price == 1.0 and isinstance(Item.get(order_by="id", limit=1)[0].price, float)
    run("TRUNCATE item")
    run("""
        CREATE FUNCTION shout() RETURNS trigger AS $$
        BEGIN NEW.name := upper(NEW.name); RETURN NEW; END $$ LANGUAGE plpgsql;
        CREATE TRIGGER shout BEFORE INSERT ON item FOR EACH ROW EXECUTE FUNCTION shout();
    """)
    kata.db.forget_tables()
    assert Item.create(rows(COPY_ROWS))[1].name == "N1"


def test_a_copy_that_fails_stores_nothing(item: Any, run: Any) -> None:
    Item.create([{"name": "n7"}])
    with pytest.raises(kata.db.IntegrityError) as info:
        Item.create(rows(COPY_ROWS))
    assert info.value.constraint == "item_name_key"
    with pytest.raises(kata.db.InvalidValue):
        Item.create([*rows(COPY_ROWS, 100), {"name": "x", "qty": 2**40, "price": 1.0, "seen": True}])
    with pytest.raises(kata.db.DatabaseError, match="too long"):
        Item.create([*rows(COPY_ROWS, 100), {"name": "x" * 11, "qty": 1, "price": 1.0, "seen": True}])
    with pytest.raises(ZeroDivisionError), kata.db.transaction():
        Item.create(rows(COPY_ROWS, 100))
        1 / 0  # noqa: B018
    assert run("SELECT name FROM item") == [("n7",)]
