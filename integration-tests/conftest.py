"""Fixtures that run the guide's tutorial project (integration-tests/myproject) for real.

``tutorial``: a copy of the project in a temporary folder, its own database on the run's
PostgreSQL, the run's Redis and memcached in the environment variables its config/dev.yaml
reads, and the schema applied by the guide's own ``bin/reset``. ``serve_gunicorn`` and
``serve_nginx`` start real gunicorn and nginx processes on free ports and stop them afterwards.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent  # gunicorn, python and kata of the test environment
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def _fetch(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> Reply:
    """One HTTP request to 127.0.0.1:*port*, on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        conn.close()


@pytest.fixture(scope="session")
def fetch() -> Callable[..., Reply]:
    """``fetch(port, method, path, body=None, headers=None)``: one HTTP request to 127.0.0.1."""
    return _fetch


@dataclass
class Tutorial:
    """The tutorial project, ready to run: where it is and the environment it runs in."""

    root: Path
    env: dict[str, str]
    database: str
    dsn: str
    prefix: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def run(
        self, *command: str, check: bool = True, env_extra: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run *command* in the project folder, in its environment (plus *env_extra*)."""
        env = {**self.env, **(env_extra or {})}
        return subprocess.run(
            list(command), cwd=self.root, env=env, capture_output=True, text=True, check=check, timeout=120
        )

    def start(self, command: list[str], port: int, log: str) -> subprocess.Popen[bytes]:
        """Start a server in the project folder and wait until *port* answers."""
        out = open(self.root / log, "wb")  # noqa: SIM115 - kept open for the server's lifetime
        proc = subprocess.Popen(command, cwd=self.root, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.processes.append(proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(
                    f"{command[0]} exited with {proc.returncode}:\n{(self.root / log).read_text()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return proc
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"{command[0]} did not listen on {port}:\n{(self.root / log).read_text()}")

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def tutorial(postgres_target, redis_server, memcached_servers) -> Iterator[Tutorial]:
    """The guide's project in a temporary folder with its own database, schema applied by bin/reset."""
    # Under /tmp itself and world-readable: nginx's workers (nobody, when run as root) serve static/.
    root = Path(tempfile.mkdtemp(prefix="kata-tutorial-"))
    root.chmod(0o755)
    project = root / "myproject"
    shutil.copytree(HERE / "myproject", project, ignore=shutil.ignore_patterns("__pycache__"))
    name = f"kata_tutorial_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_target.dsn(postgres_target.admin_dbname), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    env = {k: v for k, v in os.environ.items() if k != "CONFIG"}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONDONTWRITEBYTECODE="1",
        MYPROJECT_DB_NAME=name,
        MYPROJECT_DB_HOST=postgres_target.host,
        MYPROJECT_DB_PORT=str(postgres_target.port),
        MYPROJECT_DB_USER=postgres_target.user,
        MYPROJECT_DB_PASSWORD=postgres_target.password,
        MYPROJECT_REDIS=redis_server.address,
        MYPROJECT_MEMCACHED_1=memcached_servers[0].address,
        MYPROJECT_MEMCACHED_2=memcached_servers[1].address,
        MYPROJECT_CACHE_PREFIX=f"tutorial{uuid.uuid4().hex[:8]}:",
    )
    found = Tutorial(project, env, name, postgres_target.dsn(name), env["MYPROJECT_CACHE_PREFIX"])
    try:
        reset = found.run(str(project / "bin" / "reset"), check=False)
        assert reset.returncode == 0, reset.stderr
        yield found
    finally:
        for proc in reversed(found.processes):
            found.stop(proc)
        with psycopg.connect(postgres_target.dsn(postgres_target.admin_dbname), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def serve_gunicorn(tutorial: Tutorial) -> Callable[..., int]:
    """Start ``gunicorn --bind 127.0.0.1:PORT myproject:app`` (the guide's command) with *options*; returns PORT."""

    def start(*options: str) -> int:
        port = free_port()
        command = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", *options, "myproject:app"]
        tutorial.start(command, port, f"gunicorn-{port}.log")
        return port

    return start


@pytest.fixture(scope="module")
def serve_nginx(tutorial: Tutorial) -> Callable[[int], int]:
    """Start nginx with the guide's site config in front of gunicorn on *upstream*; returns its port.

    Only the ports (and the static folder, which is where the project is) differ from the guide.
    """

    def start(upstream: int) -> int:
        port = free_port()
        prefix = tutorial.root / f"nginx-{port}"
        prefix.mkdir()
        prefix.chmod(prefix.stat().st_mode | stat.S_IROTH | stat.S_IXOTH)
        site = (HERE / "nginx-site.conf").read_text()
        site = site.replace("127.0.0.1:8000", f"127.0.0.1:{upstream}").replace(
            "listen 80;", f"listen 127.0.0.1:{port};"
        )
        site = site.replace("/srv/www/myproject/static/", f"{tutorial.root}/static/")
        conf = (HERE / "nginx-main.conf").read_text().replace("{prefix}", str(prefix)).replace("{site}", site)
        (prefix / "nginx.conf").write_text(conf)
        command = [
            NGINX,
            "-p",
            f"{prefix}/",
            "-c",
            str(prefix / "nginx.conf"),
            "-e",
            str(prefix / "error.log"),
        ]
        tutorial.start(command, port, f"nginx-{port}.log")
        return port

    return start
