"""Two application hosts behind one nginx upstream, sharing PostgreSQL, Redis and two memcached.

Each "host" is a gunicorn master of its own (2 workers, 4 threads each) on its own port, with
its own PROMETHEUS_MULTIPROC_DIR, serving the tutorial project with the metrics: and health:
sections on. One is killed (SIGKILL to its master) while clients send requests through
nginx: every request must still get its correct answer, because nginx passes a request that
met a dead host on to the other one (proxy_next_upstream, docs/deploy.md).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kata_harness.servers import free_port

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
Tutorial = Any  # integration-tests/conftest.py's Tutorial


def _fetch(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> Reply:
    """One HTTP request to 127.0.0.1:*port*, on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Reply(response.status, response.read())
    finally:
        conn.close()


@dataclass
class Reply:
    status: int
    body: bytes


DEPLOY = Path(__file__).resolve().parent.parent / "docs" / "deploy.md"


def deploy_nginx_block(one: int, two: int, port: int) -> str:
    """docs/deploy.md's nginx upstream and server, as written, with the test's ports."""
    text = DEPLOY.read_text()
    block = text.split("```nginx\n", 1)[1].split("```", 1)[0]
    replaced = block.replace("127.0.0.1:8001", f"127.0.0.1:{one}").replace(
        "127.0.0.1:8002", f"127.0.0.1:{two}"
    )
    replaced = replaced.replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{port};")
    assert replaced.count(f":{one} ") == replaced.count(f":{two} ") == 1 and f":{port};" in replaced
    return replaced


OPERATIONS = """
metrics:
  path: /metrics
  flush_interval: 0.2
health:
  live: /healthz
  ready: /readyz
"""


class Host:
    """One gunicorn master and its workers."""

    def __init__(self, tutorial: Tutorial, config: Path) -> None:
        self.port = free_port()
        self.metrics_dir = Path(tempfile.mkdtemp(prefix="kata-metrics-"))
        env = {**tutorial.env, "CONFIG": str(config), "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir)}
        command = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers", "2"]
        command += ["--threads", "4", "--graceful-timeout", "2", "myproject:app"]
        log = open(tutorial.root / f"gunicorn-{self.port}.log", "wb")  # noqa: SIM115 - the server's lifetime
        self.master = subprocess.Popen(
            command, cwd=tutorial.root, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        tutorial.processes.append(self.master)
        self.log = tutorial.root / f"gunicorn-{self.port}.log"
        deadline = time.monotonic() + 60
        while len(self.workers()) < 2 or not self._answers():
            assert self.master.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, (
                f"gunicorn on {self.port} did not start:\n{self.log.read_text()}"
            )
            time.sleep(0.1)
        self.worker_pids = self.workers()

    def workers(self) -> list[int]:
        try:
            text = Path(f"/proc/{self.master.pid}/task/{self.master.pid}/children").read_text()
        except OSError:
            return []
        return [int(pid) for pid in text.split()]

    def _answers(self) -> bool:
        try:
            return _fetch(self.port, "GET", "/healthz").status == 200
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL the master, as a crash of the host would end it."""
        os.kill(self.master.pid, signal.SIGKILL)
        self.master.wait()

    def cleanup(self) -> None:
        if self.master.poll() is None:
            self.master.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.master.wait(timeout=10)
        for pid in self.worker_pids:  # orphaned by a killed master: they exit on their own, or here
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        subprocess.run(["rm", "-rf", str(self.metrics_dir)], check=False)


@pytest.fixture(scope="module")
def hosts(tutorial: Tutorial):
    config = tutorial.root / "config" / "hosts.yaml"
    config.write_text((tutorial.root / "config" / "dev.yaml").read_text() + OPERATIONS)
    started: list[Host] = []
    try:
        started.append(Host(tutorial, config))
        started.append(Host(tutorial, config))
        yield started
    finally:
        for host in started:
            host.cleanup()


@pytest.fixture(scope="module")
def nginx(tutorial: Tutorial, hosts: list[Host]) -> int:
    port = free_port()
    prefix = tutorial.root / f"nginx-{port}"
    prefix.mkdir()
    prefix.chmod(0o755)
    site = deploy_nginx_block(hosts[0].port, hosts[1].port, port)
    conf = (HERE / "nginx-main.conf").read_text().replace("{prefix}", str(prefix)).replace("{site}", site)
    (prefix / "nginx.conf").write_text(conf)
    command = [NGINX, "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")]
    tutorial.start(command, port, f"nginx-{port}.log")
    return port


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reply = _fetch(port, "GET", "/metrics")
    assert reply.status == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(reply.body.decode())
        for s in family.samples
    }


def _eventually(check, what: str, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_a_value_written_through_one_host_is_read_through_the_other(hosts, nginx):
    one, two = hosts
    bar = f"b{uuid.uuid4().hex[:8]}"
    created = _fetch(
        one.port,
        "POST",
        f"/foos/{bar}",
        json.dumps({"qux": 7}).encode(),
        {"Content-Type": "application/json"},
    )
    assert created.status == 200, created.body
    found = _fetch(two.port, "GET", f"/foos/{bar}")
    assert found.status == 200
    assert [(row["bar"], row["qux"]) for row in json.loads(found.body)] == [(bar, 7)]
    # The memcached pair maps the key to the same node on both hosts: what one host cached
    # and the other reads is one entry, pulled once.
    assert json.loads(_fetch(one.port, "GET", f"/cached/memcached/{bar}").body) == [7]
    _fetch(
        one.port,
        "POST",
        f"/foos/{bar}",
        json.dumps({"qux": 8}).encode(),
        {"Content-Type": "application/json"},
    )
    assert json.loads(_fetch(two.port, "GET", f"/cached/memcached/{bar}").body) == [
        7
    ]  # cached, not pulled again
    assert json.loads(_fetch(two.port, "DELETE", f"/cached/memcached/{bar}").body) == {"dirty": bar}
    assert json.loads(_fetch(one.port, "GET", f"/cached/memcached/{bar}").body) == [7, 8]
    # Redis too.
    assert json.loads(_fetch(two.port, "GET", f"/cached/redis/{bar}").body) == [7, 8]
    assert json.loads(_fetch(one.port, "GET", f"/cached/redis/{bar}").body) == [7, 8]


def test_metrics_add_up_every_worker_of_a_host(hosts):
    host = hosts[1]
    route = (("method", "GET"), ("route", "/foo/bar/{baz}"), ("status", "200"))
    before = _scrape(host.port).get(("kata_http_requests_total", route), 0)
    for n in range(40):
        assert _fetch(host.port, "GET", f"/foo/bar/{n}").status == 200

    def counted():
        return _scrape(host.port).get(("kata_http_requests_total", route), 0) == before + 40

    _eventually(counted, "the host's /metrics never showed all 40 requests")

    # Each worker writes its own figures; the pool gauges add up the live workers' pools.
    def pools():
        return _scrape(host.port).get(("kata_db_pool_size", (("server", "primary"),))) == 10 * len(
            host.workers()
        )

    _eventually(pools, "the pool size never added up both workers' pools")
    assert len(list(host.metrics_dir.glob("gauge_livesum_kata*.db"))) == len(host.workers())

    # The separate exporter reads the same directory and shows the same total.
    port = free_port()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(host.metrics_dir)}
    exporter = subprocess.Popen(
        [str(BIN / "python"), "-m", "kata.metrics", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:

        def exported():
            try:
                return _scrape(port).get(("kata_http_requests_total", route), 0) >= before + 40
            except OSError:
                return False

        _eventually(exported, "the exporter never showed the host's requests")
    finally:
        exporter.terminate()
        exporter.wait(timeout=10)


def test_killing_a_host_under_load_loses_no_request(hosts, nginx, tutorial):
    one, two = hosts
    assert _fetch(nginx, "GET", "/readyz").status == 200
    bar = f"k{uuid.uuid4().hex[:8]}"
    _fetch(
        two.port,
        "POST",
        f"/foos/{bar}",
        json.dumps({"qux": 3}).encode(),
        {"Content-Type": "application/json"},
    )
    expected = {
        f"/foo/bar/{bar}": {"baz": bar, "something": "else"},
        f"/foos/{bar}": None,  # checked by its rows below
        f"/cached/memcached/{bar}": [3],
        f"/cached/redis/{bar}": [3],
    }
    failures: list[str] = []
    answered: list[int] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            for path, body in expected.items():
                try:
                    reply = _fetch(nginx, "GET", path)
                except OSError as exc:
                    failures.append(f"{path}: {exc}")
                    continue
                got = json.loads(reply.body) if reply.status == 200 else reply.body
                if path.startswith("/foos/"):
                    got = [(row["bar"], row["qux"]) for row in got] if reply.status == 200 else got
                    body = [(bar, 3)]
                if reply.status != 200 or got != body:
                    failures.append(f"{path}: {reply.status} {got!r}")
                answered.append(reply.status)

    threads = [threading.Thread(target=client) for _ in range(6)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)
        before_kill = len(answered)
        one.kill()
        _eventually(lambda: not any(_alive(pid) for pid in one.worker_pids), "host one's workers outlived it")
        time.sleep(1.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert before_kill > 0 and len(answered) > before_kill + 20
    # nginx noticed: its error log names the dead host's address.
    errors = next(tutorial.root.glob(f"nginx-{nginx}/error.log")).read_text()
    assert f"127.0.0.1:{one.port}" in errors
    # And everything now goes to the host left.
    assert _fetch(nginx, "GET", "/readyz").status == 200


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (a dead worker its killed master never reaped) counts as gone.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    return False
