"""Redis Cluster and Redis Sentinel set-ups made of throwaway redis-server processes.

Both need only ``redis-server`` (a Sentinel is ``redis-server --sentinel``) and redis-py,
which builds the cluster (``CLUSTER ADDSLOTSRANGE`` and ``CLUSTER MEET``) instead of
``redis-cli --cluster create``.
"""

from __future__ import annotations

import os
import pwd
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kata_harness.servers import START_TIMEOUT, RedisServer, ServerUnavailable, find_binary, free_port

SLOTS = 16384


class RedisClusterNode(RedisServer):
    """A redis-server with cluster mode on; its cluster state lives in its workdir."""

    bus_port: int

    def _command(self) -> tuple[list[str], pwd.struct_passwd | None, int]:
        cmd, user, death_signal = super()._command()
        cmd += ["--cluster-enabled", "yes", "--cluster-config-file", os.path.join(self.workdir, "nodes.conf")]
        # The bus port defaults to port + 10000, which may be taken or out of range.
        cmd += ["--cluster-node-timeout", "2000", "--cluster-port", str(self.bus_port)]
        return cmd, user, death_signal


class SentinelServer(RedisServer):
    """``redis-server --sentinel`` watching the master named ``service`` on ``master``."""

    service: str
    master: RedisServer

    def _command(self) -> tuple[list[str], pwd.struct_passwd | None, int]:
        binary = find_binary("redis-server", "redis")
        conf = os.path.join(self.workdir, "sentinel.conf")
        if not os.path.exists(conf):  # the Sentinel rewrites it as it learns; keep that on restart
            with open(conf, "w") as f:
                f.write(
                    f"port {self.port}\nbind {self.host}\nprotected-mode no\ndir {self.workdir}\n"
                    f"sentinel monitor {self.service} {self.master.host} {self.master.port} 1\n"
                    # Short, so that tests of a failover take seconds.
                    f"sentinel down-after-milliseconds {self.service} 500\n"
                    f"sentinel failover-timeout {self.service} 2000\n"
                    f"sentinel parallel-syncs {self.service} 1\n"
                )
        return [binary, conf, "--sentinel"], None, signal.SIGTERM


def _workdir(kind: str) -> str:
    workdir = tempfile.mkdtemp(prefix=f"kata-test-{kind}-")
    os.chmod(workdir, 0o755)
    return workdir


def _wait(check: Callable[[], bool], what: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise ServerUnavailable(f"{what} within {timeout:.0f}s")
        time.sleep(0.05)


@dataclass
class RedisClusterSetup:
    """Three masters sharing the 16384 slots, no replicas."""

    nodes: list[RedisClusterNode] = field(default_factory=list)

    @property
    def addresses(self) -> list[str]:
        return [node.address for node in self.nodes]

    def destroy(self) -> None:
        for node in self.nodes:
            node.destroy()


def start_redis_cluster(masters: int = 3) -> RedisClusterSetup:
    """Start *masters* cluster-enabled servers, split the slots evenly and join them."""
    import redis

    setup = RedisClusterSetup()
    try:
        for _ in range(masters):
            node = RedisClusterNode(
                kind="redis", host="127.0.0.1", port=free_port(), workdir=_workdir("redis-cluster")
            )
            node.bus_port = free_port()
            setup.nodes.append(node)
            node.start()
        clients = [redis.Redis(node.host, node.port) for node in setup.nodes]
        try:
            share = SLOTS // masters
            for index, client in enumerate(clients):
                last = SLOTS - 1 if index == masters - 1 else (index + 1) * share - 1
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", index * share, last)  # type: ignore[no-untyped-call]
            for node in setup.nodes[1:]:
                clients[0].execute_command("CLUSTER", "MEET", node.host, node.port, node.bus_port)  # type: ignore[no-untyped-call]

            def ready() -> bool:
                for client in clients:
                    info = client.execute_command("CLUSTER", "INFO")  # type: ignore[no-untyped-call]
                    text = info.decode() if isinstance(info, bytes) else str(info)
                    if "cluster_state:ok" not in text or f"cluster_known_nodes:{masters}" not in text:
                        return False
                return True

            _wait(ready, "the Redis Cluster did not reach cluster_state:ok")
        finally:
            for client in clients:
                client.close()
    except BaseException:
        setup.destroy()
        raise
    return setup


@dataclass
class SentinelSetup:
    """A master, a replica of it, and Sentinels watching it as ``service``."""

    service: str
    master: RedisServer
    replica: RedisServer
    sentinels: list[SentinelServer]

    @property
    def sentinel_addresses(self) -> list[str]:
        return [sentinel.address for sentinel in self.sentinels]

    def current_master(self) -> str:
        """``host:port`` of the master the first Sentinel names now."""
        import redis

        client = redis.Redis(self.sentinels[0].host, self.sentinels[0].port, socket_timeout=2)
        try:
            host, port = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service)  # type: ignore[no-untyped-call]
        finally:
            client.close()
        return f"{host.decode()}:{port.decode()}"

    def wait_for_master(self, address: str, timeout: float = 20) -> None:
        """Wait until the Sentinels name *address* as master and it accepts writes."""
        import redis

        host, port = address.split(":")

        def done() -> bool:
            if self.current_master() != address:
                return False
            client = redis.Redis(host, int(port), socket_timeout=2)
            try:
                role = client.execute_command("ROLE")  # type: ignore[no-untyped-call]
            finally:
                client.close()
            return bool(role[0] == b"master")

        _wait(done, f"Sentinel did not make {address} the master", timeout)

    def destroy(self) -> None:
        for server in (*self.sentinels, self.replica, self.master):
            server.destroy()


def start_sentinel(service: str = "kata", sentinels: int = 1) -> SentinelSetup:
    """Start a master, a replica and *sentinels* Sentinels; return once they see the replica."""
    import redis

    master = RedisServer(kind="redis", host="127.0.0.1", port=free_port(), workdir=_workdir("redis-master"))
    replica = RedisServer(kind="redis", host="127.0.0.1", port=free_port(), workdir=_workdir("redis-replica"))
    setup = SentinelSetup(service, master, replica, [])
    try:
        master.start()
        replica.start()
        for server in (master, replica):  # either may be master: no 5 s wait before a sync
            with redis.Redis(server.host, server.port) as setting:
                setting.config_set("repl-diskless-sync-delay", 0)
        client = redis.Redis(replica.host, replica.port)
        try:
            client.execute_command("REPLICAOF", master.host, master.port)  # type: ignore[no-untyped-call]
            # In sync before the Sentinels start: they read a replica's state every 10 s only.
            _wait(
                lambda: client.info("replication").get("master_link_status") == "up",
                "the replica did not sync with its master",
            )
        finally:
            client.close()
        for _ in range(sentinels):
            sentinel = SentinelServer(
                kind="redis", host="127.0.0.1", port=free_port(), workdir=_workdir("sentinel")
            )
            sentinel.service, sentinel.master = service, master
            setup.sentinels.append(sentinel)
            sentinel.start()

        def replica_known() -> bool:
            for sentinel in setup.sentinels:
                watcher = redis.Redis(sentinel.host, sentinel.port, socket_timeout=2)
                try:
                    replicas = watcher.sentinel_slaves(service)
                finally:
                    watcher.close()
                # redis-py parses each replica's fields into a dict.
                if not any(entry.get("master-link-status") == "ok" for entry in replicas):
                    return False
            return True

        _wait(replica_known, "the Sentinels did not see a replica in sync")
    except BaseException:
        setup.destroy()
        raise
    return setup
