"""Redis Sentinel: the cache finds the master through the Sentinels and follows it after a failover."""

from __future__ import annotations

import threading
import time
from typing import Any

import redis

import kata.cache
import kata.container


def _raw(address: str) -> redis.Redis:
    host, port = address.split(":")
    return redis.Redis(host, int(port), socket_timeout=2)


def test_the_master_is_found_through_the_sentinels(own_sentinel: Any, key_prefix: str) -> None:
    setup = own_sentinel()
    # The first Sentinel listed is down: the next one answers.
    dead = "127.0.0.1:1"
    kata.cache.initialize(
        {
            "main": {
                "type": "redis",
                "sentinel": [dead, *setup.sentinel_addresses],
                "service": "kata",
                "prefix": key_prefix,
            }
        }
    )
    try:
        cache = kata.cache.main
        cache.set_multi({"a": 1, "b": [2]}, expire=30)
        assert cache.get_multi(["a", "b", "c"]) == {"a": 1, "b": [2]}
        master = _raw(setup.master.address)
        assert master.exists(f"{key_prefix}a", f"{key_prefix}b") == 2
        master.close()
    finally:
        kata.cache.close()


def test_after_a_failover_writes_go_to_the_new_master_and_no_lookup_fails(
    own_sentinel: Any, key_prefix: str
) -> None:
    setup = own_sentinel()
    cache = kata.cache.RedisCache(
        sentinel=setup.sentinel_addresses, service="kata", prefix=key_prefix, timeout=0.5, retry_interval=0.2
    )
    pulls: list[int] = []

    class Answer(kata.container.Simple):
        def init(self, n: int) -> None:
            self.n = n

        def cache(self) -> kata.cache.Cache:
            return cache

        def expire(self) -> int:
            return 60

        def key(self) -> str:
            return f"answer:{self.n}"

        def pull(self) -> int:
            pulls.append(self.n)
            return self.n * 2

    assert Answer(1).get() == 2
    old, new = setup.master.address, setup.replica.address
    assert setup.current_master() == old

    wrong: list[Any] = []
    stop = threading.Event()

    def load() -> None:
        n = 0
        while not stop.is_set():
            n = (n + 1) % 50
            try:
                value = Answer(n).get()
            except Exception as exc:  # a failed lookup is what this test is about
                wrong.append(exc)
                continue
            if value != n * 2:
                wrong.append((n, value))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.3)
        sentinel = _raw(setup.sentinel_addresses[0])
        assert sentinel.execute_command("SENTINEL", "FAILOVER", "kata")
        sentinel.close()
        setup.wait_for_master(new)
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    # During the failover every lookup was answered, from the cache or the source.
    assert wrong == []

    # Now the cache writes to the new master (once its next check of the master is due).
    promoted = kata.cache.RedisCache(new, prefix=key_prefix)
    deadline = time.monotonic() + 10
    while promoted.get("after") != "failover":
        assert time.monotonic() < deadline, "no write reached the new master"
        try:
            cache.set("after", "failover")
        except kata.cache.CacheError:
            time.sleep(0.05)
    for n in range(20):
        cache.set(f"then:{n}", n)
    assert promoted.get_multi([f"then:{n}" for n in range(20)]) == {f"then:{n}": n for n in range(20)}
    role = _raw(new)
    assert role.execute_command("ROLE")[0] == b"master"
    role.close()
    assert cache.get("after") == "failover"
    promoted.close()
    cache.close()
