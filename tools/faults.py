"""What a failing Redis, memcached or PostgreSQL costs the guide's tutorial app, in figures.

The script starts its own servers (PostgreSQL, Redis, two memcached, with the test harness's
``kata_harness.servers``), copies the tutorial project (integration-tests/myproject) to a
temporary folder, applies its schema with its own ``bin/reset``, fills the ``foo`` table, and
serves it under gunicorn (gthread, 2 workers x 4 threads). Eight client threads then send
requests for the whole of each scenario, on keep-alive connections:

* ``redis``: ``/cached/redis/{bar}`` (a Simple container on Redis, filled from the database);
* ``memcached``: ``/cached/memcached/{bar}`` (the same on the two memcached servers);
* ``db``: ``/foos/{bar}`` (a query on every request).

The cached endpoints are warmed first, so while PostgreSQL is down they are cache-only. Each
scenario runs for ``--seconds`` (20 by default): the fault starts at 30% of it and ends at 60%.

    tools/hatch run python tools/faults.py                  # every scenario, 20 s each
    tools/hatch run python tools/faults.py --seconds 6 --scenario redis-killed

For each scenario and endpoint the table gives the requests, the non-2xx answers (connection
failures and client timeouts of 10 s included), the 2xx answers with a wrong body, requests/s
before, during and after the fault, the slowest answer during the fault, and the time to recover:
from the end of the fault to the end of the last failed request. Targets (issue 13): no wrong
body; no non-2xx for cache faults; during a cache fault at least half the normal rate; during a
database outage cache-only endpoints at least half their normal rate and database endpoints
answering 503 within 2 s; after each fault, normal within 2 s.
"""

from __future__ import annotations

import argparse
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
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
sys.path.insert(0, str(TOOLS))

from kata_harness import servers  # noqa: E402

KINDS = ("redis", "memcached", "db")
BARS = [f"b{n}" for n in range(1, 21)]
ROWS_PER_BAR = 5
CLIENT_THREADS = 8
CLIENT_TIMEOUT = 10.0
FAULT_START, FAULT_END = 0.3, 0.6


def _expected() -> dict[str, list[dict[str, object]]]:
    """The rows of ``foo`` by ``bar``: ids follow the insertion order below."""
    rows: dict[str, list[dict[str, object]]] = {bar: [] for bar in BARS}
    id = 0
    for bar in BARS:
        for qux in range(ROWS_PER_BAR):
            id += 1
            rows[bar].append({"id": id, "bar": bar, "qux": qux})
    return rows


EXPECTED = _expected()


def path_of(kind: str, bar: str) -> str:
    return f"/foos/{bar}" if kind == "db" else f"/cached/{kind}/{bar}"


def body_ok(kind: str, bar: str, body: bytes) -> bool:
    try:
        value = json.loads(body)
    except ValueError:
        return False
    rows = EXPECTED[bar]
    return value == (rows if kind == "db" else [row["qux"] for row in rows])


@dataclass
class Servers:
    postgres: servers.PostgresServer
    redis: servers.RedisServer
    memcached: list[servers.MemcachedServer]

    def destroy(self) -> None:
        for server in [self.postgres, self.redis, *self.memcached]:
            server.destroy()


@contextmanager
def own_servers() -> Iterator[Servers]:
    started: list[servers.OwnedServer] = []
    try:
        for kind in ("postgres", "redis", "memcached", "memcached"):
            started.append(servers.start(kind))
        postgres, redis, *memcached = started
        yield Servers(postgres, redis, memcached)  # type: ignore[arg-type]
    finally:
        for server in reversed(started):
            server.destroy()


@dataclass
class App:
    """The tutorial project served by gunicorn."""

    root: Path
    env: dict[str, str]
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def serve(self) -> None:
        self.port = servers.free_port()
        command = [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", "2", "--threads", "4"]
        command += ["--bind", f"127.0.0.1:{self.port}", "--log-level", "warning", "myproject:app"]
        log = open(self.root / "gunicorn.log", "ab")  # noqa: SIM115 - open for the server's lifetime
        self.proc = subprocess.Popen(
            command, cwd=self.root, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"gunicorn did not start:\n{(self.root / 'gunicorn.log').read_text()[-2000:]}"
                )
            time.sleep(0.1)

    def _answers(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            conn.request("GET", "/foo/bar/1")
            return conn.getresponse().status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextmanager
def tutorial(found: Servers) -> Iterator[App]:
    """The tutorial project in a temporary folder, on its own database, served by gunicorn."""
    root = Path(tempfile.mkdtemp(prefix="kata-faults-"))
    project = root / "myproject"
    shutil.copytree(
        ROOT / "integration-tests" / "myproject",
        project,
        ignore=shutil.ignore_patterns("__pycache__", ".ruff_cache"),
    )
    name = f"kata_faults_{uuid.uuid4().hex[:8]}"
    postgres = found.postgres
    with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    bin_dir = str(Path(sys.executable).parent)
    env = {key: value for key, value in os.environ.items() if key != "CONFIG"}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        PYTHONDONTWRITEBYTECODE="1",
        MYPROJECT_DB_NAME=name,
        MYPROJECT_DB_HOST=postgres.host,
        MYPROJECT_DB_PORT=str(postgres.port),
        MYPROJECT_DB_USER=postgres.user,
        MYPROJECT_DB_PASSWORD="",
        MYPROJECT_REDIS=found.redis.address,
        MYPROJECT_MEMCACHED_1=found.memcached[0].address,
        MYPROJECT_MEMCACHED_2=found.memcached[1].address,
        MYPROJECT_CACHE_PREFIX=f"faults{uuid.uuid4().hex[:6]}:",
    )
    app = App(project, env)
    try:
        reset = subprocess.run(
            [sys.executable, str(project / "bin" / "reset")],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
        )
        if reset.returncode != 0:
            raise RuntimeError(f"bin/reset failed:\n{reset.stderr}")
        with psycopg.connect(postgres.dsn(name)) as conn:
            conn.cursor().executemany(
                "INSERT INTO foo (id, bar, qux) VALUES (%(id)s, %(bar)s, %(qux)s)",
                [row for rows in EXPECTED.values() for row in rows],
            )
        app.serve()
        yield app
    finally:
        app.stop()
        shutil.rmtree(root, ignore_errors=True)


# -- the load ----------------------------------------------------------------------------------


@dataclass
class Sample:
    kind: str
    started: float
    ended: float
    status: int  # 0: no HTTP answer (connection refused or reset, client timeout)
    right: bool


@dataclass
class Load:
    """Client threads sending requests to *port* until stopped; every request is recorded."""

    port: int
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self._stop.clear()
        # Three threads per cached endpoint, two on the database: a thread waiting on one kind
        # never holds up another kind's requests.
        kinds = ["redis"] * 3 + ["memcached"] * 3 + ["db"] * 2
        for number, kind in enumerate(kinds[:CLIENT_THREADS]):
            thread = threading.Thread(target=self._run, args=(kind, number), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    def _run(self, kind: str, number: int) -> None:
        conn: http.client.HTTPConnection | None = None
        count = number
        while not self._stop.is_set():
            bar = BARS[count % len(BARS)]
            count += 1
            started = time.monotonic()
            status, right = 0, False
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=CLIENT_TIMEOUT)
                conn.request("GET", path_of(kind, bar))
                response = conn.getresponse()
                body = response.read()
                status = response.status
                right = 200 <= status < 300 and body_ok(kind, bar, body)
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.01)  # a refused connection returns at once: do not spin
            self.samples.append(Sample(kind, started, time.monotonic(), status, right))


# -- the scenarios -----------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    begin: Callable[[Servers], None]
    end: Callable[[Servers], None]
    idle: bool = False  # the fault happens while no request is being made


def _signal(server: servers.OwnedServer, sig: int) -> None:
    assert server.proc is not None
    os.kill(server.proc.pid, sig)


def _restart_postgres(found: Servers) -> None:
    found.postgres.stop()
    found.postgres.start()


SCENARIOS = [
    Scenario("redis-killed", lambda s: s.redis.kill(), lambda s: s.redis.start()),
    Scenario(
        "redis-hung", lambda s: _signal(s.redis, signal.SIGSTOP), lambda s: _signal(s.redis, signal.SIGCONT)
    ),
    Scenario("memcached-killed", lambda s: s.memcached[0].kill(), lambda s: s.memcached[0].start()),
    Scenario("postgres-stopped", lambda s: s.postgres.stop(), lambda s: s.postgres.start()),
    Scenario("postgres-restarted-idle", _restart_postgres, lambda s: None, idle=True),
]


@dataclass
class Row:
    scenario: str
    kind: str
    requests: int
    non_2xx: int
    wrong: int
    before: float
    during: float
    after: float
    slowest_during: float
    recover: float
    statuses: dict[int, int]


def run(scenario: Scenario, found: Servers, app: App, seconds: float) -> list[Row]:
    """Run *scenario* under load; one row per endpoint kind."""
    load = Load(app.port)
    load.start()
    origin = time.monotonic()
    time.sleep(seconds * FAULT_START)
    fault_start = before_end = time.monotonic()
    if scenario.idle:
        load.stop()
        before_end = time.monotonic()
        scenario.begin(found)
        scenario.end(found)
        fault_end = fault_start = time.monotonic()
        load.start()
    else:
        scenario.begin(found)
        time.sleep(max(0.0, origin + seconds * FAULT_END - time.monotonic()))
        scenario.end(found)
        fault_end = time.monotonic()
    time.sleep(max(0.0, origin + seconds - time.monotonic()))
    load.stop()
    finish = time.monotonic()
    windows = (origin, before_end, fault_start, fault_end, finish)
    return [_row(scenario, kind, load.samples, windows) for kind in KINDS]


def _rate(samples: list[Sample], start: float, end: float) -> float:
    if end <= start:
        return float("nan")
    return sum(1 for s in samples if start <= s.ended < end and s.right) / (end - start)


def _row(scenario: Scenario, kind: str, all_samples: list[Sample], windows: tuple[float, ...]) -> Row:
    origin, before_end, fault_start, fault_end, finish = windows
    samples = [s for s in all_samples if s.kind == kind]
    failed = [s for s in samples if not s.right]
    recover = max((s.ended - fault_end for s in failed if s.ended > fault_end), default=0.0)
    during = [s for s in samples if fault_start <= s.started < fault_end]
    return Row(
        scenario=scenario.name,
        kind=kind,
        requests=len(samples),
        non_2xx=sum(1 for s in samples if not 200 <= s.status < 300),
        wrong=sum(1 for s in samples if 200 <= s.status < 300 and not s.right),
        before=_rate(samples, origin, before_end),
        during=_rate(samples, fault_start, fault_end),
        after=_rate(samples, fault_end, finish),
        slowest_during=max((s.ended - s.started for s in during), default=0.0),
        recover=recover,
        statuses=dict(sorted(Counter(s.status for s in samples if not 200 <= s.status < 300).items())),
    )


def warm(app: App) -> None:
    """Fill the caches, so that the cached endpoints need no database."""
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=CLIENT_TIMEOUT)
    for kind in ("redis", "memcached"):
        for bar in BARS:
            conn.request("GET", path_of(kind, bar))
            response = conn.getresponse()
            if not body_ok(kind, bar, response.read()):
                raise RuntimeError(f"{path_of(kind, bar)} answers {response.status} with a wrong body")
    conn.close()


def table(rows: list[Row], seconds: float) -> str:
    lines = [
        f"\n{seconds:g} s per scenario, fault from {FAULT_START * seconds:g} s to {FAULT_END * seconds:g} s, "
        f"{CLIENT_THREADS} client threads, gunicorn gthread 2 workers x 4 threads\n",
        "| scenario | endpoint | requests | non-2xx | wrong bodies | req/s before | req/s during "
        "| req/s after | slowest during (s) | recover (s) | non-2xx statuses |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        during = "-" if r.during != r.during else f"{r.during:.0f}"  # NaN: an instant fault
        # Status 0: no HTTP answer (refused or reset connection, client timeout).
        statuses = ", ".join(f"{status} x{count}" for status, count in r.statuses.items())
        lines.append(
            f"| {r.scenario} | {r.kind} | {r.requests} | {r.non_2xx} | {r.wrong} | {r.before:.0f} | {during} "
            f"| {r.after:.0f} | {r.slowest_during:.2f} | {r.recover:.2f} | {statuses or '-'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each scenario (default 20)")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=[s.name for s in SCENARIOS],
        help="run only this one (repeatable)",
    )
    args = parser.parse_args(argv)
    chosen = [s for s in SCENARIOS if not args.scenario or s.name in args.scenario]
    rows: list[Row] = []
    with own_servers() as found, tutorial(found) as app:
        warm(app)
        # Unrecorded load first: the workers' threads, pools and connections all get going.
        warmup = Load(app.port)
        warmup.start()
        time.sleep(min(2.0, args.seconds / 5))
        warmup.stop()
        for number, scenario in enumerate(chosen):
            if number:
                time.sleep(1)  # let the pools settle after the previous scenario
            rows += run(scenario, found, app, args.seconds)
    print(table(rows, args.seconds))
    print(f"\nload: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    return rows


if __name__ == "__main__":
    main()
