"""kata.db.scope(): the calls of one block share one pooled connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

import kata.db


class Foo(kata.db.Object):
    __table__ = "foo"


class Boom(Exception):
    pass


def backend_pid() -> int:
    return int(kata.db.query("SELECT pg_backend_pid() AS pid")[0]["pid"])


def elsewhere(call: Callable[[], Any]) -> Any:
    """The outcome of *call* run in another thread (its result, or the exception)."""
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append(call())
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    return outcome[0]


@pytest.fixture
def one(db: Any) -> Any:
    """kata.db with a pool of one connection, so a connection held is seen by other threads."""
    kata.db.initialize({**db.section, "pool_size": 1, "pool_timeout": 0.3})
    return db


def test_the_calls_of_a_scope_share_one_connection(db: Any) -> None:
    with kata.db.scope():
        pid = backend_pid()
        Foo.create([{"bar": "a"}])
        assert Foo.get_in("bar", ["a"])[0].bar == "a"
        with kata.db.transaction():
            assert backend_pid() == pid
        with kata.db.connection() as conn:
            assert conn.execute("SELECT pg_backend_pid()").fetchone() == (pid,)
        with kata.db.scope():  # nested: the same connection
            assert backend_pid() == pid
        assert backend_pid() == pid


def test_a_scope_takes_a_connection_only_at_its_first_call(one: Any) -> None:
    with kata.db.scope():
        assert elsewhere(Foo.count) == 0  # the scope holds nothing yet
        Foo.count()
        assert isinstance(elsewhere(Foo.count), kata.db.PoolTimeout)  # now it holds the only one
    assert elsewhere(Foo.count) == 0


def test_a_scope_gives_its_connection_back_when_it_raises(one: Any) -> None:
    with pytest.raises(Boom), kata.db.scope():
        Foo.count()
        raise Boom
    assert elsewhere(Foo.count) == 0


def test_a_transaction_left_open_in_a_scope_is_rolled_back(one: Any, run: Any) -> None:
    with kata.db.scope():
        with kata.db.connection() as conn:
            conn.execute("BEGIN")
            conn.execute("INSERT INTO foo (bar) VALUES ('uncommitted')")
        assert Foo.count() == 1  # the same connection, inside the open transaction
    assert run("SELECT count(*) FROM foo") == [(0,)]
    assert elsewhere(Foo.count) == 0 and Foo.count() == 0


def test_a_connection_broken_in_a_scope_is_replaced(one: Any) -> None:
    with kata.db.scope():
        pid = backend_pid()
        with pytest.raises(kata.db.ConnectionLost):
            kata.db.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        assert backend_pid() != pid  # the next call of the scope runs on a new connection
    assert Foo.create([{"bar": "after"}])[0].bar == "after"
    assert elsewhere(Foo.count) == 1


def test_a_scope_without_calls_needs_no_configuration() -> None:
    kata.db.close()
    with kata.db.scope():
        pass
    with pytest.raises(kata.db.NotInitializedError), kata.db.scope():
        Foo.count()


def test_each_thread_has_its_own_scope(db: Any) -> None:
    with kata.db.scope():
        pid = backend_pid()
        assert elsewhere(backend_pid) != pid


def test_a_scoped_function_runs_each_call_in_a_scope_of_its_own(one: Any) -> None:
    seen: list[tuple[int, int, Any]] = []

    @kata.db.scoped
    def work(tag: str, *, fail: bool = False) -> str:
        """Two calls and a look from another thread."""
        seen.append((backend_pid(), backend_pid(), elsewhere(Foo.count)))
        if fail:
            raise Boom
        return tag

    assert work("a") == "a"
    first, second, other = seen[0]
    assert first == second  # one connection for both calls
    assert isinstance(other, kata.db.PoolTimeout)  # held for the whole call
    assert elsewhere(Foo.count) == 0  # and given back after it
    with pytest.raises(Boom):
        work("b", fail=True)
    assert elsewhere(Foo.count) == 0  # given back when it raises too
    assert work.__name__ == "work" and work.__doc__ == "Two calls and a look from another thread."


def test_a_scoped_function_called_in_a_scope_uses_its_connection(db: Any) -> None:
    @kata.db.scoped
    def pid() -> int:
        return backend_pid()

    with kata.db.scope():
        outer = backend_pid()
        assert pid() == outer
        assert backend_pid() == outer  # the inner call did not give it back


def test_a_scoped_function_without_calls_needs_no_configuration() -> None:
    kata.db.close()
    assert kata.db.scoped(lambda: 7)() == 7
