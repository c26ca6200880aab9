"""Stampede protection: concurrent misses of one key cause one pull, in a process and across processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest
import redis

import kata.cache
import kata.container

THREADS = 16


def _run_together(target: Any, count: int = THREADS) -> list[Any]:
    """Run *target* in *count* threads released at the same moment; return what each returned."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = target()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def test_threads_missing_one_simple_key_cause_one_pull(cache: kata.cache.Cache) -> None:
    pulls: list[int] = []

    class Slow(kata.container.Simple):
        def cache(self) -> Any:
            return cache

        def key(self) -> str:
            return "slow"

        def pull(self) -> dict[str, int]:
            pulls.append(1)
            time.sleep(0.3)  # long enough for every thread to miss before the value is stored
            return {"answer": 42}

    results = _run_together(lambda: Slow().get())

    assert results == [{"answer": 42}] * THREADS
    assert len(pulls) == 1
    assert cache.get("slow") == {"answer": 42}


def test_threads_with_overlapping_items_pull_each_item_once(cache: kata.cache.Cache) -> None:
    pulled: list[Any] = []
    lock = threading.Lock()

    class Slow(kata.container.Attribute):
        def cache(self) -> Any:
            return cache

        def key(self, item: Any) -> str:
            return f"slow:{item}"

        def pull(self, items: list[Any]) -> dict[Any, Any]:
            with lock:
                pulled.extend(items)
            time.sleep(0.3)
            return {item: item * 10 for item in items if item != 13}

    counter = iter(range(THREADS))

    def lookup() -> tuple[int, dict[Any, Any]]:
        start = next(counter)
        return start, Slow(range(start, start + 20)).get()

    results = _run_together(lookup)

    assert sorted(pulled) == list(range(THREADS + 19))
    for start, found in results:
        assert found == {i: i * 10 for i in range(start, start + 20) if i != 13}


def test_waiting_threads_get_the_pull_s_exception(cache: kata.cache.Cache) -> None:
    pulls: list[int] = []

    class Failing(kata.container.Simple):
        def cache(self) -> Any:
            return cache

        def key(self) -> str:
            return "failing"

        def pull(self) -> Any:
            pulls.append(1)
            time.sleep(0.3)
            raise LookupError("source down")

    outcomes: list[str] = []

    def lookup() -> None:
        try:
            Failing().get()
        except LookupError as exc:
            outcomes.append(str(exc))

    _run_together(lookup)

    assert outcomes == ["source down"] * THREADS
    assert len(pulls) == 1
    # The failure was not remembered: the next lookup pulls again.
    with pytest.raises(LookupError):
        Failing().get()
    assert len(pulls) == 2


_WORKER = textwrap.dedent(
    """
    import sys, time
    import redis
    import kata.cache, kata.container

    address, prefix, start_at, kind = sys.argv[1:]
    counter = redis.Redis.from_url("redis://" + address)
    cache = kata.cache.RedisCache(host=address, prefix=prefix)

    class Hot(kata.container.Simple):
        def cache(self):
            return cache

        def lock(self):
            return cache

        def key(self):
            return "hot"

        def pull(self):
            counter.incr(prefix + "pulls")
            time.sleep(0.5)
            return "hot value"

    class Rows(kata.container.Attribute):
        def cache(self):
            return cache

        def lock(self):
            return cache

        def key(self, item):
            return f"row:{item}"

        def pull(self, items):
            counter.incrby(prefix + "pulled", len(items))
            time.sleep(0.5)
            return {item: f"row {item}" for item in items if item % 7}

    time.sleep(max(0.0, float(start_at) - time.time()))
    if kind == "simple":
        print(Hot().get())
    else:
        print(sorted(Rows(range(50)).get().items()) == [(i, f"row {i}") for i in range(50) if i % 7])
    """
)


@pytest.mark.parametrize("kind", ["simple", "attribute"])
def test_the_opt_in_redis_lock_makes_processes_pull_once(
    redis_server: Any, key_prefix: str, kind: str
) -> None:
    processes = 4
    start_at = time.time() + 3.0  # every worker has imported kata and connected by then
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, redis_server.address, key_prefix, str(start_at), kind],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    outputs = [worker.communicate(timeout=60) for worker in workers]

    assert [worker.returncode for worker in workers] == [0] * processes, outputs
    counter = redis.Redis.from_url(redis_server.url)
    if kind == "simple":
        assert [out.strip() for out, _ in outputs] == ["hot value"] * processes
        assert counter.get(key_prefix + "pulls") == b"1"
    else:
        assert [out.strip() for out, _ in outputs] == ["True"] * processes
        assert counter.get(key_prefix + "pulled") == b"50"
    # The locks were released once the values were stored.
    assert counter.keys(key_prefix + "kata-lock:*") == []
