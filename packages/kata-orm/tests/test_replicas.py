"""Reads on a real streaming replica (pg_basebackup -R), writes and transactions on the primary.

To tell which server answered, the replica's WAL replay is paused: a row written on the
primary afterwards is on the primary only, so a read that finds it ran on the primary and a
read that does not ran on the replica.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

import kata.db
from kata.db import replicas

TABLE = "CREATE TABLE foo (id serial PRIMARY KEY, bar text, qux int)"


class Foo(kata.db.Object):
    __table__ = "foo"


@pytest.fixture
def replicated(replicated_database: Any, replication: Any) -> Iterator[Any]:
    """kata.db on the replication primary with its replica; table foo on both."""
    replicated_database.run(TABLE)
    replication.replica.caught_up()
    section = {
        **replicated_database.section,
        "replicas": [{"host": replication.replica.host, "port": replication.replica.port}],
        "read_your_writes": 0.5,
    }
    kata.db.initialize(section)
    try:
        yield replicated_database
    finally:
        kata.db.close()
        if not replication.replica.running:
            replication.replica.start()
        _replica_sql(replication, replicated_database, "SELECT pg_wal_replay_resume()")


def _replica_sql(replication: Any, database: Any, statement: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(replication.replica.dsn(database.name), autocommit=True) as conn:
        cursor = conn.execute(statement.encode())
        return cursor.fetchall() if cursor.description else []


def _primary_only_row(replication: Any, database: Any) -> None:
    """Pause the replica's replay, then write a row that only the primary has."""
    replication.replica.caught_up()
    _replica_sql(replication, database, "SELECT pg_wal_replay_pause()")
    database.run("INSERT INTO foo (bar, qux) VALUES ('primary only', 1)")


def _in_other_thread(call: Any) -> Any:
    found: list[Any] = []
    thread = threading.Thread(target=lambda: found.append(call()))
    thread.start()
    thread.join()
    return found[0]


def test_reads_run_on_the_replica_and_the_rest_on_the_primary(replicated, replication):
    _primary_only_row(replication, replicated)
    where = {"bar": "primary only"}
    assert Foo.get(where) == []
    assert Foo.get_in("bar", ["primary only"]) == []
    assert Foo.count(where) == 0
    read_only = kata.db.query("SELECT pg_is_in_recovery() AS replica, count(*) AS n FROM foo", read_only=True)
    assert read_only == [{"replica": True, "n": 0}]
    # A query not marked read-only may write: it runs on the primary.
    assert kata.db.query("SELECT pg_is_in_recovery() AS replica, count(*) AS n FROM foo") == [
        {"replica": False, "n": 1}
    ]
    with kata.db.transaction():
        assert [row.bar for row in Foo.get(where)] == ["primary only"]
        assert Foo.count(where) == 1


def test_a_thread_reads_its_own_writes_from_the_primary_for_read_your_writes_seconds(replicated, replication):
    _primary_only_row(replication, replicated)
    where = {"bar": "primary only"}
    Foo.create([{"bar": "mine", "qux": 2}])
    # Within the window this thread reads the primary, and sees its own row and the other one.
    assert sorted(row.bar for row in Foo.get()) == ["mine", "primary only"]
    assert Foo.count(where) == 1
    # Another thread that wrote nothing reads the replica, where neither row has arrived.
    assert _in_other_thread(lambda: Foo.count()) == 0
    time.sleep(0.6)  # past read_your_writes (0.5 s)
    assert Foo.count() == 0
    # A transaction counts as a write too.
    with kata.db.transaction():
        pass
    assert Foo.count() == 2


def test_stats_report_the_primary_and_each_replica(replicated, replication):
    Foo.count()
    found = kata.db.stats()
    replica = f"{replication.replica.host}:{replication.replica.port}"
    assert set(found) == {"primary", replica}
    assert found["primary"].size == found[replica].size == 4
    assert found["primary"].in_use == found[replica].in_use == 0


def test_a_replica_that_is_down_costs_no_read(replicated, replication, monkeypatch):
    monkeypatch.setattr(replicas, "RETRY_INTERVAL", 0.2)
    Foo.create([{"bar": f"row {n}", "qux": n} for n in range(1, 21)])
    replication.replica.caught_up()
    time.sleep(0.6)  # past read_your_writes: reads go to the replica again
    assert kata.db.query("SELECT pg_is_in_recovery() AS r", read_only=True) == [{"r": True}]

    errors: list[str] = []
    results: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                results.append(len(Foo.get({"qux": list(range(1, 21))})))
                results.append(Foo.count())
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.3)
        replication.replica.kill()  # a crash: its connections end mid-read
        time.sleep(0.5)
        # With the replica gone, the reads run on the primary.
        assert kata.db.query("SELECT pg_is_in_recovery() AS r", read_only=True) == [{"r": False}]
        replication.replica.start()
        replication.replica.caught_up()
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert errors == []
    assert results and set(results) == {20}
    # Back after RETRY_INTERVAL, the replica serves reads again.
    deadline = time.monotonic() + 10
    while kata.db.query("SELECT pg_is_in_recovery() AS r", read_only=True) != [{"r": True}]:
        assert time.monotonic() < deadline, "reads did not return to the restarted replica"
        time.sleep(0.1)


def test_reads_skip_a_replica_that_cannot_be_reached(replicated_database, replication):
    replicated_database.run(TABLE)
    replicated_database.run("INSERT INTO foo (bar, qux) VALUES ('x', 1)")
    replication.replica.caught_up()
    from kata_harness.servers import free_port

    nowhere = {"host": "127.0.0.1", "port": free_port()}
    working = {"host": replication.replica.host, "port": replication.replica.port}
    kata.db.initialize({**replicated_database.section, "replicas": [nowhere, working]})
    try:
        for _ in range(6):
            assert kata.db.query(
                "SELECT pg_is_in_recovery() AS r, count(*) AS n FROM foo", read_only=True
            ) == [{"r": True, "n": 1}]
    finally:
        kata.db.close()


@pytest.mark.parametrize(
    ("replicas_value", "key", "problem"),
    [
        ([{"port": 5432}], "replicas[0].host", "missing required key 'host'"),
        ([{"host": "db2", "port": 0}], "replicas[0].port", "expected int >= 1, got 0"),
        ([{"host": "db2", "hots": "x"}], "replicas[0].hots", "unknown key; did you mean 'host'"),
        ("db2:5432", "replicas", "expected array, got 'db2:5432'"),
    ],
)
def test_bad_replica_settings_name_the_key(replicas_value, key, problem):
    section = {"name": "app", "host": "localhost", "user": "app", "replicas": replicas_value}
    with pytest.raises(kata.db.ConfigurationError, match=problem) as caught:
        kata.db.initialize(section)
    assert caught.value.key == key


def test_read_your_writes_must_be_zero_or_more_seconds():
    section = {"name": "app", "host": "localhost", "user": "app", "read_your_writes": -1}
    with pytest.raises(kata.db.ConfigurationError) as caught:
        kata.db.initialize(section)
    assert caught.value.key == "read_your_writes"
