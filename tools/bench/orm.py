"""kata.db against raw psycopg, SQLAlchemy Core and peewee: bulk insert and fetch by id, in one run.

    tools/hatch run bench:python tools/bench/orm.py [--rows 10000] [--fetch 1000] [--reps 15]

Starts its own PostgreSQL from the machine's binaries (the test harness's server: loopback
TCP, fsync and synchronous_commit off, so commits cost no disk flush and the figures show
client and protocol costs). Insert: --rows rows of (varchar(100), int) into
``item(id serial primary key, name, qty)``, one transaction, commit included, the table
truncated (untimed) before each call. Fetch: --fetch random ids of the --rows rows. Every
figure is the median of --reps calls in milliseconds; methods are timed in turn,
round-robin, so drift on a shared machine hits them alike.

kata goes through its pool, which checks each connection with a round trip before handing
it out; the raw rows use one connection directly. ``kata Item.create`` returns instances
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
import sys
from collections.abc import Callable
from typing import Any

import peewee
import psycopg
import sqlalchemy as sa
from psycopg.rows import dict_row
from sqlalchemy.dialects import postgresql

import kata.db

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
        bench(server, args.rows, args.fetch, args.reps)
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


if __name__ == "__main__":
    main()
