"""The Redis cache type."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from kata.cache._base import Cache
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


def _milliseconds(expire: float) -> int:
    return min(max(math.ceil(expire * 1000), 1), _MAX_PX)


class RedisCache(Cache):
    """A cache on one Redis server.

    ``host`` is ``'host:port'``; alternatively ``url`` (``redis://`` or ``rediss://`` for
    TLS, with user, password, db and TLS options as redis-py reads them) replaces ``host``,
    ``db``, ``username`` and ``password``. Connections come from a thread-safe pool of at
    most ``max_connections`` (None: redis-py's default).

    A server that is down or slow fails fast: ``connect_timeout`` and ``timeout`` (seconds)
    bound connecting and each reply, and a failed command is not retried, so it raises
    :class:`~kata.cache.CacheError` after at most one timeout.

    Bulk calls are one command each: ``get_multi`` one MGET, ``set_multi`` one MSET or,
    with an expiry, one script that sets every key with it, ``delete_multi`` one DEL.
    """

    def __init__(
        self,
        host: str = "localhost:6379",
        db: int = 0,
        prefix: str = "",
        password: str | None = None,
        *,
        url: str | None = None,
        username: str | None = None,
        connect_timeout: float = 0.5,
        timeout: float = 0.5,
        max_connections: int | None = None,
        pickle: bool = False,
    ) -> None:
        super().__init__(prefix, pickle=pickle)
        options: dict[str, Any] = {
            "socket_connect_timeout": check_seconds("connect_timeout", connect_timeout),
            "socket_timeout": check_seconds("timeout", timeout),
            # redis-py retries failed commands with backoff by default, which turns a down
            # server into seconds of waiting per call; a cache must fail at once instead.
            "retry": Retry(NoBackoff(), 0),
        }
        if check_count("max_connections", max_connections) is not None:
            options["max_connections"] = max_connections
        if url is not None:
            if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
                raise ValueError(f"url must start with redis://, rediss:// or unix://, got {url!r}")
            self.address = url.rpartition("@")[2]  # never show the password in messages
            self._client = redis.Redis.from_url(url, **options)
        else:
            server, port = split_address(host, 6379)
            if not isinstance(db, int) or isinstance(db, bool) or db < 0:
                raise ValueError(f"db must be an int >= 0, not {db!r}")
            self.address = f"{host}/{db}"
            self._client = redis.Redis(
                host=server, port=port, db=db, username=username, password=password, **options
            )
        self._set_many_px = self._client.register_script(_SET_MANY_PX)

    def ping(self) -> None:
        try:
            self._client.ping()
        except redis.RedisError as exc:
            raise self._failure("ping", self.address, exc) from exc

    def close(self) -> None:
        self._client.close()

    def _fetch_one(self, key: str) -> bytes | None:
        try:
            return self._client.get(key)  # type: ignore[return-value]
        except redis.RedisError as exc:
            raise self._failure("get", self.address, exc) from exc

    def _fetch_many(self, keys: list[str]) -> Mapping[str, bytes]:
        try:
            values = self._client.mget(keys)
        except redis.RedisError as exc:
            raise self._failure("get_multi", self.address, exc) from exc
        return {key: data for key, data in zip(keys, values, strict=True) if data is not None}  # type: ignore[misc]

    def _store_one(self, key: str, data: bytes, expire: float | None) -> None:
        try:
            self._client.set(key, data, px=None if expire is None else _milliseconds(expire))
        except redis.RedisError as exc:
            raise self._failure("set", self.address, exc) from exc

    def _store_many(self, items: dict[str, bytes], expire: float | None) -> None:
        try:
            if expire is None:
                self._client.mset(items)
            else:
                self._set_many_px(keys=list(items), args=[*items.values(), _milliseconds(expire)])
        except redis.RedisError as exc:
            raise self._failure("set_multi", self.address, exc) from exc

    def _add_one(self, key: str, data: bytes, expire: float | None) -> bool:
        try:
            done = self._client.set(key, data, px=None if expire is None else _milliseconds(expire), nx=True)
        except redis.RedisError as exc:
            raise self._failure("add", self.address, exc) from exc
        return bool(done)

    def _remove_one(self, key: str) -> None:
        try:
            self._client.delete(key)
        except redis.RedisError as exc:
            raise self._failure("delete", self.address, exc) from exc

    def _remove_many(self, keys: list[str]) -> None:
        try:
            self._client.delete(*keys)
        except redis.RedisError as exc:
            raise self._failure("delete_multi", self.address, exc) from exc
