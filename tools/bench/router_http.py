"""kata against Falcon behind a real gunicorn, loaded with wrk.

Both serve the same resource as tools/bench/router.py (``GET /foo/bar/{baz}`` returning the
guide's JSON, ``POST`` echoing its JSON body) under gunicorn with the same worker class and
count; wrk reports requests per second. Server and load generator share the machine, so
the absolute numbers say little; the kata/Falcon ratio is the figure to read.

    tools/hatch run bench:python tools/bench/router_http.py             # gthread and sync, 2 workers, best of 3 rounds of 10 s
    tools/hatch run bench:python tools/bench/router_http.py --duration 5 --workers 4

Needs ``wrk`` on PATH (``apt-get install -y wrk``). A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from kata_harness.servers import free_port  # noqa: E402 (the harness lives in tools/)

POST_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"name": "kata", "tags": ["fast", "small"], "stars": 42, "fork": false}'
wrk.headers["Content-Type"] = "application/json"
"""
FRAMEWORKS = {"kata": "router:kata_app(0)", "Falcon": "router:falcon_app(0)"}


def start(app: str, worker_class: str, workers: int, threads: int, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "gunicorn", "--chdir", str(HERE), "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(workers), "--worker-class", worker_class, "--log-level", "warning"]
    if worker_class == "gthread":
        command += ["--threads", str(threads)]
    process = subprocess.Popen([*command, app])
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start {app}") from None
            time.sleep(0.1)


def wrk(port: int, method: str, duration: int, connections: int, script: Path) -> float:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s"]
    if method == "POST":
        command += ["-s", str(script)]
    output = subprocess.run(
        [*command, f"http://127.0.0.1:{port}/foo/bar/123"], capture_output=True, text=True, check=True
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise RuntimeError(f"wrk saw {errors.group(1)} error responses:\n{output}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best one counts")
    parser.add_argument("--worker-class", action="append", choices=["gthread", "sync"], dest="classes")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("router_http.py needs wrk on PATH (apt-get install -y wrk)")
    classes = args.classes or ["gthread", "sync"]

    results: dict[tuple[str, str, str], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(POST_SCRIPT)
        for _ in range(args.rounds):
            for worker_class in classes:
                for name, app in FRAMEWORKS.items():
                    port = free_port()
                    process = start(app, worker_class, args.workers, args.threads, port)
                    try:
                        wrk(port, "GET", 1, args.connections, script)  # warm up
                        for method in ("GET", "POST"):
                            rps = wrk(port, method, args.duration, args.connections, script)
                            key = (worker_class, name, method)
                            results[key] = max(results.get(key, 0.0), rps)
                    finally:
                        process.terminate()
                        process.wait(timeout=30)

    print(
        f"gunicorn, {args.workers} workers ({args.threads} threads for gthread), wrk -t2 -c{args.connections} "
        f"-d{args.duration}s; best of {args.rounds} alternating rounds; requests per second\n"
    )
    print("| worker class | method | kata | Falcon | kata/Falcon |")
    print("|---|---|---|---|---|")
    for worker_class in classes:
        for method in ("GET", "POST"):
            kata_rps = results[(worker_class, "kata", method)]
            falcon_rps = results[(worker_class, "Falcon", method)]
            print(
                f"| {worker_class} | {method} | {kata_rps:.0f} | {falcon_rps:.0f} | {kata_rps / falcon_rps:.2f} |"
            )


if __name__ == "__main__":
    main()
