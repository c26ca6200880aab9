"""The TechEmpower Framework Benchmarks test types: kata against Falcon and Flask.

Each framework serves the seven test types the way its own documentation would have them
written: kata with kata.db models (``get_one``, ``update_many``), kata.router resources (a
``text`` route, ``self.render`` of a Jinja2 template) served in ``kata.db.scope()``, and a
kata.container Attribute on a memory cache; Falcon and Flask with a raw
``psycopg_pool.ConnectionPool`` (one pooled connection per request) and Jinja2 for the fortunes
page.

    /json                  {"message": "Hello, World!"}
    /db                    one random World row
    /queries?queries=N     N random rows, one query each (N clamped to 1..500; junk is 1)
    /fortunes              the fortune table plus one added at request time, sorted, as HTML
    /updates?queries=N     N random rows read one by one, given new random numbers, written
    /plaintext             Hello, World!
    /cached-queries?count=N  N random rows from an in-process cache

The database (``world``: 10,000 rows; ``fortune``: 12 rows, with markup and non-ASCII text) is
created by the benchmark in a database of its own, on a PostgreSQL it starts (the test
harness's ``kata_harness.servers``) or the one ``--dsn`` names. A check step first verifies
every app's answers against the test types' rules; then, in one run:

* in process: microseconds per request, each app called as a WSGI callable, apps interleaved,
  medians of the rounds;
* under gunicorn (2 sync workers; 2 gthread workers x 4 threads), driven by wrk
  (``/usr/bin/wrk``, 32 connections): requests per second, apps interleaved, medians;

each as a ratio to Falcon.

    tools/hatch run bench:python tools/bench/tfb.py                   # everything, a few minutes
    tools/hatch run bench:python tools/bench/tfb.py --check-only
    tools/hatch run bench:python tools/bench/tfb.py --rounds 5 --seconds 5 --queries 20

This is a benchmark, not a test; integration-tests/test_tfb_check.py runs its check step.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from typing import Any, NamedTuple

import falcon
import flask
import jinja2
import orjson
import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

import kata.cache
import kata.container
import kata.db
import kata.resource
import kata.router

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

WORLD_ROWS = 10_000
HELLO = "Hello, World!"
ADDED_FORTUNE = "Additional fortune added at request time."
# The fortune table: markup and entities that must come out escaped, and non-ASCII text.
FORTUNES = [
    "A bug in the hand is worth two in the backlog.",
    "<script>alert('This must be escaped, not run.');</script>",
    "Quotes \"double\" and 'single', & ampersands, <angle> brackets.",
    "Measure twice, optimise once.",
    "フレームワークのベンチマーク",
    "Ça marche, déjà vu, naïve café.",
    "Κάθε αρχή και δύσκολη.",
    "The cache is always warm in the other worker.",
    "An idle connection is a dead connection you have not met yet.",
    "Zero is a number too.",
    "Emoji travel well: \U0001f680\U0001f4a1",
    "<b>bold</b> claims need &amp; evidence",
]

FORTUNES_TEMPLATE = """<!DOCTYPE html>
<html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr>
{% for fortune in fortunes %}<tr><td>{{ fortune[0] }}</td><td>{{ fortune[1] }}</td></tr>
{% endfor %}</table></body></html>"""

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

TYPES = ("json", "db", "queries", "fortunes", "updates", "plaintext", "cached-queries")
APPS = ("kata", "falcon", "flask")


def clamp(text: str | None) -> int:
    """The TFB rule for the number of queries: 1..500, and 1 for anything not an integer."""
    try:
        count = int(text or "")
    except ValueError:
        return 1
    return min(max(count, 1), 500)


def random_id() -> int:
    return random.randint(1, WORLD_ROWS)


# -- the database ---------------------------------------------------------------------------


def create_database(admin_dsn: str, name: str) -> str:
    """Create database *name* (dropping an old one) with the two tables; return its DSN."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = psycopg.conninfo.make_conninfo(admin_dsn, dbname=name)
    create_tables(dsn)
    return dsn


def create_tables(dsn: str) -> None:
    """Create and fill ``world`` and ``fortune`` in the database at *dsn*."""
    with psycopg.connect(dsn) as conn:
        conn.execute('CREATE TABLE world (id integer PRIMARY KEY, "randomNumber" integer NOT NULL)')
        conn.execute("CREATE TABLE fortune (id integer PRIMARY KEY, message text NOT NULL)")
        with conn.cursor().copy('COPY world (id, "randomNumber") FROM STDIN') as copy:
            for n in range(1, WORLD_ROWS + 1):
                copy.write_row((n, random_id()))
        conn.cursor().executemany(
            "INSERT INTO fortune (id, message) VALUES (%s, %s)", list(enumerate(FORTUNES, start=1))
        )
        conn.execute("ANALYZE")


def _settings() -> tuple[str, int]:
    """The DSN and per-process pool size the app factories read from the environment."""
    return os.environ["TFB_DSN"], int(os.environ.get("TFB_POOL_SIZE", "4"))


# -- kata --------------------------------------------------------------------------------------


class World(kata.db.Object):
    __table__ = "world"


class Fortune(kata.db.Object):
    __table__ = "fortune"


class CachedWorld(kata.container.Attribute):
    def cache(self) -> kata.cache.Cache:
        return kata.cache.memory

    def key(self, item: int) -> str:
        return f"world:{item}"

    def attribute(self) -> tuple[type[World], str]:
        return World, "id"


class KataJson(kata.resource.Resource):
    def get(self, request: Any, response: Any) -> Any:
        return self.success({"message": HELLO})


class KataDb(kata.resource.Resource):
    def get(self, request: Any, response: Any) -> Any:
        return self.success(World.get_one({"id": random_id()}))


class KataQueries(kata.resource.Resource):
    def get(self, request: Any, response: Any) -> Any:
        count = clamp(request.param("queries", None))
        # One query per row, as the test type requires, sent together: one round trip.
        return self.success(World.get_each({"id": random_id()} for _ in range(count)))


class KataFortunes(kata.resource.Resource):
    def get(self, request: Any, response: Any) -> Any:
        fortunes = Fortune.get()
        fortunes.append(Fortune.from_dict({"id": 0, "message": ADDED_FORTUNE}))
        fortunes.sort(key=lambda fortune: fortune.message)
        return self.render("fortunes.html", fortunes=fortunes)


class KataUpdates(kata.resource.Resource):
    def get(self, request: Any, response: Any) -> Any:
        ids = random.sample(range(1, WORLD_ROWS + 1), clamp(request.param("queries", None)))
        worlds = World.get_each({"id": id} for id in ids)
        for world in worlds:
            world.randomNumber = random_id()
        # In id order, so that concurrent requests take the row locks in the same order.
        World.update_many(
            sorted(
                ({"id": world.id, "randomNumber": world.randomNumber} for world in worlds),
                key=lambda row: row["id"],
            )
        )
        return self.success(worlds)


class KataPlaintext(kata.resource.Resource):
    def get(self, request: Any, response: Any) -> Any:
        return self.success(HELLO)


class KataCachedQueries(kata.resource.Resource):
    def get(self, request: Any, response: Any) -> Any:
        ids = [random_id() for _ in range(clamp(request.param("count", None)))]
        found = CachedWorld(ids).get()
        return self.success([found[id] for id in ids])


def kata_app() -> WSGIApp:
    """The kata application, configured from TFB_DSN and TFB_POOL_SIZE."""
    dsn, pool_size = _settings()
    parts = psycopg.conninfo.conninfo_to_dict(dsn)
    kata.db.initialize(
        {
            "name": parts["dbname"],
            "host": parts["host"],
            "port": int(parts.get("port") or 5432),
            "user": parts["user"],
            "pool_size": pool_size,
        }
    )
    kata.cache.initialize({"memory": {"type": "memory"}})
    router = kata.router.Router(templates=os.path.join(HERE, "tfb_templates"))
    router.add_route("/json", KataJson)
    router.add_route("/db", KataDb)
    router.add_route("/queries", KataQueries)
    router.add_route("/fortunes", KataFortunes, format="html")
    router.add_route("/updates", KataUpdates)
    router.add_route("/plaintext", KataPlaintext, format="text")
    router.add_route("/cached-queries", KataCachedQueries)

    # What kata.config.app() does for each request: the kata.db calls made while serving it
    # share one pooled connection.
    return kata.db.scoped(router)


# -- Falcon and Flask, on a raw psycopg_pool -------------------------------------------------

SELECT_WORLD = 'SELECT id, "randomNumber" FROM world WHERE id = %s'
SELECT_WORLDS = 'SELECT id, "randomNumber" FROM world WHERE id = ANY(%s)'
SELECT_FORTUNES = "SELECT id, message FROM fortune"
UPDATE_WORLD = 'UPDATE world SET "randomNumber" = %s WHERE id = %s'


_pools: list[ConnectionPool] = []


def _pool() -> ConnectionPool:
    dsn, pool_size = _settings()
    pool = ConnectionPool(dsn, min_size=pool_size, max_size=pool_size, kwargs={"autocommit": True}, open=True)
    _pools.append(pool)
    return pool


def close() -> None:
    """Close the connections of every app made in this process."""
    kata.db.close()
    while _pools:
        _pools.pop().close()


def _template() -> jinja2.Template:
    return jinja2.Environment(autoescape=True).from_string(FORTUNES_TEMPLATE)


def _read_worlds(conn: psycopg.Connection[Any], ids: Iterable[int]) -> list[dict[str, int]]:
    cursor = conn.cursor()
    worlds = []
    for id in ids:
        number = cursor.execute(SELECT_WORLD, (id,)).fetchone()
        assert number is not None
        worlds.append({"id": number[0], "randomNumber": number[1]})
    return worlds


def _update_worlds(conn: psycopg.Connection[Any], count: int) -> list[dict[str, int]]:
    worlds = _read_worlds(conn, random.sample(range(1, WORLD_ROWS + 1), count))
    for world in worlds:
        world["randomNumber"] = random_id()
    with conn.transaction():
        conn.cursor().executemany(
            UPDATE_WORLD, sorted(((w["randomNumber"], w["id"]) for w in worlds), key=lambda pair: pair[1])
        )
    return worlds


def _fortunes(conn: psycopg.Connection[Any]) -> list[tuple[int, str]]:
    fortunes = conn.execute(SELECT_FORTUNES).fetchall()
    fortunes.append((0, ADDED_FORTUNE))
    fortunes.sort(key=lambda fortune: fortune[1])
    return fortunes


class WorldCache:
    """An in-process dict of World rows by id, filled from the database on a miss."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self.rows: dict[int, dict[str, int]] = {}

    def get(self, ids: list[int]) -> list[dict[str, int]]:
        missing = [id for id in set(ids) if id not in self.rows]
        if missing:
            with self.pool.connection() as conn:
                for id, number in conn.execute(SELECT_WORLDS, (missing,)):
                    self.rows[id] = {"id": id, "randomNumber": number}
        return [self.rows[id] for id in ids]


def falcon_app() -> falcon.App:
    """The Falcon application, configured from TFB_DSN and TFB_POOL_SIZE."""
    pool = _pool()
    template = _template()
    cache = WorldCache(pool)

    class Json:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            resp.media = {"message": HELLO}

    class Db:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            with pool.connection() as conn:
                resp.media = _read_worlds(conn, [random_id()])[0]

    class Queries:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            count = clamp(req.get_param("queries"))
            with pool.connection() as conn:
                resp.media = _read_worlds(conn, [random_id() for _ in range(count)])

    class Fortunes:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            with pool.connection() as conn:
                fortunes = _fortunes(conn)
            resp.content_type = falcon.MEDIA_HTML
            resp.text = template.render(fortunes=fortunes)

    class Updates:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            with pool.connection() as conn:
                resp.media = _update_worlds(conn, clamp(req.get_param("queries")))

    class Plaintext:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            resp.content_type = falcon.MEDIA_TEXT
            resp.text = HELLO

    class CachedQueries:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            resp.media = cache.get([random_id() for _ in range(clamp(req.get_param("count")))])

    app = falcon.App()
    app.add_route("/json", Json())
    app.add_route("/db", Db())
    app.add_route("/queries", Queries())
    app.add_route("/fortunes", Fortunes())
    app.add_route("/updates", Updates())
    app.add_route("/plaintext", Plaintext())
    app.add_route("/cached-queries", CachedQueries())
    return app


def flask_app() -> flask.Flask:
    """The Flask application, configured from TFB_DSN and TFB_POOL_SIZE."""
    pool = _pool()
    cache = WorldCache(pool)
    app = flask.Flask("tfb")
    app.jinja_loader = jinja2.DictLoader({"fortunes.html": FORTUNES_TEMPLATE})

    @app.get("/json")
    def json_() -> Any:
        return flask.jsonify(message=HELLO)

    @app.get("/db")
    def db() -> Any:
        with pool.connection() as conn:
            return flask.jsonify(_read_worlds(conn, [random_id()])[0])

    @app.get("/queries")
    def queries() -> Any:
        count = clamp(flask.request.args.get("queries"))
        with pool.connection() as conn:
            return flask.jsonify(_read_worlds(conn, [random_id() for _ in range(count)]))

    @app.get("/fortunes")
    def fortunes() -> Any:
        with pool.connection() as conn:
            rows = _fortunes(conn)
        return flask.render_template("fortunes.html", fortunes=rows)

    @app.get("/updates")
    def updates() -> Any:
        with pool.connection() as conn:
            return flask.jsonify(_update_worlds(conn, clamp(flask.request.args.get("queries"))))

    @app.get("/plaintext")
    def plaintext() -> Any:
        return flask.Response(HELLO, content_type="text/plain")

    @app.get("/cached-queries")
    def cached_queries() -> Any:
        return flask.jsonify(cache.get([random_id() for _ in range(clamp(flask.request.args.get("count")))]))

    return app


FACTORIES: dict[str, Callable[[], Any]] = {"kata": kata_app, "falcon": falcon_app, "flask": flask_app}


def make_app(name: str) -> Any:
    """The WSGI application *name* (gunicorn: ``tfb:make_app('kata')``)."""
    return FACTORIES[name]()


# -- calling an app in process ------------------------------------------------------------------


class Answer:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = int(status.split()[0])
        self.headers = {name.lower(): value for name, value in headers}
        self.body = body

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def _environ(path: str) -> dict[str, Any]:
    """The WSGI environ of a GET of *path* (with its query), as a server would build it."""
    target, _, query = path.partition("?")
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": target,
        "QUERY_STRING": query,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "localhost",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def call(app: WSGIApp, path: str) -> Answer:
    """One GET of *path* (with its query) through *app*, in process."""
    environ = _environ(path)
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started[:] = [status, headers]

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return Answer(started[0], started[1], body)


def _ignore(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    pass


def serve(app: WSGIApp, path: str) -> bytes:
    """One GET of *path* through *app*, as timed: no more than a server's part (an environ
    in, the body's chunks joined and closed), where call() also reads the answer's status
    and headers for the check step."""
    chunks = app(_environ(path), _ignore)
    try:
        return b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


# -- the check step -----------------------------------------------------------------------------


class CheckFailed(AssertionError):
    pass


def _expect(condition: bool, app: str, path: str, problem: str) -> None:
    if not condition:
        raise CheckFailed(f"{app} {path}: {problem}")


class _FortuneRows(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cells: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.cells.append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _worlds(dsn: str) -> dict[int, int]:
    with psycopg.connect(dsn) as conn:
        return dict(conn.execute('SELECT id, "randomNumber" FROM world').fetchall())  # type: ignore[arg-type]


def _check_json(name: str, path: str, answer: Answer) -> Any:
    _expect(answer.status == 200, name, path, f"status {answer.status}")
    _expect(
        answer.content_type.startswith("application/json"), name, path, f"Content-Type {answer.content_type}"
    )
    return orjson.loads(answer.body)


def _check_world(name: str, path: str, row: Any, table: dict[int, int]) -> None:
    _expect(
        type(row) is dict and set(row) == {"id", "randomNumber"}, name, path, f"not a World object: {row!r}"
    )
    _expect(table.get(row["id"]) == row["randomNumber"], name, path, f"{row!r} is not the row in the table")


def check(apps: dict[str, WSGIApp], dsn: str) -> None:
    """Verify every app's answers against the test types' rules; raise CheckFailed if not."""
    expected_fortunes = sorted([(0, ADDED_FORTUNE), *enumerate(FORTUNES, start=1)], key=lambda row: row[1])
    for name, app in apps.items():
        table = _worlds(dsn)
        answer = call(app, "/json")
        _expect(_check_json(name, "/json", answer) == {"message": HELLO}, name, "/json", "wrong body")

        answer = call(app, "/plaintext")
        _expect(answer.status == 200 and answer.body == HELLO.encode(), name, "/plaintext", "wrong answer")
        _expect(answer.content_type.startswith("text/plain"), name, "/plaintext", answer.content_type)

        _check_world(name, "/db", _check_json(name, "/db", call(app, "/db")), table)

        for route, param in (("/queries", "queries"), ("/cached-queries", "count")):
            for given, count in (
                ("", 1),
                ("x", 1),
                ("0", 1),
                ("-3", 1),
                ("1", 1),
                ("7", 7),
                ("500", 500),
                ("501", 500),
            ):
                path = f"{route}?{param}={given}" if given else route
                rows = _check_json(name, path, call(app, path))
                _expect(
                    type(rows) is list and len(rows) == count, name, path, f"{len(rows)} rows for {count}"
                )
                for row in rows:
                    _check_world(name, path, row, table)

        answer = call(app, "/fortunes")
        _expect(answer.status == 200, name, "/fortunes", f"status {answer.status}")
        _expect(
            answer.content_type.replace(" ", "").lower() == "text/html;charset=utf-8",
            name,
            "/fortunes",
            answer.content_type,
        )
        text = answer.body.decode()
        _expect("<script>" not in text and "&lt;script&gt;" in text, name, "/fortunes", "markup not escaped")
        parser = _FortuneRows()
        parser.feed(text)
        found = list(zip(map(int, parser.cells[0::2]), parser.cells[1::2], strict=True))
        _expect(found == expected_fortunes, name, "/fortunes", f"rows {found!r}")

        for given, count in (("", 1), ("x", 1), ("0", 1), ("5", 5), ("20", 20), ("501", 500)):
            path = f"/updates?queries={given}" if given else "/updates"
            before = _worlds(dsn)
            rows = _check_json(name, path, call(app, path))
            after = _worlds(dsn)
            _expect(type(rows) is list and len(rows) == count, name, path, f"{len(rows)} rows for {count}")
            _expect(len({row["id"] for row in rows}) == count, name, path, "an id twice")
            for row in rows:
                _check_world(name, path, row, after)
            changed = {id for id in after if after[id] != before[id]}
            _expect(changed <= {row["id"] for row in rows}, name, path, "rows it did not return changed")


# -- timing in process -------------------------------------------------------------------------


def paths(queries: int) -> dict[str, str]:
    return {
        "json": "/json",
        "db": "/db",
        "queries": f"/queries?queries={queries}",
        "fortunes": "/fortunes",
        "updates": f"/updates?queries={queries}",
        "plaintext": "/plaintext",
        "cached-queries": f"/cached-queries?count={queries}",
    }


# Cached queries measure reads of a full cache, as after TechEmpower's own warm-up: 400
# requests of 500 random ids of 10,000 leave an id uncached with a chance of 2e-9 (in each
# gunicorn worker, which gets about half of them, 5e-5). The misses are container.py's.
WARM_CACHE_PATH, WARM_CACHE_REQUESTS = "/cached-queries?count=500", 400


def fill_cache(app: WSGIApp) -> None:
    """Fill the cache of an app called in process, for the cached-queries test type."""
    for _ in range(WARM_CACHE_REQUESTS):
        call(app, WARM_CACHE_PATH)


def time_in_process(
    apps: dict[str, WSGIApp], queries: int, rounds: int, budget: float
) -> dict[str, dict[str, list[float]]]:
    """µs per request of each test type and app, one sample per round; apps take turns
    within each round."""
    samples: dict[str, dict[str, list[float]]] = {kind: {name: [] for name in apps} for kind in TYPES}
    for path in paths(queries).values():
        for app in apps.values():
            call(app, path)  # warm up: connections, prepared statements
    for app in apps.values():
        fill_cache(app)
    for _ in range(rounds):
        for kind, path in paths(queries).items():
            for name, app in apps.items():
                count, started = 0, time.perf_counter()
                while True:
                    serve(app, path)
                    count += 1
                    elapsed = time.perf_counter() - started
                    if elapsed >= budget:
                        break
                samples[kind][name].append(elapsed / count * 1e6)
    return samples


# -- timing under gunicorn + wrk -----------------------------------------------------------------


def _free_port() -> int:
    from kata_harness.servers import free_port

    return free_port()


class Server(NamedTuple):
    url: str
    pid: int
    """gunicorn's master process: its children are the workers."""


def worker_cpu(master: int) -> float:
    """CPU seconds (user and system) that the workers of gunicorn master *master* have used.

    Read from Linux's /proc: a worker's own figure, which the load of other processes does not
    inflate as it does a wall-clock rate."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as file:
                fields = file.read().rpartition(")")[2].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == master:  # ppid; utime and stime follow, in clock ticks
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


@contextmanager
def gunicorn(name: str, worker: str, dsn: str) -> Iterator[Server]:
    """Serve app *name* under gunicorn with 2 workers of class *worker*."""
    port = _free_port()
    threads = ["--threads", "4"] if worker == "gthread" else []
    env = dict(os.environ, TFB_DSN=dsn, TFB_POOL_SIZE="4" if worker == "gthread" else "1")
    command = [sys.executable, "-m", "gunicorn", "--chdir", HERE, "-w", "2", "-k", worker, *threads]
    command += ["-b", f"127.0.0.1:{port}", "--log-level", "warning", f"tfb:make_app({name!r})"]
    proc = subprocess.Popen(command, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/json", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn for {name} ({worker}) did not start") from None
                time.sleep(0.2)
        yield Server(url, proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wrk(url: str, seconds: int, connections: int) -> tuple[float, int, str]:
    """Requests per second of a wrk run against *url*, the requests answered, and what went
    wrong (empty: nothing)."""
    binary = shutil.which("wrk") or "/usr/bin/wrk"
    result = subprocess.run(
        [binary, "-t", "2", "-c", str(connections), "-d", f"{seconds}s", url],
        capture_output=True,
        text=True,
        check=True,
    )
    rate = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    count = re.search(r"(\d+) requests in", result.stdout)
    if rate is None or count is None:
        raise RuntimeError(f"wrk printed no rate:\n{result.stdout}{result.stderr}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", result.stdout)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", result.stdout)
    problems = []
    if bad:
        problems.append(f"{bad.group(1)} non-2xx answers")
    if errors:
        # Read errors are sync workers closing the connection after each answer: not failures.
        connect, _, write, timeout = map(int, errors.groups())
        if connect or write:
            problems.append(f"{connect} connect and {write} write errors")
        if timeout:
            problems.append(f"{timeout} answers slower than wrk's 2 s timeout")
    return float(rate.group(1)), int(count.group(1)), "; ".join(problems)


Samples = dict[str, dict[str, list[float]]]
"""One figure per round, by test type and app."""


def time_under_wrk(
    names: Iterable[str], dsn: str, queries: int, rounds: int, seconds: int, connections: int
) -> dict[str, tuple[Samples, Samples]]:
    """Per worker class: requests/s, and the workers' CPU µs per request, by test type and
    app, one sample per round (apps interleaved)."""
    results: dict[str, tuple[Samples, Samples]] = {}
    for worker in ("sync", "gthread"):
        rates: Samples = {kind: {name: [] for name in names} for kind in TYPES}
        cpu: Samples = {kind: {name: [] for name in names} for kind in TYPES}
        with _servers(names, worker, dsn) as servers:
            for server in servers.values():
                for _ in range(WARM_CACHE_REQUESTS):
                    with urllib.request.urlopen(server.url + WARM_CACHE_PATH, timeout=30) as answer:
                        answer.read()
            for _ in range(rounds):
                for kind, path in paths(queries).items():
                    for name, server in servers.items():
                        used = worker_cpu(server.pid)
                        rate, count, problems = wrk(server.url + path, seconds, connections)
                        used = worker_cpu(server.pid) - used
                        if problems:
                            print(f"  ! {name} {worker} {path}: {problems}", file=sys.stderr)
                        rates[kind][name].append(rate)
                        cpu[kind][name].append(used / count * 1e6)
        results[worker] = (rates, cpu)
    return results


@contextmanager
def _servers(names: Iterable[str], worker: str, dsn: str) -> Iterator[dict[str, Server]]:
    servers: dict[str, Server] = {}
    stack: list[Any] = []
    try:
        for name in names:
            server = gunicorn(name, worker, dsn)
            servers[name] = server.__enter__()
            stack.append(server)
        yield servers
    finally:
        for server in reversed(stack):
            server.__exit__(None, None, None)


# -- the report --------------------------------------------------------------------------------


def table(
    title: str,
    unit: str,
    results: dict[str, dict[str, list[float]]],
    names: list[str],
    higher_is_better: bool,
) -> str:
    """Medians of the samples, and the median of each round's ratio to Falcon: the apps of a
    round run back to back, so its ratio is taken under one load, which the medians of
    separate rounds are not on a shared machine."""
    lines = [f"\n{title}\n", "| test type | " + " | ".join(f"{name} {unit}" for name in names) + " | "]
    lines[-1] += " | ".join(f"{name} / falcon" for name in names if name != "falcon") + " |"
    lines.append("|" + "---|" * (2 * len(names)))
    for kind in TYPES:
        row = results[kind]
        cells = [f"{statistics.median(row[name]):,.1f}" for name in names]
        ratios = [
            f"{statistics.median(mine / theirs for mine, theirs in zip(row[name], row['falcon'], strict=True)):.2f}x"
            for name in names
            if name != "falcon"
        ]
        lines.append(f"| {kind} | " + " | ".join(cells + ratios) + " |")
    note = "higher is better" if higher_is_better else "lower is better"
    lines.append(f"\nRatios to Falcon ({note}): the median of the rounds' ratios.")
    return "\n".join(lines)


@contextmanager
def database(dsn: str | None) -> Iterator[str]:
    """The benchmark's own database: on the PostgreSQL at *dsn*, or on one started here."""
    if dsn is not None:
        yield create_database(dsn, "kata_tfb")
        return
    from kata_harness import servers

    with servers.running("postgres") as server:
        yield create_database(server.dsn("postgres"), "kata_tfb")  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dsn", help="a PostgreSQL to create the benchmark's database on (default: start one)"
    )
    parser.add_argument("--check-only", action="store_true", help="verify the apps' answers and stop")
    parser.add_argument(
        "--queries", type=int, default=20, help="queries per request for queries/updates/cached (20)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument(
        "--budget", type=float, default=0.3, help="seconds per app and type per in-process round (0.3)"
    )
    parser.add_argument("--seconds", type=int, default=3, help="seconds per wrk run (default 3)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--skip-wrk", action="store_true", help="in-process timings only")
    args = parser.parse_args()

    with database(args.dsn) as dsn:
        os.environ["TFB_DSN"] = dsn
        os.environ["TFB_POOL_SIZE"] = "4"
        apps = {name: make_app(name) for name in APPS}
        check(apps, dsn)
        print("check: every app answers every test type by the rules")
        if args.check_only:
            return
        print(f"load before: {os.getloadavg()[0]:.2f}")
        in_process = time_in_process(apps, args.queries, args.rounds, args.budget)
        print(
            table(
                f"In process, µs per request (median of {args.rounds} rounds, queries={args.queries})",
                "µs",
                in_process,
                list(APPS),
                higher_is_better=False,
            )
        )
        if not args.skip_wrk:
            close()
            served = time_under_wrk(APPS, dsn, args.queries, args.rounds, args.seconds, args.connections)
            for worker, label in (("sync", "2 sync workers"), ("gthread", "2 gthread workers x 4 threads")):
                rates, cpu = served[worker]
                title = f"gunicorn, {label}, wrk {args.connections} connections, {args.seconds:g} s per run"
                print(
                    table(f"{title}, requests/s (median of {args.rounds})", "req/s", rates, list(APPS), True)
                )
                print(
                    table(
                        f"{title}, the workers' CPU µs per request (median of {args.rounds})",
                        "µs",
                        cpu,
                        list(APPS),
                        False,
                    )
                )
        print(f"\nload after: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")


if __name__ == "__main__":
    main()
