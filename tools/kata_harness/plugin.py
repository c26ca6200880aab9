"""pytest fixtures that hand tests real servers, isolated per test.

Session-wide servers (``postgres_target``, ``redis_server``, ``memcached_servers``) are started
lazily, the first time a test asks for one, so a run of the router's tests starts none. Each
test gets its own database (``database``) and its own key prefix (``key_prefix``), so tests
and whole test runs can share servers. ``own_server`` starts a private server that a test may
stop, kill and start again. ``pgbouncer`` (PgBouncer in transaction mode in front of the run's
PostgreSQL) and ``replication`` (a primary and a streaming replica, with ``replicated_database``
for a fresh database on both) are started lazily too, as is ``redis_cluster`` (three masters);
``own_sentinel`` starts a private Redis master, replica and Sentinels.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from kata_harness import redis_topologies, servers
from kata_harness.redis_topologies import RedisClusterSetup, SentinelSetup
from kata_harness.servers import (
    OwnedServer,
    PgBouncer,
    PostgresReplica,
    PostgresServer,
    PostgresTarget,
    ServerUnavailable,
)


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"redis://{self.address}"


@dataclass(frozen=True)
class TestDatabase:
    """A fresh, empty database that lives for one test."""

    __test__ = False  # not a test class, despite the name

    target: PostgresTarget
    name: str

    @property
    def dsn(self) -> str:
        return self.target.dsn(self.name)

    def run(self, statement: str) -> list[tuple[Any, ...]]:
        """Run SQL on a connection of its own (autocommit) and return the rows, if any."""
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            cursor = conn.execute(statement.encode())
            return cursor.fetchall() if cursor.description else []

    @property
    def section(self) -> dict[str, Any]:
        """The guide's ``database:`` section for this database."""
        return {
            "name": self.name,
            "host": self.target.host,
            "port": self.target.port,
            "user": self.target.user,
            "password": self.target.password,
            "pool_size": 4,
        }


@dataclass(frozen=True)
class Replication:
    """A PostgreSQL primary this harness started and a streaming replica of it.

    Tests may stop and start the replica (``replica.stop()``, ``replica.start()``); a test
    that stops it starts it again before it ends.
    """

    primary: PostgresServer
    replica: PostgresReplica

    @property
    def target(self) -> PostgresTarget:
        primary = self.primary
        return PostgresTarget(primary.host, primary.port, primary.user, primary.password, "postgres")


class _Servers:
    """The servers of one test run: started on first use, stopped at the end."""

    def __init__(self) -> None:
        self._owned: list[OwnedServer] = []
        self._cache: dict[str, Any] = {}

    def _start(self, kind: str) -> OwnedServer:
        server = servers.start(kind)
        self._owned.append(server)
        return server

    def _get(self, kind: str, make: Callable[[], Any]) -> Any:
        if kind not in self._cache:
            try:
                self._cache[kind] = make()
            except ServerUnavailable as exc:
                self._cache[kind] = exc
        found = self._cache[kind]
        if isinstance(found, ServerUnavailable):
            pytest.fail(str(found), pytrace=False)
        return found

    def postgres(self) -> PostgresTarget:
        def make() -> PostgresTarget:
            env = os.environ.get("KATA_TEST_POSTGRES_DSN")
            if env:
                return servers.postgres_target_from_env(env)
            server = self._start("postgres")
            assert isinstance(server, servers.PostgresServer)
            return PostgresTarget(server.host, server.port, server.user, server.password, "postgres")

        return self._get("postgres", make)  # type: ignore[no-any-return]

    def redis(self) -> Endpoint:
        def make() -> Endpoint:
            env = os.environ.get("KATA_TEST_REDIS_URL")
            if env:
                return Endpoint(*servers.redis_address_from_env(env))
            server = self._start("redis")
            return Endpoint(server.host, server.port)

        return self._get("redis", make)  # type: ignore[no-any-return]

    def memcached(self) -> list[Endpoint]:
        def make() -> list[Endpoint]:
            env = os.environ.get("KATA_TEST_MEMCACHED")
            if env:
                found = [Endpoint(*servers.split_address(a, 11211)) for a in env.split(",") if a.strip()]
                if len(found) < 2:
                    raise ServerUnavailable(
                        "KATA_TEST_MEMCACHED must name two memcached servers: host:port,host:port"
                    )
                return found
            return [Endpoint(s.host, s.port) for s in (self._start("memcached"), self._start("memcached"))]

        return self._get("memcached", make)  # type: ignore[no-any-return]

    def pgbouncer(self) -> PgBouncer:
        def make() -> PgBouncer:
            server = servers.start_pgbouncer(self.postgres())
            self._owned.append(server)
            return server

        return self._get("pgbouncer", make)  # type: ignore[no-any-return]

    def replication(self) -> Replication:
        def make() -> Replication:
            primary = self._start("postgres")
            assert isinstance(primary, PostgresServer)
            replica = servers.start_replica(primary)
            self._owned.append(replica)
            return Replication(primary, replica)

        return self._get("replication", make)  # type: ignore[no-any-return]

    def redis_cluster(self) -> RedisClusterSetup:
        def make() -> RedisClusterSetup:
            setup = redis_topologies.start_redis_cluster()
            self._owned.extend(setup.nodes)
            return setup

        return self._get("redis cluster", make)  # type: ignore[no-any-return]

    def close(self) -> None:
        for server in reversed(self._owned):
            server.destroy()
        self._owned.clear()


@pytest.fixture(scope="session")
def kata_servers() -> Iterator[_Servers]:
    found = _Servers()
    try:
        yield found
    finally:
        found.close()


@pytest.fixture(scope="session")
def postgres_target(kata_servers: _Servers) -> PostgresTarget:
    """The PostgreSQL server of this run: where ``database`` creates its databases."""
    return kata_servers.postgres()


@contextlib.contextmanager
def _fresh_database(target: PostgresTarget) -> Iterator[TestDatabase]:
    import psycopg
    from psycopg import sql

    name = f"kata_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(target.dsn(target.admin_dbname), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield TestDatabase(target, name)
    finally:
        with psycopg.connect(target.dsn(target.admin_dbname), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def database(postgres_target: PostgresTarget) -> Iterator[TestDatabase]:
    """A new empty database for this test, dropped afterwards."""
    with _fresh_database(postgres_target) as found:
        yield found


@pytest.fixture(scope="session")
def pgbouncer(kata_servers: _Servers) -> PgBouncer:
    """PgBouncer in transaction mode in front of this run's PostgreSQL (``.host``, ``.port``, ``.dsn(db)``).

    Connect to it with the ``database`` fixture's name: ``{**database.section, "port": pgbouncer.port}``.
    """
    return kata_servers.pgbouncer()


@pytest.fixture(scope="session")
def replication(kata_servers: _Servers) -> Replication:
    """A PostgreSQL primary and a streaming replica made from it with ``pg_basebackup -R``."""
    return kata_servers.replication()


@pytest.fixture
def replicated_database(replication: Replication) -> Iterator[TestDatabase]:
    """A new empty database on the replication primary, already present on the replica."""
    with _fresh_database(replication.target) as found:
        replication.replica.caught_up()
        yield found


@pytest.fixture(scope="session")
def redis_cluster(kata_servers: _Servers) -> RedisClusterSetup:
    """A Redis Cluster of three masters for this run (``.addresses``, ``.nodes``), started on first use."""
    return kata_servers.redis_cluster()


@pytest.fixture
def own_sentinel() -> Iterator[Callable[..., SentinelSetup]]:
    """Start a private Redis master, a replica and Sentinels watching them: ``own_sentinel(sentinels=1)``.

    Private because a test fails it over; stopped when the test ends.
    """
    started: list[SentinelSetup] = []

    def start(service: str = "kata", sentinels: int = 1) -> SentinelSetup:
        try:
            setup = redis_topologies.start_sentinel(service, sentinels)
        except ServerUnavailable as exc:
            pytest.fail(str(exc), pytrace=False)
        started.append(setup)
        return setup

    try:
        yield start
    finally:
        for setup in started:
            setup.destroy()


@pytest.fixture(scope="session")
def redis_server(kata_servers: _Servers) -> Endpoint:
    """The Redis server of this run (``.host``, ``.port``, ``.address``, ``.url``)."""
    return kata_servers.redis()


@pytest.fixture(scope="session")
def memcached_servers(kata_servers: _Servers) -> list[Endpoint]:
    """The two memcached servers of this run."""
    return kata_servers.memcached()


@pytest.fixture
def key_prefix() -> str:
    """A cache key prefix no other test uses."""
    return f"t{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def own_server() -> Iterator[Callable[[str], OwnedServer]]:
    """Start private servers a test may stop, kill and start again: ``own_server('redis')``.

    These always come from the machine's binaries, also when environment variables name
    shared servers, because a test must not kill a server others use.
    """
    started: list[OwnedServer] = []

    def start(kind: str) -> OwnedServer:
        try:
            server = servers.start(kind)
        except ServerUnavailable as exc:
            pytest.fail(str(exc), pytrace=False)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.destroy()


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every distribution's wheel, built once per run from the working tree: ``{dist: Path}``."""
    import check_packages

    return check_packages.build_wheels(tmp_path_factory.mktemp("wheels"))
