"""What the pytest plugin's kata_database costs a project's test, by number of migrations.

A project from ``kata new`` (embedded PostgreSQL) gets N migrations (a table and an index
each) and T tests that each take ``kata_database``; pytest runs them. The cost of one test is
(time of T tests - time of 1 test) / (T - 1): the migrations run once per run, into a template
database, and every test's database is a copy of it. Medians of 3 runs, interleaved.

    tools/hatch run bench:python tools/bench/kata_database.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
TESTS = 21
ROUNDS = 3


def project(home: Path, migrations: int) -> Path:
    where = home / f"p{migrations}"
    subprocess.run([str(BIN / "kata"), "new", "shop", "--dir", str(where)], check=True, capture_output=True)
    for n in range(2, migrations + 1):
        (where / "schema" / f"{n}-t{n}.sql").write_text(
            f"CREATE TABLE t{n} (id bigserial PRIMARY KEY, v text NOT NULL);\nCREATE INDEX t{n}_v ON t{n} (v);\n"
        )
    tests = "".join(f"def test_{i}(kata_database):\n    assert kata_database.name\n\n" for i in range(TESTS))
    (where / "tests" / "test_foo.py").unlink()
    (where / "tests" / "test_many.py").write_text(tests)
    # Start the embedded server once, so no run pays for initdb.
    subprocess.run([str(BIN / "kata"), "check"], cwd=where, check=True, capture_output=True)
    return where


def run(where: Path, count: int) -> float:
    selected = [f"tests/test_many.py::test_{i}" for i in range(count)]
    env = {k: v for k, v in os.environ.items() if k != "CONFIG"}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *selected],
        cwd=where,
        check=True,
        capture_output=True,
        env=env,
    )
    return time.perf_counter() - started


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="kata-bench-db-"))
    home.chmod(0o755)
    try:
        projects = {n: project(home, n) for n in (1, 100)}
        times: dict[tuple[int, int], list[float]] = {}
        for _ in range(ROUNDS):
            for n, where in projects.items():
                for count in (1, TESTS):
                    times.setdefault((n, count), []).append(run(where, count))
        print(f"load: {os.getloadavg()[0]:.2f}")
        print("| migrations | run of 1 test | run of 21 tests | cost of one more test |")
        print("|---|---|---|---|")
        for n in projects:
            one = statistics.median(times[(n, 1)])
            many = statistics.median(times[(n, TESTS)])
            print(f"| {n} | {one:.2f} s | {many:.2f} s | {(many - one) / (TESTS - 1) * 1000:.0f} ms |")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
