"""Redis specifics: commands counted on the server, expiry in Redis, failures and recovery."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from hashlib import blake2b
from typing import Any

import pytest
import redis

import kata.cache
import kata.codec


@pytest.fixture
def server(own_server: Any) -> Any:
    return own_server("redis")


@pytest.fixture
def raw(server: Any) -> Iterator[redis.Redis]:
    client = redis.Redis(server.host, server.port)
    yield client
    client.close()


def commands(raw: redis.Redis) -> dict[str, int]:
    """Calls per command since the last reset, without the INFO and CONFIG calls of the test."""
    stats = raw.info("commandstats")
    counts = {name.removeprefix("cmdstat_"): int(entry["calls"]) for name, entry in stats.items()}
    counts.pop("info", None)
    counts.pop("config|resetstat", None)
    return counts


def test_bulk_calls_are_one_command_each(server: Any, raw: redis.Redis) -> None:
    cache = kata.cache.RedisCache(server.address, prefix="p:")
    keys = [f"k{i}" for i in range(1000)]
    cache.set_multi({key: key for key in keys}, expire=60)  # loads the script once
    raw.config_resetstat()

    cache.set_multi({key: [key] for key in keys}, expire=60)
    assert commands(raw) == {"evalsha": 1, "set": 1000}  # the script's SETs run inside the server
    raw.config_resetstat()

    cache.set_multi({key: key for key in keys})
    assert commands(raw) == {"mset": 1}
    raw.config_resetstat()

    assert len(cache.get_multi([*keys, "missing"])) == 1000
    assert commands(raw) == {"mget": 1}
    raw.config_resetstat()

    cache.delete_multi(keys)
    assert commands(raw) == {"del": 1}
    raw.config_resetstat()

    cache.get_multi([])
    cache.set_multi({})
    cache.set_multi({}, expire=5)
    cache.delete_multi([])
    assert commands(raw) == {}
    cache.close()


def test_expiry_is_set_in_redis(server: Any, raw: redis.Redis) -> None:
    cache = kata.cache.RedisCache(server.address, prefix="p:")
    cache.set("a", 1, expire=100)
    cache.set_multi({"b": 1, "c": 2}, expire=0.5)
    cache.set_multi({"d": 1})
    assert cache.add("e", 1, expire=40 * 24 * 3600)
    assert 99_000 < raw.pttl("p:a") <= 100_000
    assert 0 < raw.pttl("p:b") <= 500
    assert 0 < raw.pttl("p:c") <= 500
    assert raw.pttl("p:d") == -1
    assert raw.ttl("p:e") > 39 * 24 * 3600
    cache.set("a", 2)  # a plain set keeps no old expiry
    assert raw.pttl("p:a") == -1
    cache.close()


def test_stored_keys_are_the_mapped_keys(server: Any, raw: redis.Redis) -> None:
    cache = kata.cache.RedisCache(server.address, prefix="app:")
    cache.set("user:1", 1)
    cache.set("a key with spaces", 2)
    stored = sorted(key.decode() for key in raw.keys("app:*"))
    digest = blake2b(b"a key with spaces", digest_size=16).hexdigest()
    assert stored == [f"app:a~{digest}", "app:user:1"]
    cache.close()


def test_a_killed_server_raises_cache_error_fast_then_recovers(server: Any) -> None:
    cache = kata.cache.RedisCache(server.address, prefix="p:", retry_interval=0.3)
    cache.set_multi({"a": 1, "b": 2})
    server.kill()
    calls = [
        lambda: cache.get("a"),
        lambda: cache.get_multi(["a", "b"]),
        lambda: cache.set("a", 1),
        lambda: cache.set_multi({"a": 1}, expire=5),
        lambda: cache.set_multi({"a": 1}),
        lambda: cache.add("a", 1),
        lambda: cache.delete("a"),
        lambda: cache.delete_multi(["a", "b"]),
        cache.ping,
    ]
    for call in calls:
        with pytest.raises(kata.cache.CacheError, match=server.address):
            call()
    assert cache.stats.errors == len(calls)
    server.start()  # an empty server: Redis persistence is off in tests
    _eventually(lambda: cache.set("a", "back"))
    assert cache.get_multi(["a", "b"]) == {"a": "back"}
    cache.set_multi({"x": 1}, expire=5)  # the script is loaded again on the new server
    assert cache.get("x") == 1
    cache.close()


def _eventually(call: Any, within: float = 10) -> Any:
    """Call until it does not raise CacheError (the server is retried after retry_interval)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return call()
        except kata.cache.CacheError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_a_server_that_stops_answering_times_out(server: Any, raw: redis.Redis) -> None:
    cache = kata.cache.RedisCache(server.address, prefix="p:", timeout=0.2, retry_interval=0.3)
    cache.set("a", 1)
    raw.execute_command("CLIENT", "PAUSE", 1500, "ALL")
    with pytest.raises(kata.cache.CacheError, match="get failed") as caught:
        cache.get("a")
    assert isinstance(caught.value.__cause__, redis.TimeoutError)
    assert _eventually(lambda: cache.get("a")) == 1
    cache.close()


def test_a_hung_server_is_set_aside_and_calls_fail_at_once(server: Any, raw: redis.Redis) -> None:
    cache = kata.cache.RedisCache(server.address, prefix="p:", timeout=0.2, retry_interval=600)
    cache.set("a", 1)
    clients_before = len(raw.client_list())
    os.kill(server.proc.pid, signal.SIGSTOP)
    try:
        with pytest.raises(kata.cache.CacheError, match="get failed") as caught:
            cache.get("a")
        assert isinstance(caught.value.__cause__, redis.TimeoutError)
        calls = [
            lambda: cache.get("a"),
            lambda: cache.get_multi(["a"]),
            lambda: cache.set("a", 2),
            lambda: cache.set_multi({"a": 2}, expire=5),
            lambda: cache.add("b", 1),
            lambda: cache.delete_multi(["a"]),
            cache.ping,
        ]
        for call in calls:
            with pytest.raises(kata.cache.CacheError, match="set aside for 600 s") as caught:
                call()
            assert caught.value.__cause__ is None  # refused before any I/O, not a driver error
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
    # Nothing reached the server meanwhile: the value is untouched, no connection was opened.
    assert kata.codec.loads(raw.get("p:a")) == 1
    assert raw.exists("p:b") == 0
    assert len(raw.client_list()) <= clients_before
    assert cache.stats.errors == 1 + len(calls)
    cache.close()


def test_after_the_interval_one_call_tries_again_and_success_clears_it(server: Any) -> None:
    cache = kata.cache.RedisCache(server.address, prefix="p:", retry_interval=0.2)
    server.kill()
    with pytest.raises(kata.cache.CacheError):
        cache.get("a")
    with pytest.raises(kata.cache.CacheError, match="set aside"):
        cache.get("a")
    server.start()
    _eventually(cache.ping)
    cache.set("a", 1)
    # Healthy again: calls reach the server at once.
    assert [cache.get("a") for _ in range(5)] == [1] * 5
    cache.close()


def test_threads_share_one_instance(server: Any) -> None:
    cache = kata.cache.RedisCache(server.address, prefix="p:")
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                cache.set_multi({f"{n}:{i}": i}, expire=60)
                assert cache.get_multi([f"{n}:{i}"]) == {f"{n}:{i}": i}
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert cache.stats.hits == 400
    cache.close()


def test_url_form() -> None:
    secure = kata.cache.RedisCache(url="rediss://user:secret@cache.example:6380/2")
    pool = secure._client.connection_pool
    assert pool.connection_class is redis.SSLConnection
    assert pool.connection_kwargs["db"] == 2
    assert pool.connection_kwargs["password"] == "secret"
    assert "secret" not in secure.address
    with pytest.raises(ValueError, match="url must start with"):
        kata.cache.RedisCache(url="http://cache.example")
