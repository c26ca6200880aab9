from __future__ import annotations

import threading
from typing import Any

import pytest

import kata.db


class Foo(kata.db.Object):
    __table__ = "foo"


class Boom(Exception):
    pass


def backend_pid() -> int:
    return int(kata.db.query("SELECT pg_backend_pid() AS pid")[0]["pid"])


def test_a_transaction_commits_at_the_end(db: Any, run: Any) -> None:
    with kata.db.transaction():
        Foo.create([{"bar": "a"}])
        pid = backend_pid()
        assert Foo.count() == 1
        assert run("SELECT count(*) FROM foo") == [(0,)]  # not committed yet
        Foo.update({"qux": 2}, where={"bar": "a"})
        assert backend_pid() == pid
    assert run("SELECT bar, qux FROM foo") == [("a", 2)]


def test_an_exception_rolls_back_and_propagates(db: Any) -> None:
    with pytest.raises(Boom), kata.db.transaction():
        Foo.create([{"bar": "a"}])
        raise Boom
    assert Foo.count() == 0


def test_nested_transactions_are_savepoints(db: Any) -> None:
    with kata.db.transaction():
        Foo.create([{"bar": "outer"}])
        with pytest.raises(Boom), kata.db.transaction():
            Foo.create([{"bar": "inner"}])
            raise Boom
        with kata.db.transaction():
            Foo.create([{"bar": "kept"}])
    assert sorted(foo.bar for foo in Foo.get()) == ["kept", "outer"]


def test_a_failed_create_inside_a_transaction_undoes_only_itself(db: Any) -> None:
    with kata.db.transaction():
        Foo.create([{"bar": "a"}])
        with pytest.raises(kata.db.IntegrityError):
            Foo.create([{"bar": str(i)} for i in range(20_000)] + [{"bar": "a"}])
        Foo.create([{"bar": "b"}])  # the transaction is still usable
    assert sorted(foo.bar for foo in Foo.get()) == ["a", "b"]


def test_an_error_inside_rolls_back_everything(db: Any) -> None:
    with pytest.raises(kata.db.IntegrityError), kata.db.transaction():
        Foo.create([{"bar": "a"}])
        kata.db.execute("INSERT INTO foo (bar) VALUES ('a')")
    assert Foo.count() == 0


def test_threads_use_their_own_connections(db: Any) -> None:
    errors: list[BaseException] = []
    inside = threading.Event()
    checked = threading.Event()

    def other() -> None:
        try:
            inside.wait(10)
            assert Foo.count() == 0  # the open transaction of the main thread is not ours
            Foo.create([{"bar": "other"}])
        except BaseException as exc:
            errors.append(exc)
        finally:
            checked.set()

    thread = threading.Thread(target=other)
    thread.start()
    with kata.db.transaction():
        Foo.create([{"bar": "main"}])
        inside.set()
        checked.wait(10)
        assert Foo.count() == 2  # read committed: the other thread's row is committed
    thread.join()
    assert not errors
    assert Foo.count() == 2


def test_concurrent_use_from_threads(db: Any) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(25):
                created = Foo.create([{"bar": f"{n}-{i}-{j}", "qux": n + 1} for j in range(4)])
                assert [foo.bar for foo in Foo.get_in("id", [foo.id for foo in created])] != []
                with kata.db.transaction():
                    assert Foo.update({"qux": 1000 + n}, where={"bar": created[0].bar}) == 1
                    assert Foo.get({"bar": created[0].bar})[0].qux == 1000 + n
                assert Foo.delete({"bar": created[1].bar}) == 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(12)]  # more than pool_size
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert Foo.count() == 12 * 25 * 3
    for n in range(12):
        assert Foo.count({"qux": 1000 + n}) == 25
        assert Foo.count({"qux": n + 1}) == 50
