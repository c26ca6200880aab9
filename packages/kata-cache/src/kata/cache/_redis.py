"""The Redis cache type: one server, a Redis Cluster, or the master a Sentinel names."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisClusterException
from redis.retry import Retry
from redis.sentinel import Sentinel

from kata.cache._base import Cache
from kata.cache._errors import CacheError
from kata.cache._options import check_count, check_seconds, split_address

# One round trip for any number of keys with one expiry: MSET takes no expiry, and a
# pipeline of SETs costs the server a command parse and reply per key.
_SET_MANY_PX = """
local px = ARGV[#ARGV]
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[i], 'PX', px)
end
return #KEYS
"""

# Redis refuses a deadline beyond the int64 range of milliseconds; this is ~285,000 years.
_MAX_PX = 2**53

# Failures that mean the server is unreachable or hung, as opposed to a refused command; the
# cluster client raises RedisClusterException when no node tells it the slots.
_UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, RedisClusterException)

R = TypeVar("R")


def _milliseconds(expire: float) -> int:
    return min(max(math.ceil(expire * 1000), 1), _MAX_PX)


def _addresses(option: str, value: object) -> list[tuple[str, int]]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise ValueError(f"{option} must be a non-empty list of 'host:port' strings, not {value!r}")
    return [split_address(address, 26379 if option == "sentinel" else 6379) for address in value]


class RedisCache(Cache):
    """A cache on Redis: one server, a Redis Cluster, or the master of a Sentinel service.

    Give one of:

    - ``host``, ``'host:port'`` (with ``db``, ``username`` and ``password``);
    - ``url``, ``redis://`` or ``rediss://`` for TLS, with user, password, db and TLS
      options as redis-py reads them;
    - ``cluster``, a list of ``'host:port'`` of some nodes of a Redis Cluster (the client
      learns the others and the slots from them);
    - ``sentinel``, a list of ``'host:port'`` of Sentinels, and ``service``, the name the
      Sentinels monitor: the master is asked of them on each new connection and at most
      every ``retry_interval`` seconds, so after a failover the cache writes to the new
      master.

    With none of them, ``localhost:6379``. Connections come from a thread-safe pool of at
    most ``max_connections`` (None: redis-py's default).

    A server that is down or hung fails fast: ``connect_timeout`` and ``timeout`` (seconds)
    bound connecting and each reply, a failed command is not retried, and a server that
    could not be reached or timed out is set aside for ``retry_interval`` seconds. Meanwhile
    every call raises :class:`~kata.cache.CacheError` at once, without touching the network;
    after it, one call tries the server again (the others still fail at once until that
    call has an answer).

    Bulk calls are one command each on one server: ``get_multi`` one MGET, ``set_multi`` one
    MSET or, with an expiry, one script that sets every key with it, ``delete_multi`` one DEL.
    On a cluster they are one pipeline per node holding any of the keys, one round trip
    each: one MGET, MSET or DEL per hash slot, and with an expiry one ``SET PX`` per key.
    """

    def __init__(
        self,
        host: str | None = None,
        db: int = 0,
        prefix: str = "",
        password: str | None = None,
        *,
        url: str | None = None,
        cluster: Sequence[str] | None = None,
        sentinel: Sequence[str] | None = None,
        service: str | None = None,
        username: str | None = None,
        connect_timeout: float = 0.5,
        timeout: float = 0.5,
        retry_interval: float = 1.0,
        max_connections: int | None = None,
        pickle: bool = False,
    ) -> None:
        super().__init__(prefix, pickle=pickle)
        given = [
            name
            for name, value in (("host", host), ("url", url), ("cluster", cluster), ("sentinel", sentinel))
            if value is not None
        ]
        if len(given) > 1:
            raise ValueError(f"{given[1]} and {given[0]} cannot be given together: choose one")
        if (sentinel is None) != (service is None):
            raise ValueError(
                "service and sentinel go together: the Sentinels and the name of the master they monitor"
            )
        self.retry_interval = check_seconds("retry_interval", retry_interval)
        options: dict[str, Any] = {
            "socket_connect_timeout": check_seconds("connect_timeout", connect_timeout),
            "socket_timeout": check_seconds("timeout", timeout),
            # redis-py retries failed commands with backoff by default, which turns a down
            # server into seconds of waiting per call; a cache must fail at once instead.
            "retry": Retry(NoBackoff(), 0),
        }
        if check_count("max_connections", max_connections) is not None:
            options["max_connections"] = max_connections
        if not isinstance(db, int) or isinstance(db, bool) or db < 0:
            raise ValueError(f"db must be an int >= 0, not {db!r}")
        self._cluster = cluster is not None
        self._client: Any
        self._connect: Callable[[], Any] | None = None
        self._find_master: Callable[[], Any] | None = None
        self._master_checked = 0.0
        if url is not None:
            if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
                raise ValueError(f"url must start with redis://, rediss:// or unix://, got {url!r}")
            self.address = url.rpartition("@")[2]  # never show the password in messages
            self._client = redis.Redis.from_url(url, **options)
        elif cluster is not None:
            nodes = _addresses("cluster", cluster)
            self.address = "cluster " + ",".join(cluster)
            # The cluster client follows moved slots itself; the Retry of no retries keeps it
            # from stacking timeouts on a hung node. It asks the cluster for its slots when it is made, so
            # it is made on first use: a cluster that is down must not fail initialize().
            self._connect = lambda: RedisCluster(
                startup_nodes=[ClusterNode(h, p) for h, p in nodes],  # type: ignore[no-untyped-call]
                username=username,
                password=password,
                **options,
            )
            self._client = None
        elif sentinel is not None:
            nodes = _addresses("sentinel", sentinel)
            if not isinstance(service, str) or not service:
                raise ValueError(
                    f"service must be the name of a master the Sentinels monitor, not {service!r}"
                )
            self.address = f"sentinel {service} via " + ",".join(sentinel)
            # The Sentinels get the same short timeouts: asking a hung one must fail fast too.
            watchers = Sentinel(  # type: ignore[no-untyped-call]
                nodes,
                sentinel_kwargs={
                    k: options[k] for k in ("socket_connect_timeout", "socket_timeout", "retry")
                },
                **{k: v for k, v in options.items() if k != "max_connections"},
            )
            pool_options = (
                {"max_connections": options["max_connections"]} if "max_connections" in options else {}
            )
            self._client = watchers.master_for(  # type: ignore[no-untyped-call]
                service, db=db, username=username, password=password, **pool_options
            )
            self._find_master = self._client.connection_pool.get_master_address
        else:
            address = "localhost:6379" if host is None else host
            server, port = split_address(address, 6379)
            self.address = f"{address}/{db}"
            self._client = redis.Redis(
                host=server, port=port, db=db, username=username, password=password, **options
            )
        self._connect_lock = threading.Lock()
        self._set_many_px = None if self._cluster else self._client.register_script(_SET_MANY_PX)
        self._down_until = 0.0
        self._down_lock = threading.Lock()

    def ping(self) -> None:
        self._call("ping", lambda client: client.ping())

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def _call(self, operation: str, call: Callable[[Any], R]) -> R:
        """Run *call* on the client unless the server is set aside; set it aside if it fails to answer."""
        down = self._down_until
        if down:
            now = time.monotonic()
            with self._down_lock:
                if now < self._down_until:
                    self.stats.record_error()
                    label = f"cache {self.name!r}" if self.name else type(self).__name__
                    raise CacheError(
                        f"{label} ({self.address}): {operation} failed: the server did not answer and is "
                        f"set aside for {self.retry_interval} s"
                    )
                # This call tries the server again; the others keep failing at once meanwhile.
                self._down_until = now + self.retry_interval
        try:
            client = self._client
            if client is None:
                with self._connect_lock:
                    if self._client is None:
                        assert self._connect is not None
                        self._client = self._connect()
                    client = self._client
            if (
                self._find_master is not None
                and time.monotonic() - self._master_checked >= self.retry_interval
            ):
                # redis-py asks the Sentinels for the master only when it opens a connection, so
                # pooled connections would keep writing to a demoted master until it refuses.
                # Asking again every retry_interval drops the idle ones when the master moved.
                self._master_checked = time.monotonic()
                self._find_master()
            result = call(client)
        except _UNREACHABLE as exc:
            self._down_until = time.monotonic() + self.retry_interval
            raise self._failure(operation, self.address, exc) from exc
        except redis.RedisError as exc:
            raise self._failure(operation, self.address, exc) from exc
        if down:
            self._down_until = 0.0
        return result

    def _fetch_one(self, key: str) -> bytes | None:
        return self._call("get", lambda client: client.get(key))  # type: ignore[no-any-return]

    def _fetch_many(self, keys: list[str]) -> Mapping[str, bytes]:
        if self._cluster:
            values = self._call("get_multi", lambda client: client.mget_nonatomic(keys))
        else:
            values = self._call("get_multi", lambda client: client.mget(keys))
        return {key: data for key, data in zip(keys, values, strict=True) if data is not None}

    def _store_one(self, key: str, data: bytes, expire: float | None) -> None:
        px = None if expire is None else _milliseconds(expire)
        self._call("set", lambda client: client.set(key, data, px=px))

    def _store_many(self, items: dict[str, bytes], expire: float | None) -> None:
        if expire is None:
            if self._cluster:
                self._call("set_multi", lambda client: client.mset_nonatomic(items))
            else:
                self._call("set_multi", lambda client: client.mset(items))
        elif self._cluster:
            px = _milliseconds(expire)

            def pipelined(client: Any) -> None:
                # The cluster pipeline sends each node its commands in one write: one round
                # trip per node. A script cannot span slots, so each key is one SET.
                pipe = client.pipeline(transaction=False)
                for key, data in items.items():
                    pipe.set(key, data, px=px)
                pipe.execute()

            self._call("set_multi", pipelined)
        else:
            script = self._set_many_px
            assert script is not None
            args = [*items.values(), _milliseconds(expire)]
            self._call("set_multi", lambda client: script(keys=list(items), args=args))

    def _add_one(self, key: str, data: bytes, expire: float | None) -> bool:
        px = None if expire is None else _milliseconds(expire)
        return bool(self._call("add", lambda client: client.set(key, data, px=px, nx=True)))

    def _remove_one(self, key: str) -> None:
        self._call("delete", lambda client: client.delete(key))

    def _remove_many(self, keys: list[str]) -> None:
        self._call("delete_multi", lambda client: client.delete(*keys))
