"""Errors: the kata.db hierarchy, and what happens when the server goes away."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

import kata.db


class Foo(kata.db.Object):
    __table__ = "foo"


def test_integrity_errors_name_the_constraint(db: Any) -> None:
    Foo.create([{"bar": "a"}])
    with pytest.raises(kata.db.IntegrityError) as info:
        Foo.create([{"bar": "a"}])
    error = info.value
    assert (error.constraint, error.table, error.sqlstate) == ("foo_bar_unique", "foo", "23505")
    assert isinstance(error.__cause__, psycopg.errors.UniqueViolation)
    assert "foo_bar_unique" in str(error)

    with pytest.raises(kata.db.IntegrityError) as info:
        Foo.update({"qux": 0}, where={"bar": "a"})
    assert info.value.constraint == "foo_qux_positive"

    with pytest.raises(kata.db.IntegrityError) as info:
        Foo.update({"created": None}, where={"bar": "a"})
    assert (info.value.constraint, info.value.column) == (None, "created")


def test_other_server_errors_are_database_errors(db: Any) -> None:
    with pytest.raises(kata.db.DatabaseError) as info:
        kata.db.query("SELECT * FROM nowhere")
    assert info.value.sqlstate == "42P01" and isinstance(info.value.__cause__, psycopg.errors.UndefinedTable)
    with pytest.raises(kata.db.DatabaseError, match="invalid input syntax"):
        Foo.get({"qux": "three"})


def test_pool_timeout(database: Any) -> None:
    kata.db.initialize({**database.section, "pool_size": 1, "pool_timeout": 0.2})
    errors: list[BaseException] = []

    def other() -> None:
        try:
            kata.db.query("SELECT 1")
        except BaseException as exc:
            errors.append(exc)

    try:
        with kata.db.transaction():  # holds the only connection
            thread = threading.Thread(target=other)
            thread.start()
            thread.join()
        assert len(errors) == 1 and isinstance(errors[0], kata.db.PoolTimeout)
        assert kata.db.query("SELECT 1 AS one") == [{"one": 1}]
    finally:
        kata.db.close()


@pytest.fixture
def private(own_server: Any) -> Iterator[Any]:
    """kata.db on a database of a private server that the test may stop and restart."""
    server = own_server("postgres")
    with psycopg.connect(server.dsn("postgres"), autocommit=True) as conn:
        conn.execute("CREATE DATABASE app")
    with psycopg.connect(server.dsn("app"), autocommit=True) as conn:
        conn.execute("CREATE TABLE foo (id serial PRIMARY KEY, bar text UNIQUE, qux int)")
    kata.db.initialize(
        {
            "name": "app",
            "host": server.host,
            "port": server.port,
            "user": "kata",
            "pool_size": 3,
            "pool_timeout": 20,
        }
    )
    try:
        yield server
    finally:
        kata.db.close()


def test_calls_succeed_after_a_server_restart(private: Any) -> None:
    Foo.create([{"bar": "before"}])
    for _ in range(6):  # every pooled connection has been used
        assert Foo.count() == 1
    private.restart()
    assert Foo.count() == 1
    assert [foo.bar for foo in Foo.create([{"bar": "after"}])] == ["after"]
    for _ in range(6):
        assert Foo.count() == 2
    with kata.db.transaction():
        assert Foo.update({"qux": 1}, all_rows=True) == 2


def test_a_transaction_cut_by_a_restart_raises_connection_lost(private: Any) -> None:
    with pytest.raises(kata.db.ConnectionLost) as info, kata.db.transaction():
        Foo.create([{"bar": "lost"}])
        private.restart()
        Foo.count()
    assert isinstance(info.value.__cause__, psycopg.OperationalError)
    assert Foo.count() == 0  # the transaction did not commit
    Foo.create([{"bar": "kept"}])
    assert Foo.count() == 1


def test_calls_fail_while_the_server_is_down_and_work_once_it_is_back(private: Any) -> None:
    kata.db.initialize({**dataclasses.asdict(kata.db.settings()), "pool_timeout": 2})
    Foo.create([{"bar": "a"}])
    private.stop()
    for call in (Foo.count, lambda: Foo.create([{"bar": "b"}])):
        with pytest.raises((kata.db.ConnectionLost, kata.db.PoolTimeout)):
            call()
    private.start()
    # The pool reconnects in the background, backing off while the server was away: a call
    # may still time out for a few seconds, then works without a new initialize().
    for _ in range(30):
        try:
            found = Foo.get()
            break
        except kata.db.PoolTimeout:
            continue
    assert [foo.bar for foo in found] == ["a"]
