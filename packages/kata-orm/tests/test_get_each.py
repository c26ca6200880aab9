"""get_each: one row per where mapping, the queries sent together in one pipeline."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest

import kata.db


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


class HoldingProxy:
    """A TCP forwarder to PostgreSQL that can hold back the server's replies, and counts the
    Execute messages its clients send. While replies are held, a client that waits for each
    result before it sends the next query gets one query out; one that pipelines, all."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.released = threading.Event()
        self.released.set()
        self.executes = 0
        self.counted = threading.Condition()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self.sockets += [client, server]
            threading.Thread(target=self.from_client, args=(client, server), daemon=True).start()
            threading.Thread(target=self.from_server, args=(server, client), daemon=True).start()

    def from_client(self, client: socket.socket, server: socket.socket) -> None:
        pending = b""
        untyped = True  # the startup packet, and an SSL or GSS request before it, have no type byte
        while True:
            try:
                data = client.recv(65536)
                if not data:
                    break
                server.sendall(data)
            except OSError:
                break
            pending += data
            while True:
                if untyped:
                    if len(pending) < 8 or len(pending) < int.from_bytes(pending[:4], "big"):
                        break
                    code = int.from_bytes(pending[4:8], "big")
                    pending = pending[int.from_bytes(pending[:4], "big") :]
                    untyped = code in (80877103, 80877104)  # SSLRequest, GSSENCRequest
                    continue
                if len(pending) < 5 or len(pending) < 1 + int.from_bytes(pending[1:5], "big"):
                    break
                if pending[:1] == b"E":
                    with self.counted:
                        self.executes += 1
                        self.counted.notify_all()
                pending = pending[1 + int.from_bytes(pending[1:5], "big") :]
        server.close()

    def from_server(self, server: socket.socket, client: socket.socket) -> None:
        while True:
            try:
                data = server.recv(65536)
                self.released.wait()
                if not data:
                    break
                client.sendall(data)
            except OSError:
                break
        client.close()

    def wait_for_executes(self, count: int) -> bool:
        with self.counted:
            return self.counted.wait_for(lambda: self.executes >= count, timeout=30)

    def close(self) -> None:
        self.released.set()
        self.listener.close()
        for sock in self.sockets:
            sock.close()


def test_get_each_sends_every_query_before_it_reads_a_result(database: Any) -> None:
    database.run("CREATE TABLE foo (id serial PRIMARY KEY, bar text, qux int)")
    database.run("INSERT INTO foo (bar, qux) SELECT 'row' || n, n FROM generate_series(1, 50) AS n")
    proxy = HoldingProxy(database.section["host"], database.section["port"])
    kata.db.initialize({**database.section, "host": "127.0.0.1", "port": proxy.port, "pool_size": 1})
    try:
        assert Foo.count() == 50  # the pool's connection is open and idle
        ids = [7, 3, 50, 3, 1, 99, 20, 8]
        answers: list[Any] = []
        proxy.released.clear()
        before = proxy.executes
        reader = threading.Thread(target=lambda: answers.append(Foo.get_each({"id": id} for id in ids)))
        reader.start()
        # Every query reached the server while none of its replies could reach the client.
        assert proxy.wait_for_executes(before + len(ids)), proxy.executes - before
        assert answers == []
        proxy.released.set()
        reader.join(30)
        [rows] = answers
        assert [row and (row.id, row.bar) for row in rows] == [
            None if id > 50 else (id, f"row{id}") for id in ids
        ]
    finally:
        proxy.close()  # first: it lets a held reply through
        kata.db.close()
