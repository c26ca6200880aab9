"""kata.db and ``kata schema apply`` behind a real PgBouncer in transaction pooling mode.

PgBouncer hands each transaction whichever server connection is free, so nothing may rely on
session state: no prepared statements (``prepare: false``), no ``SET``, no session advisory
lock. The harness's PgBouncer runs 4 server connections for the 16 client connections used
here, so consecutive transactions of one client land on different servers all the time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest

import kata.db

BIN = Path(sys.executable).parent
TABLE = "CREATE TABLE item (id serial PRIMARY KEY, worker text NOT NULL, n int NOT NULL, note text)"

# One process: 8 threads, each doing a mix of model calls, raw SQL and transactions through
# PgBouncer; prints the errors it met (as text) and how many rows each thread created.
WORKER = textwrap.dedent(
    """
    import json, sys, threading
    import kata.db

    section, process = json.loads(sys.argv[1]), sys.argv[2]
    kata.db.initialize(section)

    class Item(kata.db.Object):
        __table__ = "item"

    errors, created = [], {}

    def work(thread):
        worker = f"{process}-{thread}"
        made = 0
        try:
            for n in range(40):
                [item] = Item.create([{"worker": worker, "n": n}])
                made += 1
                assert Item.get({"id": item.id})[0].n == n
                assert Item.count({"worker": worker}) == made
                assert len(Item.get_in("id", [item.id])) == 1
                with kata.db.transaction():
                    # Rows with different columns: two statements, pipelined, in one transaction.
                    Item.create([{"worker": worker, "n": -1}, {"worker": worker, "n": -2, "note": "x"}])
                    rows = kata.db.query("SELECT count(*) AS c FROM item WHERE worker = %s", [worker])
                    assert rows[0]["c"] == made + 2
                    kata.db.execute("DELETE FROM item WHERE worker = %s AND n < 0", [worker])
        except Exception as exc:
            errors.append(f"{worker}: {type(exc).__name__}: {exc}")
        created[worker] = made

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kata.db.close()
    print(json.dumps({"errors": errors, "created": created}))
    """
)


def test_kata_db_runs_8_threads_in_2_processes_through_transaction_pooling(database, pgbouncer):
    database.run(TABLE)
    section = {**database.section, "port": pgbouncer.port, "prepare": False, "pool_size": 8}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, json.dumps(section), str(p)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for p in range(2)
    ]
    results = []
    for proc in processes:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    assert [r["errors"] for r in results] == [[], []]
    created = {worker: n for r in results for worker, n in r["created"].items()}
    assert len(created) == 16 and set(created.values()) == {40}
    # What the workers wrote is in the database, seen directly rather than through PgBouncer.
    assert database.run("SELECT worker, count(*), min(n) FROM item GROUP BY worker ORDER BY worker") == [
        (worker, 40, 0) for worker in sorted(created)
    ]


def test_prepared_statements_are_what_transaction_pooling_breaks(database, pgbouncer):
    # The reason for `prepare: false`: with it on, a statement prepared on one server connection
    # is soon run on another that does not know it.
    database.run(TABLE)
    section = {**database.section, "port": pgbouncer.port, "prepare": True, "pool_size": 8}
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, json.dumps(section), "0"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    errors = json.loads(proc.stdout)["errors"]
    assert errors and any("prepared statement" in e for e in errors), errors


def test_statement_timeout_set_on_the_role_applies_through_pgbouncer(database, pgbouncer):
    # The README's recipe: PgBouncer does not pass on the startup `options` kata.db would use,
    # so the timeout goes on the role (here for this database only), and every server
    # connection PgBouncer opens starts with it.
    database.run(
        f"ALTER ROLE {database.target.user} IN DATABASE {database.name} SET statement_timeout = '300ms'"
    )
    kata.db.initialize({**database.section, "port": pgbouncer.port, "prepare": False})
    try:
        assert kata.db.query("SELECT current_setting('statement_timeout') AS t") == [{"t": "300ms"}]
        with pytest.raises(kata.db.DatabaseError, match="statement timeout"):
            kata.db.query("SELECT pg_sleep(3)")
        # The server connection that timed out serves the next call as usual.
        assert kata.db.query("SELECT 1 AS one") == [{"one": 1}]
    finally:
        kata.db.close()


def test_statement_timeout_from_kata_db_is_refused_by_pgbouncer_with_its_reason(database, pgbouncer):
    with pytest.raises(kata.db.DatabaseError, match="unsupported startup parameter: options"):
        kata.db.initialize(
            {**database.section, "port": pgbouncer.port, "prepare": False, "statement_timeout": 1}
        )


def test_a_session_lock_is_not_held_across_transactions_in_transaction_pooling(database, pgbouncer):
    # Why `kata schema apply` refuses PgBouncer: the advisory lock stays with a server
    # connection that PgBouncer then lends to another client.
    dsn = pgbouncer.dsn(database.name)
    with (
        psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as holder,
        psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as other,
    ):
        assert holder.execute("SELECT pg_try_advisory_lock(42)").fetchone() == (True,)
        # Served by the server connection the holder just released: it "holds" the lock too.
        assert other.execute("SELECT pg_try_advisory_lock(42)").fetchone() == (True,)
        other.execute("SELECT pg_advisory_unlock_all()")


def test_kata_schema_apply_through_pgbouncer_is_refused_and_says_where_to_point_it(
    database, pgbouncer, tmp_path
):
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "1-item.sql").write_text(TABLE + ";\n")
    (tmp_path / "config").mkdir()
    settings = {**database.section, "port": pgbouncer.port, "prepare": False}
    (tmp_path / "config" / "dev.yaml").write_text(json.dumps({"database": settings}))
    env = {k: v for k, v in os.environ.items() if k != "CONFIG"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        [str(BIN / "kata"), "schema", "apply"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "connection pooler" in result.stderr
    assert "Point migrations at the PostgreSQL server directly" in result.stderr
    # Nothing was applied: no table, no tracking table.
    assert database.run("SELECT to_regclass('item') IS NULL, to_regclass('kata_migrations') IS NULL") == [
        (True, True)
    ]
    # Pointed at the server itself, the same files apply.
    settings["port"] = database.target.port
    (tmp_path / "config" / "dev.yaml").write_text(json.dumps({"database": settings}))
    result = subprocess.run(
        [str(BIN / "kata"), "schema", "apply"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert database.run("SELECT count(*) FROM item") == [(0,)]
