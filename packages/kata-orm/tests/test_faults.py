"""Errors: the kata.db hierarchy, and what happens when the server goes away."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

import kata.db
from kata_harness.proxy import Proxy


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
    """kata.db, with the default settings, on a private server the test may stop and restart.

    The pool is full and every connection idle when the test starts."""
    server = own_server("postgres")
    with psycopg.connect(server.dsn("postgres"), autocommit=True) as conn:
        conn.execute("CREATE DATABASE app")
    with psycopg.connect(server.dsn("app"), autocommit=True) as conn:
        conn.execute("CREATE TABLE foo (id serial PRIMARY KEY, bar text UNIQUE, qux int)")
    kata.db.initialize({"name": "app", "host": server.host, "port": server.port, "user": "kata"})
    try:
        yield server
    finally:
        kata.db.close()


def in_threads(call: Callable[[], Any], count: int = 4) -> list[Any]:
    """The outcome (a result or the exception) of *call* run once in each of *count* threads
    at the same time, as gunicorn's threads would."""
    outcomes: list[Any] = [None] * count
    start = threading.Barrier(count)

    def one(index: int) -> None:
        start.wait()
        try:
            outcomes[index] = call()
        except Exception as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=one, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_the_first_calls_after_a_server_restart_succeed(private: Any) -> None:
    Foo.create([{"bar": "before"}])
    private.restart()
    assert Foo.count() == 1
    private.restart()
    assert in_threads(Foo.count) == [1, 1, 1, 1]
    assert [foo.bar for foo in Foo.create([{"bar": "after"}])] == ["after"]
    private.restart()
    with kata.db.transaction():
        assert Foo.update({"qux": 1}, all_rows=True) == 2
    private.restart()
    with kata.db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM foo").fetchone() == (2,)


def test_a_transaction_cut_by_a_restart_raises_connection_lost(private: Any) -> None:
    with pytest.raises(kata.db.ConnectionLost) as info, kata.db.transaction():
        Foo.create([{"bar": "lost"}])
        private.restart()
        Foo.count()
    assert not isinstance(info.value, kata.db.Unavailable)  # the server is up: the transaction was lost
    assert isinstance(info.value.__cause__, psycopg.OperationalError)
    assert Foo.count() == 0  # the transaction did not commit
    Foo.create([{"bar": "kept"}])
    assert Foo.count() == 1


def test_calls_while_the_server_is_down_raise_unavailable_and_recover(private: Any) -> None:
    Foo.create([{"bar": "a"}])
    private.stop()
    calls = (Foo.count, lambda: Foo.create([{"bar": "b"}]), kata.db.transaction().__enter__)
    for call in calls:
        with pytest.raises(kata.db.Unavailable) as info:
            call()
        assert isinstance(info.value.retry_after, int) and info.value.retry_after > 0
        assert isinstance(info.value, kata.db.DatabaseError)
    outcomes = in_threads(Foo.count, 8)
    assert all(isinstance(outcome, kata.db.Unavailable) for outcome in outcomes), outcomes
    private.start()
    assert [foo.bar for foo in Foo.get()] == ["a"]
    assert in_threads(Foo.count, 8) == [1] * 8


def test_a_stop_while_the_pool_is_idle_fails_the_first_call_at_once(private: Any) -> None:
    private.stop()
    with pytest.raises(kata.db.Unavailable):
        Foo.count()
    private.start()
    assert Foo.count() == 0


def test_a_connection_cut_silently_is_replaced_and_the_call_runs_again(database: Any) -> None:
    database.run("CREATE TABLE foo (id serial PRIMARY KEY, bar text UNIQUE, qux int)")
    host, port = database.section["host"], database.section["port"]
    proxy = Proxy(host, port)
    kata.db.initialize({**database.section, "host": "127.0.0.1", "port": proxy.port, "pool_size": 2})
    try:
        Foo.create([{"bar": "a"}])
        proxy.cut()
        assert [foo.bar for foo in Foo.create([{"bar": "b"}])] == ["b"]  # ran once, on a new connection
        assert database.run("SELECT bar FROM foo ORDER BY bar") == [("a",), ("b",)]
        proxy.cut()
        with kata.db.transaction():  # the cut is found at BEGIN: nothing ran, so it starts again
            Foo.update({"qux": 1}, where={"bar": "a"})
        assert database.run("SELECT qux FROM foo WHERE bar = 'a'") == [(1,)]
        with pytest.raises(kata.db.ConnectionLost), kata.db.transaction():
            Foo.update({"qux": 2}, where={"bar": "a"})
            proxy.cut()
            Foo.count()  # a statement ran: never run again
        assert database.run("SELECT qux FROM foo WHERE bar = 'a'") == [(1,)]
    finally:
        kata.db.close()
        proxy.close()
