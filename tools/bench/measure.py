"""Timing and tables shared by the benchmarks in this folder.

Cases are timed in turns (case 1, case 2, ..., then again) so that a burst of load on this
shared machine hits every case alike; each result is the median of its samples. Ratios to a
baseline measured in the same run are what to compare, not the absolute times.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

# A case is the timed call, or (untimed setup, timed call) when each call needs a fresh
# state (an empty table, a dropped schema).
Case = Callable[[], Any] | tuple[Callable[[], Any] | None, Callable[[], Any]]


def _parts(case: Case) -> tuple[Callable[[], Any] | None, Callable[[], Any]]:
    return case if isinstance(case, tuple) else (None, case)


def median_ms(cases: dict[str, Case], reps: int, warmup: bool = True) -> dict[str, float]:
    """The median time of each case's call, in milliseconds.

    With *warmup*, each case runs once untimed first (connections, prepared statements,
    scripts, the catalog).
    """
    parts = {name: _parts(case) for name, case in cases.items()}
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(reps + (1 if warmup else 0)):
        for name, (setup, call) in parts.items():
            if setup is not None:
                setup()
            start = time.perf_counter()
            call()
            samples[name].append((time.perf_counter() - start) * 1000)
    skip = 1 if warmup else 0
    return {name: statistics.median(found[skip:]) for name, found in samples.items()}


def print_table(title: str, results: dict[str, float], baseline: str, label: str = "method") -> None:
    """A Markdown table of *results* (ms) with each row's ratio to the *baseline* row."""
    width = max(len(label), *map(len, results))
    ratio = f"vs {baseline}"
    print(f"\n{title}\n")
    print(f"| {label:<{width}} | {'ms':>9} | {ratio:>{max(len(ratio), 6)}} |")
    print(f"|{'-' * (width + 2)}|{'-' * 11}|{'-' * (max(len(ratio), 6) + 2)}|")
    base = results[baseline]
    for name, ms in results.items():
        print(f"| {name:<{width}} | {ms:9.3f} | {ms / base:>{max(len(ratio), 6) - 1}.2f}x |")
