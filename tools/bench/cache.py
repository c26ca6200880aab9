"""kata.cache against raw redis-py and pymemcache, 1000 keys per bulk call, in one run.

    tools/hatch run bench:python tools/bench/cache.py [--keys 1000] [--reps 15]

Starts its own Redis and two memcached servers from the machine's binaries (the test
harness's), so nothing else shares them. Every figure is the median of --reps timed calls in
milliseconds; methods are timed in turn, round-robin, so drift on a shared machine hits them
alike. kata's figures include encoding and decoding values with kata.codec; the raw
figures move pre-encoded bytes (the "+ decode" rows add kata.codec.loads for comparison).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import timeit
from collections.abc import Callable
from typing import Any

import redis
from pymemcache.client.base import Client
from pymemcache.client.hash import HashClient

import kata.cache
from kata import codec

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from measure import median_ms, print_table

from kata_harness import servers

EXPIRE = 300


def value(i: int) -> dict[str, Any]:
    """About 110 bytes encoded: a typical cached row."""
    return {"id": i, "name": f"user {i}", "email": f"user{i}@example.com", "score": 12.5, "tags": ["a", "b"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=15)
    args = parser.parse_args()
    n, reps = args.keys, args.reps
    keys = [f"bench:item:{i}" for i in range(n)]
    values = {key: value(i) for i, key in enumerate(keys)}
    encoded = {key: codec.dumps(v) for key, v in values.items()}
    print(
        f"{n} keys, ~{sum(map(len, encoded.values())) // n} bytes per encoded value, median of {reps} calls"
    )

    started = [servers.start("redis"), servers.start("memcached"), servers.start("memcached")]
    try:
        rds, mc1, mc2 = started
        summary: dict[str, float] = {}
        bench_redis(rds, keys, values, encoded, reps, summary)
        bench_memcached(mc1, mc2, keys, values, encoded, reps, summary)
        bench_memory(keys, values, reps, summary)
        print("\nsummary (targets: Redis get_multi <= 1.3x MGET, set_multi(expire) <= 1.3x fastest raw,")
        print("memcached 2-node get_multi <= 0.5x HashClient, memory get < 2 us)")
        for name, ratio in summary.items():
            print(f"| {name:<66} | {ratio:6.2f} |")
    finally:
        for server in started:
            server.destroy()


def bench_redis(
    server: Any,
    keys: list[str],
    values: dict[str, Any],
    encoded: dict[str, bytes],
    reps: int,
    summary: dict[str, float],
) -> None:
    raw = redis.Redis(server.host, server.port)
    cache = kata.cache.RedisCache(server.address)
    script = raw.register_script(
        "for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[i], 'PX', ARGV[#ARGV]) end return #KEYS"
    )
    raw.mset(encoded)

    def pipeline_get() -> None:
        pipe = raw.pipeline(transaction=False)
        for key in keys:
            pipe.get(key)
        pipe.execute()

    results = median_ms(
        {
            "raw MGET": lambda: raw.mget(keys),
            "raw MGET + decode": lambda: [codec.loads(v) for v in raw.mget(keys)],
            "raw pipeline of GET (no MULTI)": pipeline_get,
            "raw GET x N": lambda: [raw.get(key) for key in keys],
            "kata RedisCache.get_multi": lambda: cache.get_multi(keys),
        },
        reps,
    )
    print_table("Redis get_multi", results, "raw MGET")
    summary["Redis get_multi / raw MGET"] = results["kata RedisCache.get_multi"] / results["raw MGET"]
    summary["Redis get_multi / raw MGET + decode"] = (
        results["kata RedisCache.get_multi"] / results["raw MGET + decode"]
    )

    def pipe_set(transaction: bool) -> Callable[[], None]:
        def call() -> None:
            pipe = raw.pipeline(transaction=transaction)
            for key, data in encoded.items():
                pipe.set(key, data, ex=EXPIRE)
            pipe.execute()

        return call

    def mset_expire() -> None:
        pipe = raw.pipeline(transaction=False)
        pipe.mset(encoded)
        for key in keys:
            pipe.expire(key, EXPIRE)
        pipe.execute()

    results = median_ms(
        {
            "raw pipeline SET EX (no MULTI)": pipe_set(False),
            "raw pipeline SET EX (MULTI/EXEC)": pipe_set(True),
            "raw pipeline MSET + EXPIRE x N": mset_expire,
            "raw script SET PX loop (EVALSHA)": lambda: script(
                keys=keys, args=[*encoded.values(), EXPIRE * 1000]
            ),
            "raw script SET PX loop + encode": lambda: script(
                keys=keys, args=[*(codec.dumps(v) for v in values.values()), EXPIRE * 1000]
            ),
            "raw SET EX x N": lambda: [raw.set(k, v, ex=EXPIRE) for k, v in encoded.items()],
            "kata RedisCache.set_multi(expire)": lambda: cache.set_multi(values, expire=EXPIRE),
        },
        reps,
    )
    fastest = min(results, key=lambda name: results[name] if name.startswith("raw") else float("inf"))
    print_table("Redis set_multi with expiry", results, fastest)
    summary["Redis set_multi(expire) / fastest raw method (pre-encoded bytes)"] = (
        results["kata RedisCache.set_multi(expire)"] / results[fastest]
    )
    summary["Redis set_multi(expire) / raw script + encode"] = (
        results["kata RedisCache.set_multi(expire)"] / results["raw script SET PX loop + encode"]
    )
    summary["Redis set_multi(expire) / raw pipeline SET EX (no MULTI)"] = (
        results["kata RedisCache.set_multi(expire)"] / results["raw pipeline SET EX (no MULTI)"]
    )

    def refill() -> None:
        raw.mset(encoded)

    def deleting(fn: Callable[[], Any]) -> Callable[[], Any]:
        # Deleting needs keys to delete: refill outside the timed call is not possible with
        # median_ms(), so each case deletes a refilled set and the refill is timed separately.
        def call() -> None:
            refill()
            fn()

        return call

    results = median_ms(
        {
            "refill (MSET), subtracted below": refill,
            "raw DEL k1..kN": deleting(lambda: raw.delete(*keys)),
            "raw DEL x N": deleting(lambda: [raw.delete(key) for key in keys]),
            "kata RedisCache.delete_multi": deleting(lambda: cache.delete_multi(keys)),
        },
        reps,
    )
    base = results.pop("refill (MSET), subtracted below")
    print_table(
        "Redis delete_multi (refill time subtracted)",
        {k: v - base for k, v in results.items()},
        "raw DEL k1..kN",
    )
    cache.close()
    raw.close()


def bench_memcached(
    one: Any,
    two: Any,
    keys: list[str],
    values: dict[str, Any],
    encoded: dict[str, bytes],
    reps: int,
    summary: dict[str, float],
) -> None:
    client = Client((one.host, one.port), default_noreply=False)
    hashed = HashClient([(one.host, one.port), (two.host, two.port)], default_noreply=False)
    single = kata.cache.MemcachedCache([one.address])
    double = kata.cache.MemcachedCache([one.address, two.address])
    client.set_many(encoded)
    hashed.set_many(encoded)

    results = median_ms(
        {
            "pymemcache HashClient(2).get_many": lambda: hashed.get_many(keys),
            "pymemcache Client.get_many": lambda: client.get_many(keys),
            "pymemcache Client.get_many + decode": lambda: [
                codec.loads(v) for v in client.get_many(keys).values()
            ],
            "pymemcache Client.get x N": lambda: [client.get(key) for key in keys],
            "kata MemcachedCache(1 node).get_multi": lambda: single.get_multi(keys),
            "kata MemcachedCache(2 nodes).get_multi": lambda: double.get_multi(keys),
        },
        reps,
    )
    print_table("memcached get_multi", results, "pymemcache HashClient(2).get_many")
    summary["memcached 2-node get_multi / HashClient get_many"] = (
        results["kata MemcachedCache(2 nodes).get_multi"] / results["pymemcache HashClient(2).get_many"]
    )

    results = median_ms(
        {
            "pymemcache HashClient(2).set_many": lambda: hashed.set_many(encoded, expire=EXPIRE),
            "pymemcache Client.set_many": lambda: client.set_many(encoded, expire=EXPIRE),
            "kata MemcachedCache(1 node).set_multi": lambda: single.set_multi(values, expire=EXPIRE),
            "kata MemcachedCache(2 nodes).set_multi": lambda: double.set_multi(values, expire=EXPIRE),
        },
        reps,
    )
    print_table("memcached set_multi with expiry", results, "pymemcache HashClient(2).set_many")

    # Deleting missing keys costs the server the same lookup; it keeps refills out of the timing.
    results = median_ms(
        {
            "pymemcache HashClient(2).delete_many": lambda: hashed.delete_many(keys),
            "pymemcache Client.delete_many": lambda: client.delete_many(keys),
            "kata MemcachedCache(1 node).delete_multi": lambda: single.delete_multi(keys),
            "kata MemcachedCache(2 nodes).delete_multi": lambda: double.delete_multi(keys),
        },
        reps,
    )
    print_table("memcached delete_multi", results, "pymemcache HashClient(2).delete_many")

    routing = median_ms(
        {
            "pymemcache HashClient routing only": lambda: [hashed.hasher.get_node(key) for key in keys],
            "kata ring routing only": lambda: double._ring.group(keys),
        },
        reps,
    )
    print_table("memcached key-to-node routing, no I/O", routing, "pymemcache HashClient routing only")
    for closing in (single, double, client, hashed):
        closing.close()


def bench_memory(keys: list[str], values: dict[str, Any], reps: int, summary: dict[str, float]) -> None:
    cache = kata.cache.MemoryCache()
    cache.set_multi(values)
    results = median_ms({"kata MemoryCache.get_multi": lambda: cache.get_multi(keys)}, reps)
    results.update(
        median_ms(
            {
                "kata MemoryCache.set_multi(expire)": lambda: cache.set_multi(values, expire=EXPIRE),
                "kata MemoryCache.delete_multi": lambda: cache.delete_multi(keys),
            },
            reps,
        )
    )
    print_table("memory, 1000 keys", results, "kata MemoryCache.get_multi")
    cache.set("user:1", values[keys[0]])
    cache.set("greeting", "bar")
    loops = 200_000
    print("\nmemory get, one key (µs per call, best of 5 x 200,000 calls)")
    for key in ("greeting", "user:1"):
        best_us = min(timeit.repeat(functools.partial(cache.get, key), number=loops, repeat=5)) / loops * 1e6
        print(f"| MemoryCache.get({key!r}) | {best_us:.2f} µs |")
        summary[f"memory get({key!r}), µs"] = best_us


if __name__ == "__main__":
    main()
