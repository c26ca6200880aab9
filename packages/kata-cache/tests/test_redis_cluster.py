"""Redis Cluster: bulk calls cost one round trip per node holding keys, counted on each real node."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis.crc import key_slot

import kata.cache


@pytest.fixture
def nodes(redis_cluster: Any) -> Iterator[list[redis.Redis]]:
    """A plain client on each master, to count what reached it."""
    clients = [redis.Redis(node.host, node.port) for node in redis_cluster.nodes]
    yield clients
    for client in clients:
        client.close()


@pytest.fixture
def cache(redis_cluster: Any, key_prefix: str) -> Iterator[kata.cache.RedisCache]:
    made = kata.cache.RedisCache(cluster=redis_cluster.addresses[:1], prefix=key_prefix)
    yield made
    made.close()


def _slots_by_node(nodes: list[redis.Redis]) -> list[set[int]]:
    owned: list[set[int]] = [set() for _ in nodes]
    ports = [client.connection_pool.connection_kwargs["port"] for client in nodes]
    for start, end, master, *_ in nodes[0].execute_command("CLUSTER", "SLOTS"):
        owned[ports.index(int(master[1]))].update(range(start, end + 1))
    return owned


class Traffic:
    """Reads (client requests, one per round trip) and calls per command on each node, between two points."""

    def __init__(self, nodes: list[redis.Redis]) -> None:
        self.nodes = nodes
        for client in nodes:
            client.config_resetstat()
        self.reads = [self._reads(client) for client in nodes]

    @staticmethod
    def _reads(client: redis.Redis) -> int:
        return int(client.info("stats")["total_reads_processed"])

    def since(self) -> tuple[list[int], list[Counter[str]]]:
        # Each INFO of ours is one read too: the one at the start, and this one.
        reads = [
            self._reads(client) - before - 1 for client, before in zip(self.nodes, self.reads, strict=True)
        ]
        calls = []
        for client in self.nodes:
            stats = client.info("commandstats")
            found = Counter(
                {name.removeprefix("cmdstat_"): int(entry["calls"]) for name, entry in stats.items()}
            )
            for ours in ("info", "config|resetstat"):
                found.pop(ours, None)
            calls.append(found)
        self.reads = [self._reads(client) for client in self.nodes]
        return reads, calls


def test_bulk_calls_cost_one_round_trip_per_node_holding_keys(
    cache: kata.cache.RedisCache, nodes: list[redis.Redis], key_prefix: str
) -> None:
    keys = [f"k{i}" for i in range(60)]
    owned = _slots_by_node(nodes)
    slots = [
        [
            key_slot(f"{key_prefix}{key}".encode())
            for key in keys
            if key_slot(f"{key_prefix}{key}".encode()) in mine
        ]
        for mine in owned
    ]
    # No hash tags: the keys spread over every node.
    assert all(slots), [len(s) for s in slots]
    cache.set_multi({"warm-up": 1, **dict.fromkeys(keys, 0)})  # every node's connection is open
    cache.delete_multi(keys)

    traffic = Traffic(nodes)
    cache.set_multi({key: i for i, key in enumerate(keys)})
    reads, calls = traffic.since()
    assert reads == [1, 1, 1]
    assert [c["mset"] for c in calls] == [len(set(s)) for s in slots]  # one MSET per slot

    found = cache.get_multi([*keys, "absent"])
    reads, calls = traffic.since()
    assert found == {key: i for i, key in enumerate(keys)}
    assert reads == [1, 1, 1]
    assert sum(c["mget"] for c in calls) == sum(len(set(s)) for s in slots) + 1

    cache.set_multi({key: -i for i, key in enumerate(keys)}, expire=30)
    reads, calls = traffic.since()
    assert reads == [1, 1, 1]
    assert [c["set"] for c in calls] == [len(s) for s in slots]  # one SET PX per key, pipelined
    owner = {
        key: next(n for n, mine in enumerate(owned) if key_slot(f"{key_prefix}{key}".encode()) in mine)
        for key in keys
    }
    ttls = [nodes[owner[key]].pttl(f"{key_prefix}{key}") for key in keys]
    assert all(0 < ttl <= 30_000 for ttl in ttls), ttls
    assert cache.get_multi(keys[:3]) == {keys[0]: 0, keys[1]: -1, keys[2]: -2}
    traffic.since()

    cache.delete_multi(keys)
    reads, calls = traffic.since()
    assert reads == [1, 1, 1]
    assert [c["del"] for c in calls] == [len(set(s)) for s in slots]
    assert cache.get_multi(keys) == {}


def test_keys_on_one_node_cost_only_that_node(
    cache: kata.cache.RedisCache, nodes: list[redis.Redis], key_prefix: str
) -> None:
    owned = _slots_by_node(nodes)
    mine = [f"n{i}" for i in range(200) if key_slot(f"{key_prefix}n{i}".encode()) in owned[1]][:10]
    cache.set_multi(dict.fromkeys(mine, "warm-up"))  # node 1's connection is open

    traffic = Traffic(nodes)
    cache.set_multi(dict.fromkeys(mine, "v"), expire=10)
    assert cache.get_multi(mine) == dict.fromkeys(mine, "v")
    reads, _ = traffic.since()
    assert reads == [0, 2, 0]


def test_the_prefix_stays_a_prefix_and_hash_tags_are_the_caller_s(
    cache: kata.cache.RedisCache, nodes: list[redis.Redis], key_prefix: str
) -> None:
    cache.set("user:{42}:name", "Ada")
    cache.set("user:{42}:mail", "ada@example.org")
    stored = [key for client in nodes for key in client.keys(f"{key_prefix}user:*")]
    assert sorted(stored) == [
        f"{key_prefix}user:{{42}}:mail".encode(),
        f"{key_prefix}user:{{42}}:name".encode(),
    ]
    # Redis hashes only what is between the braces: both keys are in one slot, on one node.
    assert key_slot(stored[0]) == key_slot(stored[1]) == key_slot(b"42")
    assert cache.get_multi(["user:{42}:name", "user:{42}:mail"]) == {
        "user:{42}:name": "Ada",
        "user:{42}:mail": "ada@example.org",
    }


def test_every_call_works_on_a_cluster(cache: kata.cache.RedisCache) -> None:
    cache.ping()
    cache.set("a", {"x": [1, 2]}, expire=10)
    assert cache.get("a") == {"x": [1, 2]}
    assert cache.add("a", 2) is False
    assert cache.add("b", 2, expire=10) is True
    cache.delete("a")
    assert cache.get_multi(["a", "b"]) == {"b": 2}


def test_a_cluster_section(redis_cluster: Any, key_prefix: str) -> None:
    kata.cache.initialize(
        {"shared": {"type": "redis", "cluster": redis_cluster.addresses, "prefix": key_prefix}}
    )
    try:
        kata.cache.shared.set("k", 1)
        assert kata.cache.shared.get("k") == 1
    finally:
        kata.cache.close()


def test_a_cluster_that_is_down_fails_calls_not_initialize() -> None:
    cache = kata.cache.RedisCache(cluster=["127.0.0.1:1"], retry_interval=60)
    with pytest.raises(kata.cache.CacheError, match=r"cluster 127\.0\.0\.1:1"):
        cache.get("a")
    with pytest.raises(kata.cache.CacheError, match="set aside"):
        cache.get("a")
    cache.close()
