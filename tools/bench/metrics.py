"""What kata's Prometheus metrics cost per request, against prometheus_client's own metrics.

The guide's ``GET /foo/bar/{baz}`` is served in-process (no server) by one kata Router
four ways: plain; with kata.metrics (its router observer, and the path dispatch that
answers /metrics ahead of the routes); with an observer that updates prometheus_client's
labelled Counter and Histogram per request (what one would write by hand); and, in a second
round, with kata.metrics in gunicorn's multiprocess mode (PROMETHEUS_MULTIPROC_DIR set, the
flusher thread writing every second meanwhile). Cases run interleaved in blocks; the best
block counts (the one least disturbed by other work on the machine). The cost is each case's time per request minus the plain router's.

The observer alone is also timed on its own (a fixed request and duration), which is the
figure least disturbed by the machine's load.

    tools/hatch run bench:python tools/bench/metrics.py
    tools/hatch run bench:python tools/bench/metrics.py --blocks 9 --iterations 20000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import timeit
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import prometheus_client
from router import KataBar, WSGIApp, check, timed

import kata.router
from kata import endpoints, metrics
from kata.configfile import Settings


def router(observer: Any = None) -> kata.router.Router:
    found = kata.router.Router()
    found.add_route("/foo/bar/{baz}", KataBar)
    if observer is not None:
        found.add_observer(observer)
    return found


def with_metrics() -> WSGIApp:
    """A router with kata.metrics on, as kata.config.app() sets it up."""
    found = router(metrics.observe)
    return endpoints.mount(found, Settings(Path("bench.yaml"), None, None, {}, {"metrics": {}}))


def prometheus_by_hand() -> kata.router.Router:
    registry = prometheus_client.CollectorRegistry()
    requests = prometheus_client.Counter("requests", "r", ["route", "method", "status"], registry=registry)
    latency = prometheus_client.Histogram("latency", "l", ["route", "method"], registry=registry)

    def observe(request: Any, response: Any, seconds: float) -> None:
        template = request.route.template if request.route is not None else "(unmatched)"
        requests.labels(template, request.method, str(response.status)).inc()
        latency.labels(template, request.method).observe(seconds)

    return router(observe)


def rounds(cases: dict[str, WSGIApp], blocks: int, iterations: int) -> dict[str, float]:
    """Best µs per request of each case, blocks interleaved."""
    for name, app in cases.items():
        check(name, app)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(blocks):
        for name, app in cases.items():
            samples[name].append(timed(app, "GET", iterations) * 1e6)
    return {name: min(found) for name, found in samples.items()}


def observer_alone() -> float:
    """µs per call of kata.metrics' observer on a fixed request."""
    request = SimpleNamespace(route=SimpleNamespace(template="/foo/bar/{baz}"), method="GET")
    response = SimpleNamespace(status=200)
    observe = metrics.observe
    number = 200_000
    best = min(timeit.repeat(lambda: observe(request, response, 0.0012), number=number, repeat=7))
    return best / number * 1e6


def table(results: dict[str, float], baseline: str) -> None:
    print(f"| {'case':<42} | {'µs/request':>10} | {'cost, µs':>8} |")
    print(f"|{'-' * 44}|{'-' * 12}|{'-' * 10}|")
    for name, us in results.items():
        cost = "" if name == baseline else f"{us - results[baseline]:+.2f}"
        print(f"| {name:<42} | {us:10.2f} | {cost:>8} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=9, help="interleaved blocks per case (best counts)")
    parser.add_argument("--iterations", type=int, default=20000, help="requests per block")
    options = parser.parse_args()
    print(
        f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}  python {sys.version.split()[0]}"
    )

    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    single = {
        "plain router": router(),
        "router + an observer that does nothing": router(lambda request, response, seconds: None),
        "router + kata.metrics' observer": router(metrics.observe),
        "kata.metrics (observer + /metrics dispatch)": with_metrics(),
        "prometheus_client Counter + Histogram": prometheus_by_hand(),
    }
    results = rounds(single, options.blocks, options.iterations)
    alone = observer_alone()

    with tempfile.TemporaryDirectory() as directory:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        multi = {"plain router": router(), "kata.metrics, multiprocess mode": with_metrics()}
        results_multi = rounds(multi, options.blocks, options.iterations)
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]

    print("\nGET /foo/bar/{baz}, in process\n")
    table(results, "plain router")
    print()
    table(results_multi, "plain router")
    print(f"\nkata.metrics' observer alone: {alone:.2f} µs per request")


if __name__ == "__main__":
    main()
