"""get_each: one row per where mapping, the queries sent together in one pipeline."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest

import kata.db
from kata_harness.proxy import Proxy


class Foo(kata.db.Object):
    __table__ = "foo"


def test_get_each_returns_each_mappings_row_in_order(db: Any) -> None:
    a, b, c = Foo.create([{"bar": "a", "qux": 1}, {"bar": "b", "qux": 1}, {"bar": "c", "qux": 2}])
    missing = a.id + b.id + c.id
    assert Foo.get_each({"id": id} for id in [c.id, missing, a.id, c.id]) == [c, None, a, c]
    # Mappings of different shapes: one pipeline per shape, the answers still in order.
    assert Foo.get_each(
        [{"bar": "b"}, {"id": a.id}, {"bar": "zzz"}, {"qux": 2, "bar": "c"}, {"id": b.id}]
    ) == [
        b,
        a,
        None,
        c,
        b,
    ]
    assert Foo.get_each([]) == []


def test_get_each_refuses_what_get_one_refuses(db: Any, run: Any) -> None:
    a, _ = Foo.create([{"bar": "a", "qux": 1}, {"bar": "b", "qux": 1}])
    with pytest.raises(kata.db.DatabaseError, match=r"more than one row matches \{'qux': 1\}"):
        Foo.get_each([{"id": a.id}, {"qux": 1}])
    with pytest.raises(ValueError, match="each pick one row"):
        Foo.get_each([{"id": a.id}, {}])
    with pytest.raises(kata.db.UnknownColumnError, match="nope"):
        Foo.get_each([{"id": a.id}, {"nope": 1}])
    with pytest.raises(kata.db.InvalidValue, match="qux"):
        Foo.get_each([{"id": a.id}, {"qux": 2**40}])
    # The connection is fine afterwards (a failed pipeline leaves nothing behind).
    assert Foo.get_each([{"id": a.id}]) == [a]


class ExecuteCounter:
    """Counts the Execute messages of the PostgreSQL protocol that clients send through a
    :class:`Proxy` (as its *watch*)."""

    def __init__(self) -> None:
        self.count = 0
        self.counted = threading.Condition()
        self.pending: dict[socket.socket, bytes] = {}
        self.typed: set[socket.socket] = set()

    def __call__(self, client: socket.socket, data: bytes) -> None:
        pending = self.pending.get(client, b"") + data
        while True:
            if client not in self.typed:
                # The startup packet, and an SSL or GSS request before it, have no type byte.
                if len(pending) < 8 or len(pending) < int.from_bytes(pending[:4], "big"):
                    break
                if int.from_bytes(pending[4:8], "big") not in (80877103, 80877104):
                    self.typed.add(client)
                pending = pending[int.from_bytes(pending[:4], "big") :]
                continue
            if len(pending) < 5 or len(pending) < 1 + int.from_bytes(pending[1:5], "big"):
                break
            if pending[:1] == b"E":
                with self.counted:
                    self.count += 1
                    self.counted.notify_all()
            pending = pending[1 + int.from_bytes(pending[1:5], "big") :]
        self.pending[client] = pending

    def wait_for(self, count: int) -> bool:
        with self.counted:
            return self.counted.wait_for(lambda: self.count >= count, timeout=30)


def test_get_each_sends_every_query_before_it_reads_a_result(database: Any) -> None:
    database.run("CREATE TABLE foo (id serial PRIMARY KEY, bar text, qux int)")
    database.run("INSERT INTO foo (bar, qux) SELECT 'row' || n, n FROM generate_series(1, 50) AS n")
    executes = ExecuteCounter()
    proxy = Proxy(database.section["host"], database.section["port"], watch=executes)
    kata.db.initialize({**database.section, "host": "127.0.0.1", "port": proxy.port, "pool_size": 1})
    try:
        assert Foo.count() == 50  # the pool's connection is open and idle
        ids = [7, 3, 50, 3, 1, 99, 20, 8]
        answers: list[Any] = []
        proxy.hold()
        before = executes.count
        reader = threading.Thread(target=lambda: answers.append(Foo.get_each({"id": id} for id in ids)))
        reader.start()
        # Every query reached the server while none of its replies could reach the client.
        assert executes.wait_for(before + len(ids)), executes.count - before
        assert answers == []
        proxy.release()
        reader.join(30)
        [rows] = answers
        assert [row and (row.id, row.bar) for row in rows] == [
            None if id > 50 else (id, f"row{id}") for id in ids
        ]
    finally:
        proxy.close()  # first: it lets a held reply through
        kata.db.close()
