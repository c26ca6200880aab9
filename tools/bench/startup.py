"""What starting a kata app costs: reading the config, and the embedded PostgreSQL cold and warm.

    python tools/bench/startup.py

Run from the repository root in the hatch environment (bench or main). Prints a Markdown table.
"""

import shutil
import statistics
import tempfile
import time
from pathlib import Path

import kata.config
from kata.configfile import load

GUIDE = """
database:
  name: ${DB_NAME:-shop}
  host: localhost
  password: secret
  pool_size: 10
  port: 5432
  user: shop
cache:
  memcached: {type: memcached, prefix: 'p:', hosts: ['localhost:11211', 'localhost:11212']}
  memory: {type: memory}
  redis: {type: redis, db: 0, host: 'localhost:6379', prefix: 'p:'}
"""


def timed(run, repeat):
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="kata-bench-"))
    home.chmod(0o755)  # as root the embedded server runs as another user, which must reach it
    try:
        guide = home / "guide.yaml"
        guide.write_text(GUIDE)
        load_s = timed(lambda: load(guide), 200)

        config = home / "dev.yaml"
        config.write_text("database:\n  embedded: true\n  pool_size: 2\n")
        cold = timed(lambda: (kata.config.initialize(config, bare=True), kata.config.close()), 1)
        warm = timed(lambda: (kata.config.initialize(config, bare=True), kata.config.close()), 5)
        kata.config.initialize(config, bare=True)
        running = timed(lambda: kata.config.initialize(config, bare=True), 5)
        kata.config.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print("| step | median |")
    print("|---|---|")
    print(f"| read and check the guide's config (`kata.config.load`) | {load_s * 1e6:.0f} µs |")
    print(f"| `initialize(bare=True)`, embedded, first start (initdb + start) | {cold * 1000:.0f} ms |")
    print(f"| `initialize(bare=True)`, embedded, data kept, server stopped | {warm * 1000:.0f} ms |")
    print(f"| `initialize(bare=True)` again, embedded server already running | {running * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
