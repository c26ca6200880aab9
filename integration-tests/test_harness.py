"""The test harness starts real servers, stops them however a run ends, and fails loudly without them."""

import os
import signal
import socket
import subprocess
import sys
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
