"""kata-router against an earlier version of itself, in one process: did a change slow it down?

Loads the kata-router sources of a git revision (``--base``, default ``main``) and of the working
tree side by side, builds ``tools/bench/router.py``'s kata app (the guide's ``GET`` and ``POST
/foo/bar/{baz}``, with 0 and 1000 extra routes) from each, and times them in many short blocks,
shuffled and interleaved, keeping the best block of each case. Short interleaved blocks in one
process make the comparison hold on a busy machine, where whole-run figures swing by 2x.

    tools/hatch run bench:python tools/bench/router_ab.py --base main
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import random
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "packages/kata-router/src"


def extract(revision: str, into: Path) -> Path:
    """The kata-router sources of *revision*, unpacked under *into*."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, SOURCE],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / SOURCE


def load(label: str, source: Path) -> ModuleType:
    """tools/bench/router.py, importing kata.router and kata.resource from *source*."""
    import kata

    for name in [n for n in sys.modules if n.split(".")[:2] in (["kata", "router"], ["kata", "resource"])]:
        del sys.modules[name]
    for attribute in ("router", "resource"):
        kata.__dict__.pop(attribute, None)
    others = [entry for entry in kata.__path__ if not entry.startswith(str(source))]
    others = [entry for entry in others if not Path(entry, "router").is_dir()]
    kata.__path__ = [str(source / "kata"), *others]
    spec = importlib.util.spec_from_file_location(f"router_bench_{label}", ROOT / "tools/bench/router.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    loaded = sys.modules["kata.router.app"].__file__
    assert loaded is not None and loaded.startswith(str(source)), (label, loaded)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="main", help="git revision to compare with (default: main)")
    parser.add_argument("--rounds", type=int, default=300, help="interleaved blocks per case")
    parser.add_argument("--block", type=int, default=2000, help="requests per block")
    parser.add_argument("--extra", type=int, default=1000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        versions = {
            "base": extract(args.base, Path(folder)),
            "new": ROOT / SOURCE,
        }
        apps: dict[tuple[str, int], Any] = {}
        timers: dict[str, Any] = {}
        for label, source in versions.items():
            bench = load(label, source)
            timers[label] = bench.timed
            for extra in (0, args.extra):
                app = bench.kata_app(extra)
                bench.check(f"{label} +{extra}", app)
                apps[(label, extra)] = app
        cases = [(label, extra, method) for label, extra in apps for method in ("GET", "POST")]
        best: dict[tuple[str, int, str], float] = {}
        rng = random.Random(1)
        gc.disable()  # collections land in random blocks; each block is short enough without
        try:
            for _ in range(args.rounds):
                rng.shuffle(cases)
                for label, extra, method in cases:
                    seconds = timers[label](apps[(label, extra)], method, args.block)
                    key = (label, extra, method)
                    best[key] = min(best.get(key, seconds), seconds)
                gc.collect()
        finally:
            gc.enable()

    print(
        f"base {args.base} vs working tree; best of {args.rounds} blocks of {args.block} requests; µs/request\n"
    )
    print("| case | base | new | new/base |")
    print("|---|---|---|---|")
    for method in ("GET", "POST"):
        for extra in (0, args.extra):
            base = best[("base", extra, method)] * 1e6
            new = best[("new", extra, method)] * 1e6
            print(f"| {method}, {extra} extra routes | {base:.2f} | {new:.2f} | {new / base:.3f} |")


if __name__ == "__main__":
    main()
