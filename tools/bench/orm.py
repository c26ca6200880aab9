"""kata.db against raw psycopg, SQLAlchemy Core and peewee: bulk insert and fetch by id, in one run.

    tools/hatch run bench:python tools/bench/orm.py [--rows 10000] [--fetch 1000] [--reps 15]

Starts its own PostgreSQL from the machine's binaries (the test harness's server: loopback
TCP, fsync and synchronous_commit off, so commits cost no disk flush and the figures show
client and protocol costs). Insert: --rows rows of (varchar(100), int) into
``item(id serial primary key, name, qty)``, one transaction, commit included, the table
truncated (untimed) before each call. Fetch: --fetch random ids of the --rows rows. Every
figure is the median of --reps calls in milliseconds; methods are timed in turn,
round-robin, so drift on a shared machine hits them alike.

Single rows: --gets reads of one row by id, each its own call, through kata's pool against a
plain psycopg_pool pool (no check on checkout) and SQLAlchemy Core; and inside one
``kata.db.scope()``; and in one ``get_each`` call, every read sent in one pipeline. Threads: requests of 20 single-row reads each (a scope per request for
kata, one pool checkout per request for psycopg_pool), run by 1 thread and by 4 threads of
one process; the figure is requests per second, median of --reps rounds, and the ratio of 4
threads to 1. Insert: kata's create returns instances with their ids and defaults; the raw
rows use one connection directly. ``kata Item.create`` returns instances
with their ids and defaults; the rows marked "no rows back" return nothing. Two raw rows
are there to show where the time of a create goes: a binary COPY into a temporary table
followed by one INSERT ... SELECT (the other way to get rows back from a COPY), and an
INSERT ... RETURNING whose rows PostgreSQL makes up itself (generate_series), which is
what inserting and returning 10,000 rows costs the server with nothing to receive.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import peewee
import psycopg
import psycopg_pool
import sqlalchemy as sa
from psycopg.rows import dict_row
from sqlalchemy.dialects import postgresql

import kata.db
from kata.db import catalog, statements

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from measure import median_ms, print_table

from kata_harness import servers

TABLE = "CREATE TABLE item (id serial PRIMARY KEY, name varchar(100) NOT NULL, qty int NOT NULL)"


class Item(kata.db.Object):
    __table__ = "item"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--fetch", type=int, default=1_000)
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--gets", type=int, default=200)
    parser.add_argument(
        "--only", choices=["insert", "gets", "threads"], action="append", help="run only these parts"
    )
    args = parser.parse_args()
    print(
        f"PostgreSQL {servers.find_binary('postgres', 'postgres')}, psycopg {psycopg.__version__} "
        f"({psycopg.pq.__impl__}), SQLAlchemy {sa.__version__}, peewee {peewee.__version__}; "
        f"median of {args.reps} calls"
    )
    server = servers.start("postgres")
    try:
        with psycopg.connect(server.dsn("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
            print(conn.execute("SELECT version()").fetchone()[0])  # type: ignore[index]
        with psycopg.connect(server.dsn("bench"), autocommit=True) as conn:
            conn.execute(TABLE)
        kata.db.initialize(
            {"name": "bench", "host": server.host, "port": server.port, "user": "kata", "pool_size": 4}
        )
        parts = set(args.only or ["insert", "gets", "threads"])
        if "insert" in parts:
            bench(server, args.rows, args.fetch, args.reps)
        if "gets" in parts or "threads" in parts:
            with psycopg.connect(server.dsn("bench"), autocommit=True) as conn:
                conn.execute("TRUNCATE item RESTART IDENTITY")
                conn.execute(
                    "INSERT INTO item (name, qty) SELECT 'item ' || i, i % 97 FROM generate_series(1, 10000) i"
                )
        if "gets" in parts:
            bench_gets(server, args.gets, args.reps)
        if "threads" in parts:
            bench_threads(server, args.reps)
    finally:
        kata.db.close()
        server.destroy()


def bench(server: Any, n: int, fetch: int, reps: int) -> None:
    dsn = server.dsn("bench")
    url = f"postgresql+psycopg://kata@{server.host}:{server.port}/bench"
    raw = psycopg.connect(dsn, autocommit=True)
    admin = psycopg.connect(dsn, autocommit=True)
    engine = sa.create_engine(url, pool_size=4)
    meta = sa.MetaData()
    t = sa.Table(
        "item",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String),
        sa.Column("qty", sa.Integer),
    )
    pw_db = peewee.PostgresqlDatabase("bench", host=server.host, port=server.port, user="kata")

    class PwItem(peewee.Model):
        name = peewee.CharField(max_length=100)
        qty = peewee.IntegerField()

        class Meta:
            database = pw_db
            table_name = "item"

    tuples = [(f"item {i}", i % 97) for i in range(n)]
    dicts = [{"name": name, "qty": qty} for name, qty in tuples]

    def truncate() -> None:
        admin.execute("TRUNCATE item RESTART IDENTITY")

    def raw_copy() -> None:
        with raw.transaction(), raw.cursor() as cur, cur.copy("COPY item (name, qty) FROM STDIN") as copy:
            for row in tuples:
                copy.write_row(row)

    def raw_unnest(returning: bool, binary: bool = False) -> Callable[[], Any]:
        statement = "INSERT INTO item (name, qty) SELECT * FROM unnest(%s::varchar[], %s::int[])"
        if binary:
            statement = statement.replace("%s", "%b")
        if returning:
            statement += " RETURNING *"

        def call() -> Any:
            names = [row[0] for row in tuples]
            qtys = [row[1] for row in tuples]
            cur = raw.execute(statement, [names, qtys])
            return cur.fetchall() if returning else None

        return call

    def raw_temp_copy() -> Any:
        # COPY can return nothing, so the rows go through a temporary table with their input
        # positions, and one INSERT ... SELECT in that order returns them.
        with raw.transaction(), raw.cursor() as cur:
            cur.execute("CREATE TEMP TABLE load (ord int4, name varchar, qty int4) ON COMMIT DROP")
            with cur.copy("COPY load (ord, name, qty) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int4", "varchar", "int4"])
                for position, (name, qty) in enumerate(tuples):
                    copy.write_row((position, name, qty))
            cur.execute("INSERT INTO item (name, qty) SELECT name, qty FROM load ORDER BY ord RETURNING *")
            return cur.fetchall()

    def server_alone() -> Any:
        # What the INSERT costs PostgreSQL with nothing to receive: the floor for any
        # statement that returns the rows it inserts.
        statement = "INSERT INTO item (name, qty) SELECT 'item ' || i, i %% 97 FROM generate_series(0, %s) i"
        return raw.execute(statement + " RETURNING *", [n - 1]).fetchall()

    def raw_executemany() -> None:
        with raw.transaction(), raw.cursor() as cur:
            cur.executemany("INSERT INTO item (name, qty) VALUES (%s, %s)", tuples)

    def sa_executemany() -> None:
        with engine.begin() as conn:
            conn.execute(sa.insert(t), dicts)

    def sa_returning() -> Any:
        with engine.begin() as conn:
            return conn.execute(sa.insert(t).returning(*t.c, sort_by_parameter_order=True), dicts).all()

    def pw_insert_many() -> Any:
        with pw_db.atomic():
            return list(PwItem.insert_many(dicts).returning(PwItem).execute())

    results = median_ms(
        {
            "raw psycopg COPY FROM STDIN, write_row (no rows back)": (truncate, raw_copy),
            "raw psycopg INSERT ... unnest (no rows back)": (truncate, raw_unnest(False)),
            "raw psycopg INSERT ... unnest RETURNING *": (truncate, raw_unnest(True)),
            "raw psycopg INSERT ... unnest, binary arrays, RETURNING *": (
                truncate,
                raw_unnest(True, binary=True),
            ),
            "raw psycopg COPY binary to temp table, INSERT ... SELECT RETURNING *": (truncate, raw_temp_copy),
            "raw psycopg INSERT ... SELECT generate_series RETURNING * (no data sent)": (
                truncate,
                server_alone,
            ),
            "raw psycopg executemany (no rows back)": (truncate, raw_executemany),
            "kata Item.create(rows) -> instances": (truncate, lambda: Item.create(dicts)),
            "SQLAlchemy Core insert(t), list (no rows back)": (truncate, sa_executemany),
            "SQLAlchemy Core insert(t).returning(*t.c, sorted)": (truncate, sa_returning),
            "peewee insert_many(dicts).returning(Item) -> models": (truncate, pw_insert_many),
        },
        reps,
    )
    print_table(f"Insert {n:,} rows", results, "raw psycopg COPY FROM STDIN, write_row (no rows back)")
    table = catalog.table("item")
    columns = [(table.columns[name], [row[name] for row in dicts]) for name in ("name", "qty")]
    checks = median_ms(
        {"checks": lambda: [statements.check(c, v, set(map(type, v)), c.bounds) for c, v in columns]}, reps
    )["checks"]
    create = results["kata Item.create(rows) -> instances"]
    print(
        f"\nValue checks of those {n:,} rows (2 columns): {checks:.3f} ms, {checks / create:.1%} of a create"
    )
    truncate()
    check = Item.create(dicts)
    assert len(check) == n and check[-1].id == n and check[-1].name == tuples[-1][0]

    ids = random.Random(5).sample([item.id for item in check], fetch)
    any_statement = "SELECT * FROM item WHERE id = ANY(%s)"
    dict_cursor = raw.cursor(row_factory=dict_row)
    sa_any = sa.select(t).where(t.c.id == sa.any_(sa.bindparam("ids", type_=postgresql.ARRAY(sa.Integer))))

    def sa_in() -> Any:
        with engine.connect() as conn:
            return conn.execute(sa.select(t).where(t.c.id.in_(ids))).all()

    def sa_any_mappings() -> Any:
        with engine.connect() as conn:
            return conn.execute(sa_any, {"ids": ids}).mappings().all()

    results = median_ms(
        {
            "raw psycopg = ANY(%s), tuples": (None, lambda: raw.execute(any_statement, [ids]).fetchall()),
            "raw psycopg = ANY(%s), dicts": (
                None,
                lambda: dict_cursor.execute(any_statement, [ids]).fetchall(),
            ),
            "kata Item.get_in('id', ids) -> instances": (None, lambda: Item.get_in("id", ids)),
            "kata Item.get({'id': ids}) -> instances": (None, lambda: Item.get({"id": ids})),
            "SQLAlchemy Core select().where(id.in_(ids))": (None, sa_in),
            "SQLAlchemy Core id == any_(ids), mappings": (None, sa_any_mappings),
            "peewee select().where(id.in_(ids)) -> models": (
                None,
                lambda: list(PwItem.select().where(PwItem.id.in_(ids))),
            ),
        },
        reps * 3,
    )
    print_table(f"Fetch {fetch:,} rows by id out of {n:,}", results, "raw psycopg = ANY(%s), tuples")
    assert sorted(item.id for item in Item.get_in("id", ids)) == sorted(ids)

    engine.dispose()
    pw_db.close()
    for conn in (raw, admin):
        conn.close()


def bench_gets(server: Any, gets: int, reps: int) -> None:
    """Single-row reads by id, each its own call: what a request that reads one row costs."""
    pool = psycopg_pool.ConnectionPool(
        server.dsn("bench"), min_size=4, max_size=4, kwargs={"autocommit": True}, open=True
    )
    pool.wait()
    engine = sa.create_engine(f"postgresql+psycopg://kata@{server.host}:{server.port}/bench", pool_size=4)
    t = sa.Table(
        "item",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name"),
        sa.Column("qty"),
    )
    by_id = sa.select(t).where(t.c.id == sa.bindparam("id"))
    ids = random.Random(7).sample(range(1, 10_001), gets)
    statement = "SELECT * FROM item WHERE id = %s"

    def plain_pool() -> Any:
        for i in ids:
            with pool.connection() as conn:
                conn.execute(statement, [i]).fetchall()

    def sqlalchemy() -> Any:
        for i in ids:
            with engine.connect() as conn:
                conn.execute(by_id, {"id": i}).all()

    def kata_get() -> Any:
        for i in ids:
            Item.get({"id": i})

    def kata_get_one() -> Any:
        for i in ids:
            Item.get_one({"id": i})

    def kata_scope() -> Any:
        with kata.db.scope():
            for i in ids:
                Item.get_one({"id": i})

    def kata_get_each() -> Any:
        Item.get_each({"id": i} for i in ids)

    results = median_ms(
        {
            "psycopg_pool, a checkout per read": plain_pool,
            "kata Item.get({'id': n}), a checkout per read": kata_get,
            "kata Item.get_one({'id': n}), a checkout per read": kata_get_one,
            "kata Item.get_one({'id': n}) in one kata.db.scope()": kata_scope,
            "kata Item.get_each({'id': n} for n in ids), one pipeline": kata_get_each,
            "SQLAlchemy Core select by id, a checkout per read": sqlalchemy,
        },
        reps,
    )
    print_table(f"{gets} single-row reads by id", results, "psycopg_pool, a checkout per read")
    assert Item.get_one({"id": ids[0]}).id == ids[0]  # type: ignore[union-attr]
    pool.close()
    engine.dispose()


def bench_threads(server: Any, reps: int, per_thread: int = 25) -> None:
    """Requests of 20 single-row reads, by 1 and by 4 threads of one process."""
    pool = psycopg_pool.ConnectionPool(
        server.dsn("bench"), min_size=4, max_size=4, kwargs={"autocommit": True}, open=True
    )
    pool.wait()
    statement = "SELECT * FROM item WHERE id = %s"

    def kata_request(rng: random.Random) -> Any:
        with kata.db.scope():
            return [Item.get_one({"id": rng.randint(1, 10_000)}) for _ in range(20)]

    def pool_request(rng: random.Random) -> Any:
        with pool.connection() as conn:
            return [conn.execute(statement, [rng.randint(1, 10_000)]).fetchall() for _ in range(20)]

    def rate(request: Callable[[random.Random], Any], threads: int) -> float:
        ready = threading.Barrier(threads + 1)
        count = per_thread * 4 // threads  # the same number of requests in all

        def work(seed: int) -> None:
            rng = random.Random(seed)
            ready.wait()
            for _ in range(count):
                request(rng)

        started = [threading.Thread(target=work, args=(seed,)) for seed in range(threads)]
        for thread in started:
            thread.start()
        ready.wait()
        begin = time.perf_counter()
        for thread in started:
            thread.join()
        return threads * count / (time.perf_counter() - begin)

    cases = {"kata, a scope per request": kata_request, "psycopg_pool, a checkout per request": pool_request}
    samples: dict[tuple[str, int], list[float]] = {(name, n): [] for name in cases for n in (1, 4)}
    for _ in range(reps):
        for name, request in cases.items():
            for threads in (1, 4):
                samples[name, threads].append(rate(request, threads))
    print("\nRequests of 20 single-row reads, in one process: requests/s (median)\n")
    print("| method | 1 thread | 4 threads | 4 threads / 1 thread |")
    print("|---|---|---|---|")
    for name in cases:
        one, four = (statistics.median(samples[name, n]) for n in (1, 4))
        print(f"| {name} | {one:.0f} | {four:.0f} | {four / one:.2f}x |")
    pool.close()


if __name__ == "__main__":
    main()
