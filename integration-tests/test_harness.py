"""The test harness starts real servers, stops them however a run ends, and fails loudly without them."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parent.parent / "tools"

# A test run of its own that starts a Redis server, says where, and waits to be stopped.
WAITING_TEST = """
import pathlib, time

def test_wait(redis_server):
    pathlib.Path({ready!r}).write_text(str(redis_server.port))
    time.sleep(120)
"""

NEEDS_REDIS_TEST = """
def test_needs_redis(redis_server):
    pass
"""


def _run_pytest(tmp_path: Path, source: str, env_update: dict[str, str]) -> subprocess.Popen[str]:
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(source))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KATA_TEST_")}
    env["PYTHONPATH"] = str(TOOLS)
    # The servers' work folders go here, so that a killed run leaves nothing in the real /tmp.
    (tmp_path / "tmp").mkdir()
    env["TMPDIR"] = str(tmp_path / "tmp")
    env.update(env_update)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "kata_harness.plugin",
            "-p",
            "no:cacheprovider",
            "-q",
            "test_inner.py",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _wait_for_file(path: Path, proc: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 60
    while not path.exists() or not path.read_text():
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the inner test run did not start its server"
        time.sleep(0.05)
    return int(path.read_text())


def _wait_gone(port: int) -> bool:
    deadline = time.monotonic() + 20
    while _answers(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "killed"])
def test_servers_stop_when_the_run_is_interrupted(tmp_path, how):
    ready = tmp_path / "port"
    proc = _run_pytest(tmp_path, WAITING_TEST.format(ready=str(ready)), {})
    try:
        port = _wait_for_file(ready, proc)
        assert _answers(port), "the harness's Redis server does not answer"
        proc.send_signal(how)
        proc.communicate(timeout=60)
        # Ctrl-C ends the run through pytest's teardown; SIGKILL leaves no teardown, and the
        # server goes because it was started to die with its parent.
        assert _wait_gone(port), f"the Redis server on port {port} outlived its test run"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_missing_server_binary_fails_the_test_and_says_what_to_install(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    proc = _run_pytest(tmp_path, NEEDS_REDIS_TEST, {"PATH": str(empty)})
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1, output
    assert "redis-server not found" in output
    assert "apt-get install redis-server" in output
    assert "KATA_TEST_REDIS_URL" in output
    assert "skipped" not in output


NEEDS_PGBOUNCER_TEST = """
def test_needs_pgbouncer(pgbouncer):
    pass
"""

WAITING_FOR_MANY_TEST = """
import pathlib, time

def test_wait(pgbouncer, replication):
    ports = [pgbouncer.port, replication.primary.port, replication.replica.port]
    pathlib.Path({ready!r}).write_text(" ".join(map(str, ports)))
    time.sleep(120)
"""


def test_a_missing_pgbouncer_fails_the_test_and_says_what_to_install(tmp_path, postgres_target):
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {"PATH": str(empty), "KATA_TEST_POSTGRES_DSN": postgres_target.dsn(postgres_target.admin_dbname)}
    proc = _run_pytest(tmp_path, NEEDS_PGBOUNCER_TEST, env)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1, output
    assert "pgbouncer not found" in output
    assert "apt-get install pgbouncer" in output
    assert "skipped" not in output


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_pgbouncer_and_the_replication_pair_die_with_a_killed_run(tmp_path):
    ready = tmp_path / "ports"
    # PostgreSQL runs as another user: its folders go where that user may reach them.
    workdirs = tempfile.mkdtemp(prefix="kata-test-run-")
    os.chmod(workdirs, 0o755)
    proc = _run_pytest(tmp_path, WAITING_FOR_MANY_TEST.format(ready=str(ready)), {"TMPDIR": workdirs})
    try:
        deadline = time.monotonic() + 90
        while not ready.exists() or not ready.read_text():
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "the inner test run did not start its servers"
            time.sleep(0.05)
        ports = [int(p) for p in ready.read_text().split()]
        assert all(_listening(port) for port in ports)
        proc.kill()
        proc.communicate(timeout=60)
        deadline = time.monotonic() + 20
        while any(_listening(port) for port in ports):
            assert time.monotonic() < deadline, f"a server on {ports} outlived its test run"
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdirs, ignore_errors=True)


def test_the_replica_streams_what_the_primary_writes(replicated_database, replication):
    replicated_database.run("CREATE TABLE t (n int)")
    replicated_database.run("INSERT INTO t VALUES (1), (2)")
    replication.replica.caught_up()
    import psycopg

    with psycopg.connect(replication.replica.dsn(replicated_database.name)) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        assert conn.execute("SELECT sum(n) FROM t").fetchone() == (3,)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO t VALUES (3)")


def test_pgbouncer_pools_transactions_in_front_of_the_run_s_postgresql(database, pgbouncer):
    import psycopg

    database.run("CREATE TABLE t (n int)")
    with psycopg.connect(pgbouncer.dsn(database.name), autocommit=True, prepare_threshold=None) as conn:
        conn.execute("INSERT INTO t VALUES (7)")
        # The client sees PgBouncer's own process id, not the server process that answers.
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None and row[0] != conn.info.backend_pid
    assert database.run("SELECT n FROM t") == [(7,)]
    # Transaction pooling: two clients in turn are served by the same server process (PgBouncer
    # reuses the last one released), which session pooling would never do while both are open.
    with (
        psycopg.connect(pgbouncer.dsn(database.name), autocommit=True, prepare_threshold=None) as one,
        psycopg.connect(pgbouncer.dsn(database.name), autocommit=True, prepare_threshold=None) as two,
    ):
        first = one.execute("SELECT pg_backend_pid()").fetchone()
        second = two.execute("SELECT pg_backend_pid()").fetchone()
    assert first == second
