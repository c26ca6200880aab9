"""1,000 model rows to a JSON response: kata's ``self.success`` against a raw WSGI function.

The raw WSGI function encodes 1,000 plain dicts (what a psycopg ``dict_row`` cursor gives) with
orjson itself. kata answers from a ``kata.resource.Resource`` returning ``self.success(rows)``
where ``rows`` are 1,000 ``kata.db.Object`` instances, the route a real application has, and
the same dicts the raw function encodes. Two row
shapes: the TechEmpower ``World`` row (two ints) and a wider row with a str, a datetime, a
Decimal and a NULL (None), which goes through the slower checks of ``kata.codec.to_json``.
No database is involved: the instances are built with ``from_dict``.

    tools/hatch run bench:python tools/bench/codec.py                # 400 interleaved rounds
    tools/hatch run bench:python tools/bench/codec.py --reps 50

This is a benchmark, not a test: it asserts only that every case answers the same body.
"""

from __future__ import annotations

import argparse
import io
import os
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import orjson
from measure import median_ms, print_table

import kata.db
import kata.resource
import kata.router

ROWS = 1000


class World(kata.db.Object):
    __table__ = "world"


class Order(kata.db.Object):
    __table__ = "orders"


def _world_rows() -> list[dict[str, Any]]:
    return [{"id": n, "randomNumber": (n * 7919) % 10000 + 1} for n in range(1, ROWS + 1)]


def _order_rows() -> list[dict[str, Any]]:
    when = datetime(2026, 12, 3, 4, 5, 6, tzinfo=timezone.utc)
    return [
        {"id": n, "customer": f"customer {n}", "placed": when, "total": Decimal(f"{n}.95"), "note": None}
        for n in range(1, ROWS + 1)
    ]


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def raw_app(rows: list[dict[str, Any]]) -> WSGIApp:
    """The floor: a WSGI function that encodes the dicts with orjson and nothing else."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = orjson.dumps(rows, default=str)
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return app


def kata_app(rows: list[Any]) -> WSGIApp:
    class Rows(kata.resource.Resource):
        def get(self, request: Any, response: Any) -> Any:
            return self.success(rows)

    router = kata.router.Router()
    router.add_route("/rows", Rows)
    return router


def _environ() -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/rows",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.input": io.BytesIO(),
        "wsgi.url_scheme": "http",
    }


def _call(app: WSGIApp) -> bytes:
    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        assert status == "200 OK", status

    return b"".join(app(_environ(), start_response))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=400, help="interleaved rounds (default 400)")
    args = parser.parse_args()

    cases: dict[str, Callable[[], Any]] = {}
    for label, model, rows in (("World", World, _world_rows()), ("Order", Order, _order_rows())):
        apps = {
            f"raw WSGI + orjson, {label} dicts": raw_app(rows),
            f"kata self.success, {label} dicts": kata_app(rows),
            f"kata self.success, {label} instances": kata_app([model.from_dict(row) for row in rows]),
        }
        expected = orjson.loads(_call(apps[f"raw WSGI + orjson, {label} dicts"]))
        for name, app in apps.items():
            assert orjson.loads(_call(app)) == expected, name
            cases[name] = lambda app=app: _call(app)  # type: ignore[misc]

    results = median_ms(cases, args.reps)
    load = os.getloadavg()
    for label in ("World", "Order"):
        print_table(
            f"{ROWS:,} rows ({label}) to a JSON response, median of {args.reps} (load {load[0]:.2f})",
            {name: ms for name, ms in results.items() if label in name},
            f"raw WSGI + orjson, {label} dicts",
            label="case",
        )


if __name__ == "__main__":
    main()
