"""The memcached cache type: one or more servers, keys spread by consistent hashing."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from pymemcache.client.base import PooledClient
from pymemcache.exceptions import MemcacheError, MemcacheUnexpectedCloseError

from kata.cache._base import Cache
from kata.cache._errors import CacheError
from kata.cache._options import check_count, check_seconds, split_address
from kata.cache._ring import Ring

# memcached reads an expiry above 30 days as a Unix time, and keeps it in 32 bits.
_RELATIVE_LIMIT = 30 * 24 * 3600
_LATEST_DEADLINE = 2**31 - 1

# Errors that mean the node is unreachable, as opposed to a refused command.
_NODE_DOWN = (OSError, MemcacheUnexpectedCloseError)

R = TypeVar("R")


def _exptime(expire: float | None) -> int:
    if expire is None:
        return 0
    seconds = math.ceil(expire)
    if seconds <= _RELATIVE_LIMIT:
        return seconds
    return min(int(time.time()) + seconds, _LATEST_DEADLINE)


class _Node:
    __slots__ = ("address", "client", "dead_until")

    def __init__(self, address: str, client: PooledClient) -> None:
        self.address = address
        self.client = client
        self.dead_until = 0.0


class MemcachedCache(Cache):
    """A cache on one or more memcached servers.

    ``hosts`` lists ``'host:port'`` addresses. Keys are spread over them by consistent
    hashing, ketama as libketama computes it on the ``'host:port'`` strings as written (so
    write them the same way everywhere), and bulk calls send one request per server holding
    any of the keys.

    A server that fails to answer (refused, timed out, connection dropped) is *ejected* for
    ``retry_interval`` seconds: its keys move to the other servers, and the call that found
    it down is completed on them. With no server left, calls raise
    :class:`~kata.cache.CacheError` at once until the interval has passed. A server that
    comes back may still hold values written before it was ejected; keep expiries short
    where that matters.

    ``connect_timeout`` and ``timeout`` (seconds) bound connecting and each reply. Values
    larger than ``max_value_size`` bytes once encoded (memcached's default item limit is
    1 MiB, key and header included) raise CacheError, and the key's old value is deleted so
    it is not served in place of the one that could not be stored.
    """

    def __init__(
        self,
        hosts: Sequence[str] = ("localhost:11211",),
        prefix: str = "",
        *,
        connect_timeout: float = 0.5,
        timeout: float = 0.5,
        retry_interval: float = 30.0,
        max_connections: int | None = None,
        max_value_size: int = 1024 * 1024 - 512,
        pickle: bool = False,
    ) -> None:
        super().__init__(prefix, pickle=pickle)
        if isinstance(hosts, str) or not isinstance(hosts, Sequence) or not hosts:
            raise ValueError(f"hosts must be a non-empty list of 'host:port' strings, not {hosts!r}")
        connect_timeout = check_seconds("connect_timeout", connect_timeout)
        timeout = check_seconds("timeout", timeout)
        self.retry_interval = check_seconds("retry_interval", retry_interval)
        self.max_value_size = check_count("max_value_size", max_value_size) or 0
        pool_size = check_count("max_connections", max_connections)
        self._nodes: list[_Node] = []
        for address in hosts:
            host, port = split_address(address, 11211)
            if any(node.address == address for node in self._nodes):
                raise ValueError(f"hosts lists {address!r} twice")
            client = PooledClient(
                (host, port),
                connect_timeout=connect_timeout,
                timeout=timeout,
                no_delay=True,
                max_pool_size=pool_size,
                # Replies are read so that a refused value raises instead of vanishing.
                default_noreply=False,
            )
            self._nodes.append(_Node(address, client))
        self.hosts = [node.address for node in self._nodes]
        self._lock = threading.Lock()
        self._ring: Ring[_Node] = Ring([(node.address, node) for node in self._nodes])
        self._revive_at: float | None = None

    def ping(self) -> None:
        for node in self._nodes:
            try:
                node.client.version()
            except (MemcacheError, OSError) as exc:
                raise self._failure("ping", node.address, exc) from exc

    def close(self) -> None:
        for node in self._nodes:
            node.client.close()

    def server_for(self, key: str) -> str:
        """The address of the server that holds *key* now (servers set aside are skipped)."""
        return self._live_ring("server_for").node(self._key(key)).address

    # -- routing and node health ----------------------------------------------------------

    def _live_ring(self, operation: str) -> Ring[_Node]:
        if self._revive_at is not None and time.monotonic() >= self._revive_at:
            self._revive()
        ring = self._ring
        if not ring:
            self.stats.record_error()
            label = f"cache {self.name!r}" if self.name else type(self).__name__
            raise CacheError(
                f"{label}: {operation} failed: no memcached server is reachable "
                f"({', '.join(self.hosts)}); the next try is at most {self.retry_interval} s away"
            )
        return ring

    def _rebuild(self) -> None:
        # Called with the lock held.
        live = [(node.address, node) for node in self._nodes if not node.dead_until]
        self._ring = Ring(live)
        dead = [node.dead_until for node in self._nodes if node.dead_until]
        self._revive_at = min(dead) if dead else None

    def _eject(self, node: _Node) -> None:
        with self._lock:
            node.dead_until = time.monotonic() + self.retry_interval
            self._rebuild()

    def _revive(self) -> None:
        with self._lock:
            now = time.monotonic()
            for node in self._nodes:
                if node.dead_until and node.dead_until <= now:
                    node.dead_until = 0.0
            self._rebuild()

    def _on_nodes(
        self, operation: str, keys: Sequence[str], call: Callable[[PooledClient, list[str]], R]
    ) -> list[R]:
        """Run *call* once per node with that node's share of *keys*.

        A node found down is ejected and its share is run again on the remaining nodes.
        """
        results = []
        for node, share in self._live_ring(operation).group(keys).items():
            try:
                results.append(call(node.client, share))
            except _NODE_DOWN as exc:
                self._eject(node)
                if not self._ring:
                    raise self._failure(operation, node.address, exc) from exc
                self.stats.record_error()
                results.extend(self._on_nodes(operation, share, call))
            except MemcacheError as exc:
                raise self._failure(operation, node.address, exc) from exc
        return results

    # -- the primitives -------------------------------------------------------------------

    def _fetch_one(self, key: str) -> bytes | None:
        found = self._fetch_many([key])
        return found.get(key)

    def _fetch_many(self, keys: list[str]) -> Mapping[str, bytes]:
        shares = self._on_nodes("get", keys, lambda client, share: client.get_many(share))
        if len(shares) == 1:
            return shares[0]  # type: ignore[no-any-return]
        found: dict[str, bytes] = {}
        for share in shares:
            found.update(share)
        return found

    def _check_sizes(self, items: Mapping[str, bytes]) -> None:
        limit = self.max_value_size
        too_large = [key for key, data in items.items() if len(data) > limit]
        if too_large:
            # The caller meant to replace these values: serving the old ones would be wrong.
            self._remove_many(too_large)
            sizes = ", ".join(f"{key!r} ({len(items[key])} bytes)" for key in too_large[:5])
            raise CacheError(f"values larger than max_value_size={limit} bytes cannot be stored: {sizes}")

    def _store_one(self, key: str, data: bytes, expire: float | None) -> None:
        self._store_many({key: data}, expire)

    def _store_many(self, items: dict[str, bytes], expire: float | None) -> None:
        self._check_sizes(items)
        exptime = _exptime(expire)

        def store(client: PooledClient, share: list[str]) -> list[Any]:
            return client.set_many({key: items[key] for key in share}, expire=exptime)  # type: ignore[no-any-return]

        refused = [key for failed in self._on_nodes("set", list(items), store) for key in failed]
        if refused:
            raise self._failure("set", ", ".join(self.hosts), MemcacheError(f"not stored: {refused[:5]}"))

    def _add_one(self, key: str, data: bytes, expire: float | None) -> bool:
        self._check_sizes({key: data})
        exptime = _exptime(expire)
        (added,) = self._on_nodes(
            "add", [key], lambda client, share: client.add(share[0], data, expire=exptime)
        )
        return bool(added)

    def _remove_one(self, key: str) -> None:
        self._remove_many([key])

    def _remove_many(self, keys: list[str]) -> None:
        self._on_nodes("delete", keys, lambda client, share: client.delete_many(share))
