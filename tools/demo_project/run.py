"""Set up and serve the demo: migrations, a few rows, then http://HOST:PORT until Ctrl-C.

Run by tools/demo; ``python run.py --port 8001`` works too from an environment with kata.
"""

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SEED = [
    {"title": "The Left Hand of Darkness", "author": "Ursula K. Le Guin", "year": 1969, "price": "9.99"},
    {"title": "The Dispossessed", "author": "Ursula K. Le Guin", "year": 1974, "price": "11.50"},
    {"title": "Kindred", "author": "Octavia E. Butler", "year": 1979, "price": "10.25"},
    {"title": "Parable of the Sower", "author": "Octavia E. Butler", "year": 1993, "price": "12.00"},
    {"title": "Solaris", "author": "Stanisław Lem", "year": 1961, "price": "8.75"},
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()

    from kata import devserver

    devserver.exit_cleanly_on_signals()
    print("demo: starting the embedded PostgreSQL (its data stays in config/demo.pgdata/)", flush=True)
    import demo  # noqa: F401 - configures kata from config/demo.yaml and registers the routes
    from demo.model import Book

    import kata.schema

    for applied in kata.schema.apply(HERE / "schema"):
        print(f"demo: applied migration {applied.version}-{applied.name}", flush=True)
    if Book.count() == 0:
        Book.create(SEED)
        print(f"demo: seeded {len(SEED)} books", flush=True)

    url = f"http://{args.host}:{args.port}"
    print(
        f"""
demo: serving on {url}  (Ctrl-C stops the server and the database)

  curl {url}/hello/world                  a resource: JSON
  curl {url}/books                        the ORM: every row, as JSON
  curl {url}/books/1                      an Attribute container (cached per id); /books/99 is a 404
  curl {url}/stats                        a Simple container (books per author, cached 60 s)
  curl -s {url}/books.msgpack | {sys.executable} -c 'import sys, msgpack; print(msgpack.unpackb(sys.stdin.buffer.read()))'
  {url}/books.html in a browser      HTML
  curl -X POST {url}/books -H 'Content-Type: application/json' \\
       -d '{{"title": "Ubik", "author": "Philip K. Dick", "year": 1969, "price": 7.5}}'
  curl -X POST {url}/books -H 'Content-Type: application/json' -d '{{"title": 1}}'     a 400
  curl -X DELETE {url}/books                                                          a 405
""",
        flush=True,
    )
    return devserver.serve("demo", "app", args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
