"""Throwaway PostgreSQL, Redis and memcached servers, and the ones environment variables name."""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

START_TIMEOUT = 30.0

HOW_TO_GET = {
    "postgres": "install PostgreSQL (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql) "
    "or set KATA_TEST_POSTGRES_DSN to a server where this role may create databases",
    "redis": "install Redis (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) "
    "or set KATA_TEST_REDIS_URL=redis://host:port",
    "memcached": "install memcached (Debian/Ubuntu: apt-get install memcached; macOS: brew install memcached) "
    "or set KATA_TEST_MEMCACHED=host:port,host:port",
    "pgbouncer": "install PgBouncer (Debian/Ubuntu: apt-get install pgbouncer, which puts it in /usr/sbin: "
    "have that on PATH; macOS: brew install pgbouncer)",
}


class ServerUnavailable(RuntimeError):
    """A test server cannot be had; the message says how to get one."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_binary(name: str, kind: str) -> str:
    """Find *name* on PATH or in Debian's versioned PostgreSQL folders."""
    found = shutil.which(name)
    if found:
        return found
    if kind == "postgres":
        candidates = sorted(
            glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
            key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
        )
        candidates += glob.glob(f"/opt/homebrew/opt/postgresql*/bin/{name}")
        if candidates:
            return candidates[-1]
    raise ServerUnavailable(f"{name} not found: {HOW_TO_GET[kind]}")


def _unprivileged_user() -> pwd.struct_passwd | None:
    """PostgreSQL refuses to run as root: pick a user to run it as when we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise ServerUnavailable(
        "running as root, and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL"
    )


_PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: int) -> None:
    # The server gets *sig* when the test process dies, even from SIGKILL, so no run leaves
    # servers behind.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)


def _wait_for(check: Callable[[], bool], what: str, proc: subprocess.Popen[bytes], log: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerUnavailable(f"{what} exited with status {proc.returncode} at start:\n{_tail(log)}")
        with contextlib.suppress(OSError):
            if check():
                return
        time.sleep(0.05)
    proc.kill()
    raise ServerUnavailable(f"{what} did not answer within {START_TIMEOUT:.0f}s:\n{_tail(log)}")


def _tail(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-20:])
    except OSError:
        return "(no log)"


def _ask(host: str, port: int, request: bytes, expect: bytes) -> bool:
    with socket.create_connection((host, port), timeout=1) as sock:
        sock.sendall(request)
        return sock.recv(64).startswith(expect)


@dataclass
class OwnedServer(ABC):
    """A server process this harness started; tests may stop, start and kill it."""

    kind: str
    host: str
    port: int
    workdir: str
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @abstractmethod
    def _command(self) -> tuple[list[str], pwd.struct_passwd | None, int]:
        """The server's command line, the user to run it as, and the signal it gets if we die."""

    @abstractmethod
    def _ready(self) -> bool:
        """Whether the server answers a request."""

    def prepare(self) -> None:  # noqa: B027 (most servers need no setup; PostgreSQL does)
        """One-time setup before the first start()."""

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Start (or start again, on the same port and data) and wait until it answers."""
        if self.running:
            return
        cmd, user, death_signal = self._command()
        log = os.path.join(self.workdir, "server.log")
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
                user=user.pw_uid if user else None,
                group=user.pw_gid if user else None,
                start_new_session=True,  # Ctrl-C in the terminal reaches pytest, which stops us in order
                preexec_fn=lambda: _die_with_parent(death_signal),
            )
        _wait_for(self._ready, f"{self.kind} on {self.address}", self.proc, log)

    def stop(self) -> None:
        """Stop the server cleanly; its data stays for the next start()."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(self._stop_signal)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        self.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)

    _stop_signal = signal.SIGTERM


class RedisServer(OwnedServer):
    def _command(self) -> tuple[list[str], pwd.struct_passwd | None, int]:
        binary = find_binary("redis-server", "redis")
        cmd = [binary, "--port", str(self.port), "--bind", self.host, "--save", "", "--appendonly", "no"]
        cmd += ["--dir", self.workdir, "--daemonize", "no", "--protected-mode", "no"]
        return cmd, None, signal.SIGTERM

    def _ready(self) -> bool:
        return _ask(self.host, self.port, b"PING\r\n", b"+PONG")

    @property
    def url(self) -> str:
        return f"redis://{self.address}"


class MemcachedServer(OwnedServer):
    def _command(self) -> tuple[list[str], pwd.struct_passwd | None, int]:
        binary = find_binary("memcached", "memcached")
        cmd = [binary, "-l", self.host, "-p", str(self.port), "-U", "0", "-m", "64"]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]  # memcached refuses to run as root without it
        return cmd, None, signal.SIGTERM

    def _ready(self) -> bool:
        return _ask(self.host, self.port, b"version\r\n", b"VERSION")


class PostgresServer(OwnedServer):
    """A PostgreSQL cluster made with initdb; superuser ``kata``, trust authentication."""

    user = "kata"
    password = ""
    _stop_signal = signal.SIGINT  # "fast" shutdown: ends sessions instead of waiting for them

    @property
    def datadir(self) -> str:
        return os.path.join(self.workdir, "data")

    def prepare(self) -> None:
        """Create the cluster with initdb, as an unprivileged user when we are root."""
        self._owner = _unprivileged_user()
        if self._owner:
            os.chown(self.workdir, self._owner.pw_uid, self._owner.pw_gid)
        initdb = find_binary("initdb", "postgres")
        result = subprocess.run(
            [initdb, "-D", self.datadir, "-U", self.user, "--auth=trust", "-E", "UTF8", "--locale=C", "-N"],
            capture_output=True,
            user=self._owner.pw_uid if self._owner else None,
            group=self._owner.pw_gid if self._owner else None,
            cwd=self.workdir,
        )
        if result.returncode != 0:
            raise ServerUnavailable(f"initdb failed:\n{result.stdout.decode()}{result.stderr.decode()}")
        # initdb's default pg_hba.conf allows this already; said here because replicas rely on it.
        with open(os.path.join(self.datadir, "pg_hba.conf"), "a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")

    def _command(self) -> tuple[list[str], pwd.struct_passwd | None, int]:
        binary = find_binary("postgres", "postgres")
        settings = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": self.workdir,
            "max_connections": "300",
            # Throwaway data: durability only costs time here.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            # Enough WAL and senders for a streaming replica made with pg_basebackup.
            "wal_level": "replica",
            "max_wal_senders": "10",
            "hot_standby": "on",
        }
        cmd = [binary, "-D", self.datadir]
        for key, value in settings.items():
            cmd += ["-c", f"{key}={value}"]
        # SIGQUIT: immediate shutdown when the test process dies.
        return cmd, self._owner, signal.SIGQUIT

    def _ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.dsn("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def dsn(self, dbname: str) -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname={dbname}"


class PostgresReplica(PostgresServer):
    """A hot standby of *primary*, copied with ``pg_basebackup -R`` and streaming from it."""

    primary: PostgresServer

    def prepare(self) -> None:
        self._owner = _unprivileged_user()
        if self._owner:
            os.chown(self.workdir, self._owner.pw_uid, self._owner.pw_gid)
        basebackup = find_binary("pg_basebackup", "postgres")
        source = self.primary
        command = [basebackup, "-h", source.host, "-p", str(source.port), "-U", source.user]
        command += ["-D", self.datadir, "-R", "-X", "stream", "-c", "fast"]
        result = subprocess.run(
            command,
            capture_output=True,
            user=self._owner.pw_uid if self._owner else None,
            group=self._owner.pw_gid if self._owner else None,
            cwd=self.workdir,
        )
        if result.returncode != 0:
            raise ServerUnavailable(
                f"pg_basebackup failed:\n{result.stdout.decode()}{result.stderr.decode()}"
            )

    def caught_up(self, timeout: float = 10.0) -> None:
        """Wait until the replica has replayed everything the primary wrote so far."""
        import psycopg

        with psycopg.connect(self.primary.dsn("postgres"), autocommit=True) as conn:
            row = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
        assert row is not None
        target = row[0]
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            while True:
                found = conn.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target], prepare=False
                ).fetchone()
                if found and found[0]:
                    return
                if time.monotonic() > deadline:
                    raise ServerUnavailable(
                        f"the replica on {self.address} did not catch up within {timeout:g}s"
                    )
                time.sleep(0.02)


Server = TypeVar("Server", bound="OwnedServer")


def _launch(server: Server) -> Server:
    """Prepare and start *server*; on any failure remove what it left and re-raise."""
    try:
        server.prepare()
        server.start()
    except BaseException:
        server.destroy()
        raise
    return server


def _workdir(kind: str) -> str:
    workdir = tempfile.mkdtemp(prefix=f"kata-test-{kind}-")
    os.chmod(workdir, 0o755)
    return workdir


def start_replica(primary: PostgresServer) -> PostgresReplica:
    """Start a streaming replica of *primary* (a PostgreSQL server this harness started)."""
    server = PostgresReplica(
        kind="postgres replica", host="127.0.0.1", port=free_port(), workdir=_workdir("replica")
    )
    server.primary = primary
    return _launch(server)


class PgBouncer(OwnedServer):
    """PgBouncer in front of a PostgreSQL server, in transaction pooling mode.

    Any database name the client asks for is passed on to the server; clients are trusted and
    PgBouncer logs in to the server as the client's user with the password in its auth file.
    ``settings`` (set before start) add to or override pgbouncer.ini's ``[pgbouncer]`` section.
    """

    target: PostgresTarget
    settings: dict[str, str]

    def prepare(self) -> None:
        users = os.path.join(self.workdir, "users.txt")
        with open(users, "w") as f:
            f.write(f'"{self.target.user}" "{self.target.password}"\n')
        os.chmod(users, 0o644)

    def _command(self) -> tuple[list[str], pwd.struct_passwd | None, int]:
        binary = find_binary("pgbouncer", "pgbouncer")
        settings = {
            "listen_addr": self.host,
            "listen_port": str(self.port),
            "unix_socket_dir": "",
            "auth_type": "trust",
            "auth_file": os.path.join(self.workdir, "users.txt"),
            "pool_mode": "transaction",
            "max_client_conn": "500",
            "default_pool_size": "4",
            "server_login_retry": "1",
            **self.settings,
        }
        ini = os.path.join(self.workdir, "pgbouncer.ini")
        with open(ini, "w") as f:
            f.write(f"[databases]\n* = host={self.target.host} port={self.target.port}\n\n[pgbouncer]\n")
            f.writelines(f"{key} = {value}\n" for key, value in settings.items())
        os.chmod(ini, 0o644)
        # PgBouncer refuses to run as root; its -u option would drop the parent-death signal.
        user = pwd.getpwnam("nobody") if os.geteuid() == 0 else None
        return [binary, ini], user, signal.SIGTERM

    def _ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.dsn(self.target.admin_dbname), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def dsn(self, dbname: str) -> str:
        parts = [f"host={self.host}", f"port={self.port}", f"user={self.target.user}", f"dbname={dbname}"]
        if self.target.password:
            parts.append(f"password={self.target.password}")
        return " ".join(parts)


def start_pgbouncer(target: PostgresTarget, settings: dict[str, str] | None = None) -> PgBouncer:
    """Start PgBouncer (transaction mode) in front of *target* on a free loopback port."""
    server = PgBouncer(kind="pgbouncer", host="127.0.0.1", port=free_port(), workdir=_workdir("pgbouncer"))
    server.target = target
    server.settings = dict(settings or {})
    return _launch(server)


def start(kind: str) -> OwnedServer:
    """Start a new throwaway server of *kind* ('postgres', 'redis' or 'memcached')."""
    kinds: dict[str, type[PostgresServer | RedisServer | MemcachedServer]] = {
        "postgres": PostgresServer,
        "redis": RedisServer,
        "memcached": MemcachedServer,
    }
    cls = kinds[kind]
    return _launch(cls(kind=kind, host="127.0.0.1", port=free_port(), workdir=_workdir(kind)))


@contextlib.contextmanager
def running(kind: str) -> Iterator[OwnedServer]:
    server = start(kind)
    try:
        yield server
    finally:
        server.destroy()


@dataclass(frozen=True)
class PostgresTarget:
    """Where tests create their databases: host, port and a role that may create databases."""

    host: str
    port: int
    user: str
    password: str
    admin_dbname: str

    def dsn(self, dbname: str) -> str:
        parts = [f"host={self.host}", f"port={self.port}", f"user={self.user}", f"dbname={dbname}"]
        if self.password:
            parts.append(f"password={self.password}")
        return " ".join(parts)


def postgres_target_from_env(value: str) -> PostgresTarget:
    """Parse KATA_TEST_POSTGRES_DSN (URL or key=value form)."""
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(value)
    return PostgresTarget(
        host=str(info.get("host") or "127.0.0.1"),
        port=int(info.get("port") or 5432),
        user=str(info.get("user") or os.environ.get("USER", "postgres")),
        password=str(info.get("password") or ""),
        admin_dbname=str(info.get("dbname") or "postgres"),
    )


def split_address(address: str, default_port: int) -> tuple[str, int]:
    host, _, port = address.strip().rpartition(":")
    if not host:
        return port, default_port
    return host, int(port)


def redis_address_from_env(value: str) -> tuple[str, int]:
    parsed = urllib.parse.urlsplit(value)
    return parsed.hostname or "127.0.0.1", parsed.port or 6379


def missing_binaries() -> list[str]:
    """What the test run will lack: one line per server kind neither on the machine nor named."""
    needs = {
        "postgres": ("KATA_TEST_POSTGRES_DSN", ["initdb", "postgres"]),
        "redis": ("KATA_TEST_REDIS_URL", ["redis-server"]),
        "memcached": ("KATA_TEST_MEMCACHED", ["memcached"]),
        # Replicas are copied from a primary the harness starts, whatever the variables name.
        "postgres replica": ("", ["initdb", "postgres", "pg_basebackup"]),
        "pgbouncer": ("", ["pgbouncer"]),
    }
    missing = []
    for kind, (variable, binaries) in needs.items():
        if variable and os.environ.get(variable):
            continue
        for binary in binaries:
            try:
                find_binary(binary, kind.split()[0])
            except ServerUnavailable as exc:
                if str(exc) not in missing:
                    missing.append(str(exc))
                break
    return missing


if __name__ == "__main__":
    import sys

    problems = missing_binaries()
    for line in problems:
        print(f"test servers: {line}", file=sys.stderr)
    sys.exit(1 if problems else 0)
