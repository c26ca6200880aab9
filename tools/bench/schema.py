"""kata.schema.apply against a hand-written psycopg migration loop, in one run.

    tools/hatch run bench:python tools/bench/schema.py [--migrations 100] [--reps 11]

Starts its own PostgreSQL server from the machine's binaries (the test harness's). Each of
--migrations files creates a table with an index and inserts two rows. Two cases, each timed
in turn (round-robin) so drift on a shared machine hits both alike; figures are medians in ms:

- apply all: an empty public schema (dropped and recreated untimed before every call), then
  every migration applied. The hand-written loop reads each file and runs it in one
  transaction with an INSERT into a tracking table, on one connection, without a lock,
  checksums, statement splitting or error lines: the least a correct runner can do.
- up to date: every migration already applied, what each worker of an application pays at
  start. The hand-written check lists the folder and compares it with the tracking table.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import psycopg

import kata.db
import kata.schema

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from measure import median_ms, print_table

from kata_harness import servers

MIGRATION = """\
CREATE TABLE t{n} (id serial PRIMARY KEY, name text NOT NULL, created timestamptz DEFAULT now());
CREATE INDEX t{n}_name ON t{n} (name);
INSERT INTO t{n} (name) VALUES ('a'), ('b');
"""
HAND_TABLE = (
    "CREATE TABLE IF NOT EXISTS public.hand_migrations (version bigint PRIMARY KEY, name text NOT NULL)"
)


def hand_apply(dsn: str, folder: Path) -> int:
    """Apply every unapplied N-name.sql in *folder*, each in a transaction with its row."""
    files = sorted(folder.glob("*.sql"), key=lambda p: int(p.name.partition("-")[0]))
    ran = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(HAND_TABLE)
        done = {row[0] for row in conn.execute("SELECT version FROM public.hand_migrations")}
        for path in files:
            version = int(path.name.partition("-")[0])
            if version in done:
                continue
            with conn.transaction():
                conn.execute(path.read_text())
                conn.execute("INSERT INTO public.hand_migrations VALUES (%s, %s)", [version, path.stem])
            ran += 1
    return ran


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--migrations", type=int, default=100)
    parser.add_argument("--reps", type=int, default=11)
    args = parser.parse_args()

    server = servers.start("postgres")
    try:
        with psycopg.connect(server.dsn("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        dsn = server.dsn("bench")
        kata.db.initialize({"name": "bench", "host": server.host, "port": server.port, "user": server.user})
        folder = Path(tempfile.mkdtemp()) / "schema"
        folder.mkdir()
        for n in range(1, args.migrations + 1):
            (folder / f"{n}-table-{n}.sql").write_text(MIGRATION.format(n=n))

        def empty() -> None:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")

        def kata_apply() -> None:
            assert len(kata.schema.apply(folder)) == args.migrations

        def hand() -> None:
            assert hand_apply(dsn, folder) == args.migrations

        print(f"PostgreSQL {server.port}, {args.migrations} migrations, median of {args.reps}")
        print_table(
            f"apply all {args.migrations} migrations to an empty schema",
            median_ms(
                {"hand-written loop": (empty, hand), "kata.schema.apply": (empty, kata_apply)}, args.reps
            ),
            "hand-written loop",
        )

        empty()
        kata.schema.apply(folder)
        with psycopg.connect(
            dsn, autocommit=True
        ) as conn:  # the same migrations, as the hand loop records them
            conn.execute(HAND_TABLE)
            conn.execute(
                "INSERT INTO public.hand_migrations SELECT version, name FROM public.kata_migrations"
            )

        def nothing() -> None:
            pass

        print_table(
            f"up to date: check {args.migrations} applied migrations",
            median_ms(
                {
                    "hand-written loop": (nothing, lambda: hand_apply(dsn, folder)),
                    "kata.schema.apply": (nothing, lambda: kata.schema.apply(folder)),
                },
                args.reps * 5,
            ),
            "hand-written loop",
        )
    finally:
        kata.db.close()
        server.destroy()


if __name__ == "__main__":
    main()
