"""A process that applies migrations, for the tests of several processes at once.

    python migrate_worker.py SECTION_JSON SCHEMA START_DIR

It configures kata.db, reports that it is ready (a file in START_DIR named after its pid),
waits for START_DIR/go so that all workers start together, applies the migrations and prints
the versions it applied as JSON.
"""

import json
import os
import sys
import time
from pathlib import Path

import kata.db
import kata.schema


def main() -> None:
    section, schema, start = json.loads(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    kata.db.initialize(section)
    (start / f"ready-{os.getpid()}").touch()
    while not (start / "go").exists():
        time.sleep(0.005)
    applied = kata.schema.apply(schema)
    print(json.dumps([migration.version for migration in applied]))


if __name__ == "__main__":
    main()
