"""kata.container's Attribute lookup against the hand-written cache-aside it replaces, in one run.

    tools/hatch run bench:python tools/bench/container.py [--ids 1000] [--reps 15]

Starts its own Redis and PostgreSQL servers from the machine's binaries (the test harness's).
Each case looks up --ids ids of a table of ~80-byte rows, at 0%, 50% and 100% cache hits;
before every timed call the cache is emptied and refilled (untimed) to that hit rate. Cases run
in turn, round-robin, so drift on a shared machine hits them alike; figures are medians in ms.

- hand-written: redis-py MGET, then for the misses one psycopg ``WHERE id = ANY(%s)`` on a
  psycopg_pool connection, then one pipelined ``SET ... EX`` (no MULTI); rows are dicts,
  pickled: what an application writes without a framework.
- kata attribute(): the guide's container, ``attribute()`` returning a ``kata.db.Object``
  model: rows are model instances, values go through kata.codec.
- kata pull(): the same container with ``pull(items)`` doing the hand-written psycopg query,
  so values are the same dict rows as hand-written: the container's own cost.
- hand-written with models: the hand-written code caching ``kata.db.Object`` rows (from
  ``get_in``) with pickle, so values are the same model instances as kata attribute().

Then TechEmpower's cached-queries test type, in process: ``/cached-queries?count=20`` of
tools/bench/tfb.py's kata app (an Attribute container on a memory cache, kata.db rows) and its
Falcon app (a dict of dict rows), on a ``world`` table of its own, apps interleaved; and the
lookup alone: 20 random rows through the container against a plain dict, with and without
copies (a copy per row is what the container hands out: mutating a value never changes the
cache). These time CPU (``time.thread_time``) so that other work on the machine, which
stalls both alike, weighs less.
"""

from __future__ import annotations

import argparse
import functools
import os
import pickle
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import psycopg
import redis
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

import kata.cache
import kata.container
import kata.db

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from measure import median_ms, print_table

from kata_harness import servers

EXPIRE = 600
ROWS = 20000
HIT_RATES = (0, 50, 100)


class Item(kata.db.Object):
    """The benchmark's table; module-level so that pickle can find it."""

    __table__ = "item"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=15)
    args = parser.parse_args()
    ids = list(range(1, args.ids * 2, 2))  # spread over the table, not one index page run

    started = [servers.start("redis"), servers.start("postgres")]
    try:
        rds, pg = started
        assert isinstance(pg, servers.PostgresServer)
        with psycopg.connect(pg.dsn("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        with psycopg.connect(pg.dsn("bench"), autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE item (id bigint PRIMARY KEY, name text NOT NULL, email text NOT NULL, "
                "score double precision NOT NULL, active boolean NOT NULL)"
            )
            conn.execute(
                "INSERT INTO item SELECT i, 'user ' || i, 'user' || i || '@example.com', i / 8.0, i %% 3 = 0 "
                "FROM generate_series(1, %s) i",
                [ROWS],
            )
            conn.execute("ANALYZE item")
        kata.db.initialize(
            {"name": "bench", "host": pg.host, "port": pg.port, "user": pg.user, "pool_size": 4}
        )
        bench(rds, pg, ids, args.reps)
        cached_rows(pg, args.reps)
    finally:
        kata.db.close()
        for server in started:
            server.destroy()


def bench(rds: Any, pg: Any, ids: list[int], reps: int) -> None:
    raw = redis.Redis(rds.host, rds.port)
    pool = ConnectionPool(pg.dsn("bench"), min_size=4, max_size=4, kwargs={"autocommit": True}, open=True)
    cache = kata.cache.RedisCache(rds.address)

    def read(prefix: str, wanted: list[int]) -> tuple[dict[int, Any], list[int]]:
        """One MGET: the unpickled values found, and the items missing."""
        found: dict[int, Any] = {}
        missing = []
        for item, data in zip(wanted, raw.mget([f"{prefix}{i}" for i in wanted]), strict=True):
            if data is None:
                missing.append(item)
            else:
                found[item] = pickle.loads(data)
        return found, missing

    def handwritten(wanted: list[int]) -> dict[int, Any]:
        found, missing = read("hand:", wanted)
        if missing:
            with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
                rows = cur.execute("SELECT * FROM item WHERE id = ANY(%s)", [missing]).fetchall()
            pipe = raw.pipeline(transaction=False)
            for row in rows:
                found[row["id"]] = row
                pipe.set(f"hand:{row['id']}", pickle.dumps(row, pickle.HIGHEST_PROTOCOL), ex=EXPIRE)
            pipe.execute()
        return {item: found[item] for item in wanted if item in found}

    def handwritten_models(wanted: list[int]) -> dict[int, Any]:
        found, missing = read("handm:", wanted)
        if missing:
            pipe = raw.pipeline(transaction=False)
            for row in Item.get_in("id", missing):
                found[row.id] = row
                pipe.set(f"handm:{row.id}", pickle.dumps(row, pickle.HIGHEST_PROTOCOL), ex=EXPIRE)
            pipe.execute()
        return {item: found[item] for item in wanted if item in found}

    class ByModel(kata.container.Attribute):
        def cache(self) -> kata.cache.Cache:
            return cache

        def expire(self) -> int:
            return EXPIRE

        def key(self, item: Any) -> str:
            return f"model:{item}"

        def attribute(self) -> Any:
            return Item, "id"

    class ByQuery(kata.container.Attribute):
        def cache(self) -> kata.cache.Cache:
            return cache

        def expire(self) -> int:
            return EXPIRE

        def key(self, item: Any) -> str:
            return f"query:{item}"

        def pull(self, items: list[Any]) -> dict[Any, Any]:
            with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
                rows = cur.execute("SELECT * FROM item WHERE id = ANY(%s)", [items]).fetchall()
            return {row["id"]: row for row in rows}

    cases: dict[str, tuple[Callable[[list[int]], Any], str]] = {
        "hand-written (MGET, = ANY, pipelined SET)": (handwritten, "hand:"),
        "kata Attribute, attribute() on kata.db": (lambda wanted: ByModel(wanted).get(), "model:"),
        "kata Attribute, pull() with psycopg": (lambda wanted: ByQuery(wanted).get(), "query:"),
        "hand-written with models (get_in, pickle)": (handwritten_models, "handm:"),
    }
    # The three must agree before they are compared.
    expected = handwritten(ids)
    assert len(expected) == len(ids)
    for name, (lookup, _) in cases.items():
        got = lookup(ids)
        assert list(got) == ids, name
        assert all(_fields(got[i]) == expected[i] for i in ids), name

    print(
        f"{len(ids)} ids per lookup, table of {ROWS} rows, median of {reps} lookups, Redis + PostgreSQL on loopback"
    )
    for rate in HIT_RATES:
        hits = ids[: len(ids) * rate // 100]

        def fill(lookup: Callable[[list[int]], Any], prefix: str, hits: list[int] = hits) -> None:
            raw.delete(*[f"{prefix}{i}" for i in ids])
            if hits:
                lookup(hits)  # fill the cache to the hit rate

        timed = {
            name: (functools.partial(fill, lookup, prefix), functools.partial(lookup, ids))
            for name, (lookup, prefix) in cases.items()
        }
        results = median_ms(timed, reps)  # type: ignore[arg-type]
        print_table(f"{rate}% hits", results, "hand-written (MGET, = ANY, pipelined SET)", label="lookup")
    cache.close()
    pool.close()
    raw.close()


def _cpu_us(cases: dict[str, Callable[[], Any]], calls: int, reps: int) -> dict[str, float]:
    """Median CPU µs per call of each case, cases taking turns."""
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(reps):
        for name, case in cases.items():
            started = time.thread_time()
            for _ in range(calls):
                case()
            samples[name].append((time.thread_time() - started) / calls * 1e6)
    return {name: statistics.median(found) for name, found in samples.items()}


def _print_us(title: str, results: dict[str, float], baseline: str) -> None:
    width = max(map(len, results))
    print(
        f"\n{title}\n\n| {'case':<{width}} | {'µs':>8} | vs {baseline} |\n|{'-' * (width + 2)}|{'-' * 10}|---|"
    )
    for name, us in results.items():
        print(f"| {name:<{width}} | {us:8.1f} | {us / results[baseline]:.2f}x |")


def cached_rows(pg: Any, reps: int) -> None:
    """TechEmpower's cached-queries, in process, and the 20-row lookup alone."""
    import tfb

    with psycopg.connect(pg.dsn("postgres"), autocommit=True) as conn:
        conn.execute("CREATE DATABASE tfb")
    tfb.create_tables(pg.dsn("tfb"))
    os.environ["TFB_DSN"], os.environ["TFB_POOL_SIZE"] = pg.dsn("tfb"), "4"
    apps = {"falcon": tfb.make_app("falcon"), "kata": tfb.make_app("kata")}
    path = "/cached-queries?count=20"
    for app in apps.values():
        # No timed request reads the database (40,000 random ids, as before, left about 180
        # uncached, so that a timed request in three pulled a row).
        tfb.fill_cache(app)
    results = _cpu_us(
        {name: functools.partial(tfb.serve, app, path) for name, app in apps.items()}, 300, reps
    )
    _print_us(
        f"TechEmpower cached-queries, count=20, in process (CPU µs per request, load {os.getloadavg()[0]:.1f})",
        results,
        "falcon",
    )

    rows = {
        i: tfb.World.from_dict({"id": i, "randomNumber": random.randint(1, 10_000)}) for i in range(1, 10_001)
    }
    plain = {i: row.to_dict() for i, row in rows.items()}
    kata.cache.memory.set_multi({f"world:{i}": row for i, row in rows.items()})
    draws = [[random.randint(1, 10_000) for _ in range(20)] for _ in range(300)]
    turn = iter(range(10**9))

    def ids() -> list[int]:
        return draws[next(turn) % len(draws)]

    lookups: dict[str, Callable[[], Any]] = {
        "plain dict of dict rows": lambda: [plain[i] for i in ids()],
        "plain dict, each row copied (dict.copy)": lambda: [plain[i].copy() for i in ids()],
        "plain dict of model rows, each copied (from_dict)": lambda: [
            tfb.World.from_dict(rows[i].__dict__) for i in ids()
        ],
        "kata Attribute on MemoryCache": lambda: tfb.CachedWorld(ids()).get(),
    }
    results = _cpu_us(lookups, 300, reps)
    _print_us("20 cached rows, the lookup alone (CPU µs per lookup)", results, "plain dict of dict rows")
    kata.cache.close()
    tfb.close()


def _fields(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else value.to_dict()


if __name__ == "__main__":
    main()
