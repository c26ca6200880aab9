"""memcached specifics: per-node batches, long expiries, oversize values, dead nodes."""

from __future__ import annotations

import signal
import time
from collections import Counter
from typing import Any

import pytest
from pymemcache.client.base import Client
from pymemcache.exceptions import MemcacheUnexpectedCloseError

import kata.cache
from kata.cache._ring import Ring


def stats(server: Any) -> Counter[str]:
    client = Client((server.host, server.port))
    found = client.stats()
    client.close()
    return Counter({key.decode(): int(found[key]) for key in (b"cmd_get", b"cmd_set", b"delete_hits")})


def test_bulk_calls_batch_per_node(own_server: Any) -> None:
    servers = [own_server("memcached"), own_server("memcached")]
    cache = kata.cache.MemcachedCache([s.address for s in servers], prefix="p:")
    keys = [f"item:{i}" for i in range(1000)]
    before = [stats(s) for s in servers]
    cache.set_multi({key: key for key in keys}, expire=60)
    assert cache.get_multi(keys) == {key: key for key in keys}
    cache.delete_multi(keys)
    after = [stats(s) for s in servers]
    per_node = [a - b for a, b in zip(after, before, strict=True)]
    # Every key went to exactly one node, once per call, and both nodes got a share.
    assert sum(d["cmd_set"] for d in per_node) == 1000
    assert sum(d["cmd_get"] for d in per_node) == 1000
    assert sum(d["delete_hits"] for d in per_node) == 1000
    for delta in per_node:
        assert 300 < delta["cmd_set"] == delta["cmd_get"] == delta["delete_hits"] < 700
    cache.close()


def test_keys_spread_evenly_and_move_only_from_a_removed_node() -> None:
    nodes = [(f"10.0.0.{i}:11211", i) for i in range(4)]
    keys = [f"user:{i}" for i in range(20_000)]
    ring = Ring(nodes)
    owner = {key: ring.node(key) for key in keys}
    shares = Counter(owner.values())
    assert all(3_500 < shares[i] < 6_500 for i in range(4)), shares
    grouped = ring.group(keys)
    assert {node: len(share) for node, share in grouped.items()} == dict(shares)
    smaller = Ring(nodes[:3])
    moved = [key for key in keys if smaller.node(key) != owner[key]]
    assert {owner[key] for key in moved} == {3}
    assert len(moved) == shares[3]


def test_expiry_beyond_thirty_days(memcached_servers: Any, key_prefix: str) -> None:
    cache = kata.cache.MemcachedCache([s.address for s in memcached_servers], prefix=key_prefix)
    month = 30 * 24 * 3600
    cache.set("exactly", 1, expire=month)
    cache.set("longer", 2, expire=month + 1)
    cache.set_multi({"year": 3, "decade": 4}, expire=365 * 24 * 3600)
    assert cache.add("century", 5, expire=100 * 365 * 24 * 3600)
    assert cache.get_multi(["exactly", "longer", "year", "decade", "century"]) == {
        "exactly": 1,
        "longer": 2,
        "year": 3,
        "decade": 4,
        "century": 5,
    }
    cache.close()


def test_oversize_value_raises_and_leaves_no_old_value(memcached_servers: Any, key_prefix: str) -> None:
    cache = kata.cache.MemcachedCache([s.address for s in memcached_servers], prefix=key_prefix)
    cache.set_multi({"big": "old", "small": "old"})
    with pytest.raises(kata.cache.CacheError, match="max_value_size"):
        cache.set("big", b"x" * (2 * 1024 * 1024))
    with pytest.raises(kata.cache.CacheError, match=r"'[^']*big' \(\d+ bytes\)"):
        cache.set_multi({"small": "new", "big": "y" * (1024 * 1024)})
    assert cache.get_multi(["big", "small"]) == {"small": "old"}
    largest = b"z" * (cache.max_value_size - 8)  # leaves room for the encoding's header
    cache.set("big", largest)
    assert cache.get("big") == largest
    cache.close()


def test_the_server_refusing_a_value_raises(memcached_servers: Any, key_prefix: str) -> None:
    # With the client-side limit lifted, the server's own refusal still surfaces.
    cache = kata.cache.MemcachedCache(
        [memcached_servers[0].address], prefix=key_prefix, max_value_size=10 * 1024 * 1024
    )
    with pytest.raises(kata.cache.CacheError, match="too large") as caught:
        cache.set("huge", b"x" * (2 * 1024 * 1024))
    assert caught.value.__cause__ is not None
    assert cache.get("huge") is None
    cache.set("after", 1)  # the connection is usable again
    assert cache.get("after") == 1
    cache.close()


def test_a_killed_single_server_fails_fast_and_recovers(own_server: Any) -> None:
    server = own_server("memcached")
    cache = kata.cache.MemcachedCache([server.address], prefix="p:", retry_interval=0.5)
    cache.set("a", 1)
    server.kill()
    with pytest.raises(kata.cache.CacheError, match=server.address) as caught:
        cache.get_multi(["a"])
    assert isinstance(caught.value.__cause__, (OSError, MemcacheUnexpectedCloseError))
    # Ejected: further calls fail at once without touching the network.
    for call in (lambda: cache.get("a"), lambda: cache.set("a", 1), lambda: cache.delete_multi(["a"])):
        with pytest.raises(kata.cache.CacheError, match="no memcached server is reachable"):
            call()
    with pytest.raises(kata.cache.CacheError, match=server.address):
        cache.ping()
    assert cache.stats.errors == 5
    server.start()
    time.sleep(0.6)
    cache.set("a", "back")
    assert cache.get("a") == "back"
    cache.ping()
    cache.close()


def test_a_dead_node_is_ejected_and_its_keys_move(own_server: Any) -> None:
    servers = [own_server("memcached"), own_server("memcached")]
    cache = kata.cache.MemcachedCache([s.address for s in servers], prefix="p:", retry_interval=1)
    keys = [f"k{i}" for i in range(200)]
    cache.set_multi({key: key for key in keys})
    servers[1].kill()
    # The call that finds the node down completes on the live node: its keys there are hits.
    found = cache.get_multi(keys)
    assert 50 < len(found) < 150
    assert cache.stats.errors == 1
    cache.set_multi({key: key for key in keys})
    assert cache.get_multi(keys) == {key: key for key in keys}
    servers[1].start()
    time.sleep(1.1)
    # Back in the ring: its keys map to it again (and miss, as it restarted empty).
    assert len(cache.get_multi(keys)) == len(found)
    assert cache.stats.errors == 1
    cache.close()


def test_a_hung_node_times_out_and_is_ejected(own_server: Any) -> None:
    servers = [own_server("memcached"), own_server("memcached")]
    cache = kata.cache.MemcachedCache(
        [s.address for s in servers], prefix="p:", timeout=0.2, retry_interval=60
    )
    keys = [f"k{i}" for i in range(100)]
    cache.set_multi(dict.fromkeys(keys, 1))
    hung = servers[1].proc
    hung.send_signal(signal.SIGSTOP)  # accepts nothing, answers nothing: like a frozen host
    try:
        found = cache.get_multi(keys)
        assert 20 < len(found) < 80
        cache.set_multi(dict.fromkeys(keys, 2))
        assert cache.get_multi(keys) == dict.fromkeys(keys, 2)
        assert cache.stats.errors == 1
    finally:
        hung.send_signal(signal.SIGCONT)
    cache.close()


def test_a_hung_single_server_raises_the_timeout(own_server: Any) -> None:
    server = own_server("memcached")
    cache = kata.cache.MemcachedCache([server.address], timeout=0.2, connect_timeout=0.2)
    cache.set("a", 1)
    server.proc.send_signal(signal.SIGSTOP)
    try:
        with pytest.raises(kata.cache.CacheError, match="get failed") as caught:
            cache.get("a")
        assert isinstance(caught.value.__cause__, TimeoutError)
    finally:
        server.proc.send_signal(signal.SIGCONT)
    cache.close()
