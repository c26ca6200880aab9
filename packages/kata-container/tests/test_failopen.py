"""Fail open: with a cache server down or refusing writes, containers still return the right values."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

import kata.cache
import kata.container


def _containers(cache: Any, pulls: list[Any], lock: Any = None) -> tuple[type, type]:
    class Rows(kata.container.Attribute):
        def cache(self) -> Any:
            return cache

        def lock(self) -> Any:
            return lock

        def expire(self) -> int:
            return 600

        def key(self, item: Any) -> str:
            return f"row:{item}"

        def pull(self, items: list[Any]) -> dict[Any, Any]:
            pulls.append(list(items))
            return {item: f"row {item}" for item in items if item != 3}

    class Total(kata.container.Simple):
        def cache(self) -> Any:
            return cache

        def lock(self) -> Any:
            return lock

        def key(self) -> str:
            return "total"

        def pull(self) -> int:
            pulls.append("total")
            return 1234

    return Rows, Total


EXPECTED = {1: "row 1", 2: "row 2", 4: "row 4", 5: "row 5"}


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == "kata.container" and r.levelno == logging.WARNING
    ]


@pytest.mark.parametrize("kind", ["redis", "memcached"])
def test_a_cache_server_killed_mid_test_still_yields_correct_values(
    own_server: Callable[[str], Any], kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = own_server(kind)
    cache: kata.cache.Cache
    if kind == "redis":
        # A server that failed is tried again after retry_interval seconds.
        cache = kata.cache.RedisCache(host=server.address, prefix="fo:", retry_interval=0.5)
    else:
        cache = kata.cache.MemcachedCache(hosts=[server.address], prefix="fo:", retry_interval=0.5)
    pulls: list[Any] = []
    Rows, Total = _containers(cache, pulls)
    assert Rows([1, 2, 3, 4, 5]).get() == EXPECTED
    assert Total().get() == 1234
    assert Rows([1, 2, 3, 4, 5]).get() == EXPECTED
    assert pulls == [[1, 2, 3, 4, 5], "total"]

    server.kill()
    with caplog.at_level(logging.WARNING, logger="kata.container"):
        for _ in range(5):
            assert Rows([1, 2, 3, 4, 5]).get() == EXPECTED
            assert Total().get() == 1234
        Rows([1, 2]).dirty()
        Total().dirty()

    # Every lookup went to the source, since nothing could be read.
    assert pulls[2:] == [[1, 2, 3, 4, 5], "total"] * 5
    warnings = _warnings(caplog)
    # Rate-limited: one warning per kind of failure, not one per call.
    assert len(warnings) == 2, warnings
    assert "Rows: cache read failed, pulling from the source instead" in warnings[0]
    assert "cache delete failed, stale values stay until they expire" in warnings[1]

    # Back up (empty: the kill lost what was stored): values are pulled once and cached again.
    server.start()
    time.sleep(0.6)
    pulls.clear()
    for _ in range(3):
        assert Rows([1, 2, 3, 4, 5]).get() == EXPECTED
        assert Total().get() == 1234
    assert pulls == [[1, 2, 3, 4, 5], "total"]
    cache.close()


def test_a_cache_refusing_writes_still_yields_values(
    own_server: Callable[[str], Any], caplog: pytest.LogCaptureFixture
) -> None:
    server = own_server("redis")
    cache = kata.cache.RedisCache(host=server.address, prefix="fo:")
    pulls: list[Any] = []
    Rows, Total = _containers(cache, pulls)
    assert Rows([1, 2]).get() == {1: "row 1", 2: "row 2"}
    # A replica serves reads but refuses writes : reads succeed, writes fail.
    admin = redis.Redis.from_url(server.url)
    admin.replicaof("127.0.0.1", 1)
    try:
        with caplog.at_level(logging.WARNING, logger="kata.container"):
            assert Rows([1, 2, 3, 4, 5]).get() == EXPECTED
            assert Rows([1, 2, 3, 4, 5]).get() == EXPECTED
            assert Total().get() == 1234
    finally:
        admin.replicaof("no", "one")

    # 1 and 2 were read from the cache; the rest were pulled each time, as nothing could be stored.
    assert pulls == [[1, 2], [3, 4, 5], [3, 4, 5], "total"]
    warnings = _warnings(caplog)
    assert len(warnings) == 1, warnings
    assert "Rows: cache write failed, values not stored" in warnings[0]
    assert "read only replica" in warnings[0]
    cache.close()


def test_a_lock_cache_that_is_down_does_not_stop_lookups(
    own_server: Callable[[str], Any], cache: kata.cache.Cache, caplog: pytest.LogCaptureFixture
) -> None:
    lock_server = own_server("redis")
    lock = kata.cache.RedisCache(host=lock_server.address)
    lock_server.kill()
    pulls: list[Any] = []
    Rows, Total = _containers(cache, pulls, lock=lock)

    with caplog.at_level(logging.WARNING, logger="kata.container"):
        assert Rows([1, 2, 3, 4, 5]).get() == EXPECTED
        assert Total().get() == 1234
        assert Rows([1, 2, 3, 4, 5]).get() == EXPECTED
        assert Total().get() == 1234

    # The values were stored in the (working) value cache even though no lock could be taken.
    assert pulls == [[1, 2, 3, 4, 5], "total"]
    warnings = _warnings(caplog)
    assert len(warnings) == 1, warnings
    assert "taking a cache lock failed, pulling without it" in warnings[0]


def test_a_lock_held_elsewhere_is_waited_for_then_taken_over(cache: kata.cache.Cache) -> None:
    # Another process took the lock for 'total' and died without storing it: after lock_timeout
    # this process stops waiting and pulls the value itself.
    pulls: list[Any] = []
    _, Total = _containers(cache, pulls, lock=cache)

    class Patient(Total):
        def lock_timeout(self) -> int:
            return 1

    assert cache.add("kata-lock:total", True, expire=30)
    assert Patient().get() == 1234
    assert pulls == ["total"]
    assert cache.get("total") == 1234


def test_a_hung_redis_costs_one_timeout_then_lookups_go_to_the_source_at_once(
    own_server: Callable[[str], Any],
) -> None:
    server = own_server("redis")
    cache = kata.cache.RedisCache(host=server.address, prefix="h:", timeout=0.3, retry_interval=600)
    causes: list[str] = []

    class Recording:
        """The cache, noting what each failed call failed on."""

        def __getattr__(self, name: str) -> Any:
            method = getattr(cache, name)

            def call(*args: Any, **kwargs: Any) -> Any:
                try:
                    return method(*args, **kwargs)
                except kata.cache.CacheError as exc:
                    causes.append(type(exc.__cause__).__name__)
                    raise

            return call

    pulls: list[Any] = []
    Rows, Total = _containers(Recording(), pulls)
    assert Rows([1, 2, 3, 4, 5]).get() == EXPECTED
    pulls.clear()
    assert server.proc is not None
    os.kill(server.proc.pid, signal.SIGSTOP)
    try:
        for _ in range(20):
            assert Rows([1, 2, 3, 4, 5]).get() == EXPECTED
            assert Total().get() == 1234
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
    # Every lookup was answered from the source...
    assert pulls == [[1, 2, 3, 4, 5], "total"] * 20
    # ...and only the first call waited for the hung server; the 39 others failed at once,
    # before any I/O (no driver error behind them).
    assert causes == ["TimeoutError"] + ["NoneType"] * 39
    with pytest.raises(kata.cache.CacheError, match="set aside") as caught:
        cache.get("x")
    assert caught.value.__cause__ is None
    cache.close()
