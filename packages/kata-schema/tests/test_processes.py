"""Several processes applying the same migrations at once, as gunicorn workers starting together do."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("migrate_worker.py")


def start_worker(database, schema, start, **env):
    return subprocess.Popen(
        [sys.executable, str(WORKER), json.dumps(database.section), str(schema), str(start)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def wait_for(check, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_three_processes_at_once_apply_each_migration_exactly_once(database, write, run, schema, tmp_path):
    write(
        {
            "1-tables.sql": (
                "CREATE TABLE ran (version int NOT NULL, pid int NOT NULL DEFAULT pg_backend_pid());\n"
                "CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 20000) g;\n"
                "INSERT INTO ran (version) VALUES (1);\n"
                "SELECT pg_sleep(0.5);  -- the others are waiting for the lock by now\n"
            ),
            "2-slow.sql": "INSERT INTO ran (version) VALUES (2);\nSELECT pg_sleep(0.3);",
            # A waiter blocked in pg_advisory_lock() would deadlock with this index build.
            "3-index.sql": (
                "-- kata:no-transaction\n"
                "CREATE INDEX CONCURRENTLY items_id ON items (id);\n"
                "INSERT INTO ran (version) VALUES (3);\n"
            ),
            "4-last.sql": "INSERT INTO ran (version) VALUES (4);",
        }
    )
    start = tmp_path / "start"
    start.mkdir()
    workers = [start_worker(database, schema, start) for _ in range(3)]
    try:
        wait_for(
            lambda: len(list(start.glob("ready-*"))) == 3 or any(w.poll() is not None for w in workers),
            "workers",
        )
        (start / "go").touch()
        results = [worker.communicate(timeout=120) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    for worker, (_, err) in zip(workers, results, strict=True):
        assert worker.returncode == 0, err
    applied = sorted((json.loads(out) for out, _ in results), key=len)
    # The first to take the lock applies everything; the others find it done.
    assert applied == [[], [], [1, 2, 3, 4]]
    assert run("SELECT version, count(*) FROM ran GROUP BY version ORDER BY version") == [
        (1, 1),
        (2, 1),
        (3, 1),
        (4, 1),
    ]
    assert run("SELECT version FROM kata_migrations ORDER BY version") == [(1,), (2,), (3,), (4,)]
    assert run("SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_id'::regclass") == [(True,)]


def test_a_process_killed_while_migrating_frees_the_lock_and_leaves_nothing_half_done(
    database, write, run, schema, tmp_path
):
    write(
        {
            "1-a.sql": (
                "CREATE TABLE ran (version int NOT NULL, pid int NOT NULL DEFAULT pg_backend_pid());\n"
                "INSERT INTO ran (version) VALUES (1);\n"
                # Only the first worker is told to sleep here: it is killed in the middle.
                "SELECT pg_sleep(current_setting('kata_test.sleep', true)::float);\n"
            ),
            "2-b.sql": "INSERT INTO ran (version) VALUES (2);",
        }
    )
    start = tmp_path / "start"
    start.mkdir()
    (start / "go").touch()
    # client_connection_check_interval lets the server notice the dead client during pg_sleep.
    victim = start_worker(
        database, schema, start, PGOPTIONS="-c kata_test.sleep=600 -c client_connection_check_interval=100"
    )
    try:
        sleeping = "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT pg_sleep(current_setting%'"
        wait_for(
            lambda: run(sleeping) == [(1,)] or victim.poll() is not None,
            "the first worker to start migrating",
        )
        assert victim.poll() is None, victim.communicate()
        victim.send_signal(signal.SIGKILL)
        victim.wait()
    finally:
        if victim.poll() is None:
            victim.kill()
    survivor = start_worker(database, schema, start)
    out, err = survivor.communicate(timeout=120)
    assert survivor.returncode == 0, err
    assert json.loads(out) == [1, 2]
    assert run("SELECT version, count(*) FROM ran GROUP BY version ORDER BY version") == [(1, 1), (2, 1)]
