"""In-process benchmark of kata's web path against a raw WSGI function, Falcon and Bottle.

Each framework serves the guide's resource: ``GET /foo/bar/{baz}`` answers
``{"baz": ..., "something": "else"}`` as JSON and ``POST`` echoes its JSON body. Every app is
called directly with a prepared WSGI environ (no server, no sockets), with 0 and with 1000
extra GitHub-API-like routes registered before the measured one; kata also with its access log
on (combined and JSON lines, formatted and written to /dev/null). Cases run interleaved in
shuffled blocks; the best block per case is reported, in µs per request and as a multiple of
the raw WSGI function. Ratios are what to compare across machines.

    tools/hatch run bench:python tools/bench/router.py                 # default: 5 blocks of 40000 requests per case
    tools/hatch run bench:python tools/bench/router.py --blocks 3 --iterations 10000
    tools/hatch run bench:python tools/bench/router.py --baseline d1b2c16   # add kata as of that commit

``--baseline REV`` loads kata-router's source at git revision REV next to today's (renamed, in
a temporary folder) and adds it as a row, so that a change is measured against its baseline in
the same run, interleaved, on the same kata-codec.

This is a benchmark, not a test: it asserts only that every app answers correctly.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import io
import json
import logging
import os
import random
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import bottle
import falcon

import kata.resource
import kata.router

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

POST_BODY = json.dumps({"name": "kata", "tags": ["fast", "small"], "stars": 42, "fork": False}).encode()
GET_JSON = {"baz": "123", "something": "else"}


# -- the GitHub-API-like extra routes -------------------------------------------------------

_OWNER_RESOURCES = [
    "issues",
    "pulls",
    "commits",
    "branches",
    "tags",
    "releases",
    "hooks",
    "keys",
    "labels",
    "milestones",
    "deployments",
    "environments",
    "forks",
    "collaborators",
    "comments",
    "contents",
    "events",
    "invitations",
    "projects",
    "stargazers",
    "subscribers",
    "teams",
    "topics",
    "traffic",
    "workflows",
    "runs",
    "artifacts",
    "secrets",
    "variables",
    "checks",
    "statuses",
    "pages",
    "notifications",
    "assignees",
    "autolinks",
    "codeowners",
    "compare",
    "dispatches",
    "downloads",
    "merges",
    "rulesets",
    "advisories",
    "alerts",
    "caches",
    "codespaces",
    "dependabot",
    "discussions",
    "languages",
    "license",
    "readme",
]
_PATTERNS = [
    "/repos/{owner}/{repo}/%s",
    "/repos/{owner}/{repo}/%s/{number}",
    "/repos/{owner}/{repo}/%s/{number}/comments",
    "/repos/{owner}/{repo}/%s/{number}/events",
    "/repos/{owner}/{repo}/%s/{number}/reactions",
    "/repos/{owner}/{repo}/%s/{number}/reactions/{reaction}",
    "/repos/{owner}/{repo}/%s/{number}/labels",
    "/repos/{owner}/{repo}/%s/{number}/timeline",
    "/repos/{owner}/{repo}/%s/comments/{comment}",
    "/repos/{owner}/{repo}/%s/settings",
    "/users/{owner}/%s",
    "/users/{owner}/%s/{number}",
    "/orgs/{owner}/%s",
    "/orgs/{owner}/%s/{number}",
    "/orgs/{owner}/%s/{number}/members",
    "/orgs/{owner}/%s/{number}/repos",
    "/enterprises/{owner}/%s",
    "/enterprises/{owner}/%s/{number}",
    "/%s/{owner}",
    "/%s/{owner}/{repo}",
]


def extra_templates(count: int) -> list[str]:
    """*count* distinct GitHub-API-shaped templates in kata/Falcon syntax."""
    templates = [pattern % resource for resource in _OWNER_RESOURCES for pattern in _PATTERNS]
    assert len(templates) >= count
    return templates[:count]


# -- the apps -------------------------------------------------------------------------------


def raw_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """The floor: a hand-written WSGI function with no routing beyond a split."""
    if environ["REQUEST_METHOD"] == "GET":
        baz = environ["PATH_INFO"].rsplit("/", 1)[1]
        body = json.dumps({"baz": baz, "something": "else"}).encode()
    else:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.dumps(json.loads(environ["wsgi.input"].read(length))).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class KataBar(kata.resource.Resource):
    def get(
        self, request: kata.router.Request, response: kata.router.Response, baz: str
    ) -> kata.router.Result:
        return self.success({"baz": baz, "something": "else"})

    def post(
        self, request: kata.router.Request, response: kata.router.Response, baz: str
    ) -> kata.router.Result:
        return self.success(self.body(request))


class KataOther(kata.resource.Resource):
    def get(
        self, request: kata.router.Request, response: kata.router.Response, **fields: str
    ) -> kata.router.Result:
        return self.success(fields)

    def post(
        self, request: kata.router.Request, response: kata.router.Response, **fields: str
    ) -> kata.router.Result:
        return self.success(fields)


def kata_app(extra: int, access_log: str = "off") -> WSGIApp:
    router = kata.router.Router(access_log=access_log)
    for template in extra_templates(extra):
        router.add_route(template, KataOther)
    router.add_route("/foo/bar/{baz}", KataBar)
    return router


class FalconBar:
    def on_get(self, req: falcon.Request, resp: falcon.Response, baz: str) -> None:
        resp.media = {"baz": baz, "something": "else"}

    def on_post(self, req: falcon.Request, resp: falcon.Response, baz: str) -> None:
        resp.media = req.get_media()


class FalconOther:
    def on_get(self, req: falcon.Request, resp: falcon.Response, **fields: str) -> None:
        resp.media = fields

    def on_post(self, req: falcon.Request, resp: falcon.Response, **fields: str) -> None:
        resp.media = fields


def falcon_app(extra: int) -> WSGIApp:
    app = falcon.App()
    other = FalconOther()
    for template in extra_templates(extra):
        app.add_route(template, other)
    app.add_route("/foo/bar/{baz}", FalconBar())
    return app


def bottle_app(extra: int) -> WSGIApp:
    app = bottle.Bottle()

    def other(**fields: str) -> dict[str, str]:
        return fields

    for template in extra_templates(extra):
        app.route(template.replace("{", "<").replace("}", ">"), ["GET", "POST"], other)

    @app.get("/foo/bar/<baz>")
    def get(baz: str) -> dict[str, str]:
        return {"baz": baz, "something": "else"}

    @app.post("/foo/bar/<baz>")
    def post(baz: str) -> Any:
        return bottle.request.json

    return app


def log_to_devnull() -> None:
    """An access log that is formatted and written, as in production, to /dev/null."""
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
    handler.setFormatter(logging.Formatter("%(request_id)s %(message)s"))
    access = logging.getLogger("kata.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False


FRAMEWORKS: dict[str, Callable[[int], WSGIApp]] = {
    "raw WSGI": lambda extra: raw_app,
    "kata": kata_app,
    "Falcon": falcon_app,
    "Bottle": bottle_app,
    "kata, access log combined": lambda extra: kata_app(extra, "combined"),
    "kata, access log JSON": lambda extra: kata_app(extra, "json"),
}


# -- the harness ----------------------------------------------------------------------------


def base_environ(method: str) -> dict[str, Any]:
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": "/foo/bar/123",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "localhost:8000",
        "HTTP_USER_AGENT": "bench/1.0",
        "HTTP_ACCEPT": "*/*",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if method == "POST":
        environ["CONTENT_TYPE"] = "application/json"
        environ["CONTENT_LENGTH"] = str(len(POST_BODY))
    return environ


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    _start_response.status = status  # type: ignore[attr-defined]


def call(app: WSGIApp, method: str) -> tuple[str, bytes]:
    """One request, the same way the timed loop makes it; returns status and body."""
    environ = base_environ(method)
    if method == "POST":
        environ["wsgi.input"] = io.BytesIO(POST_BODY)
    result = app(environ, _start_response)
    body = b"".join(result)
    if hasattr(result, "close"):
        result.close()
    return _start_response.status, body  # type: ignore[attr-defined]


def timed(app: WSGIApp, method: str, iterations: int) -> float:
    """Seconds per request over *iterations* requests (environ copy and body join included)."""
    base = base_environ(method)
    copy = base.copy
    join = b"".join
    start_response = _start_response
    BytesIO = io.BytesIO
    if method == "POST":
        started = time.perf_counter()
        for _ in range(iterations):
            environ = copy()
            environ["wsgi.input"] = BytesIO(POST_BODY)
            join(app(environ, start_response))
    else:
        started = time.perf_counter()
        for _ in range(iterations):
            join(app(copy(), start_response))
    return (time.perf_counter() - started) / iterations


def check(name: str, app: WSGIApp) -> None:
    status, body = call(app, "GET")
    assert status.startswith("200") and json.loads(body) == GET_JSON, (name, status, body)
    status, body = call(app, "POST")
    assert status.startswith("200") and json.loads(body) == json.loads(POST_BODY), (name, status, body)


def baseline_app(revision: str) -> Callable[[int], WSGIApp]:
    """The app of kata-router as of git *revision*, loaded as package ``kata_baseline``."""
    folder = Path(tempfile.mkdtemp(prefix="kata-router-baseline-"))
    archive = subprocess.run(
        ["git", "archive", revision, "packages/kata-router/src/kata"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as files:
        files.extractall(folder, filter="data")
    source = folder / "packages/kata-router/src/kata"
    target = folder / "kata_baseline"
    source.rename(target)
    for module in target.rglob("*.py"):
        text = module.read_text()
        module.write_text(
            text.replace("kata.router", "kata_baseline.router").replace(
                "kata.resource", "kata_baseline.resource"
            )
        )
    sys.path.insert(0, str(folder))
    router_module = importlib.import_module("kata_baseline.router")
    resource_module = importlib.import_module("kata_baseline.resource")

    class Bar(resource_module.Resource):  # type: ignore[name-defined,misc]
        def get(self, request: Any, response: Any, baz: str) -> Any:
            return self.success({"baz": baz, "something": "else"})

        def post(self, request: Any, response: Any, baz: str) -> Any:
            return self.success(self.body(request))

    class Other(resource_module.Resource):  # type: ignore[name-defined,misc]
        def get(self, request: Any, response: Any, **fields: str) -> Any:
            return self.success(fields)

        def post(self, request: Any, response: Any, **fields: str) -> Any:
            return self.success(fields)

    def make(extra: int) -> WSGIApp:
        router = router_module.Router()
        for template in extra_templates(extra):
            router.add_route(template, Other)
        router.add_route("/foo/bar/{baz}", Bar)
        return router  # type: ignore[no-any-return]

    return make


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=5, help="interleaved blocks per case (best one counts)")
    parser.add_argument("--iterations", type=int, default=40000, help="requests per case per block")
    parser.add_argument("--extra", type=int, default=1000, help="extra routes in the second table")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline", metavar="REV", help="also run kata-router as of this git revision")
    args = parser.parse_args()
    log_to_devnull()
    if args.baseline:
        FRAMEWORKS[f"kata at {args.baseline}"] = baseline_app(args.baseline)

    tables = (0, args.extra)
    cases = [(name, extra, method) for name in FRAMEWORKS for extra in tables for method in ("GET", "POST")]
    apps = {(name, extra): FRAMEWORKS[name](extra) for name in FRAMEWORKS for extra in tables}
    for (name, extra), app in apps.items():
        check(f"{name} +{extra}", app)

    best: dict[tuple[str, int, str], float] = {}
    rng = random.Random(args.seed)
    for block in range(args.blocks):
        rng.shuffle(cases)
        for name, extra, method in cases:
            # Bottle's linear matcher is two orders slower with many routes: fewer requests
            # keep its block short without changing its per-request figure.
            slow = name == "Bottle" and extra > 0
            iterations = max(1000, args.iterations // 10) if slow else args.iterations
            gc.collect()
            seconds = timed(apps[(name, extra)], method, iterations)
            key = (name, extra, method)
            best[key] = min(best.get(key, seconds), seconds)
        print(f"block {block + 1}/{args.blocks} done", file=sys.stderr)

    print(
        f"Python {sys.version.split()[0]}, falcon {falcon.__version__}, bottle {bottle.__version__}; "
        f"best of {args.blocks} blocks of {args.iterations} requests; µs per request (x raw WSGI)\n"
    )
    header = (
        f"| framework | GET µs, 0 extra | GET µs, {args.extra} extra | POST µs, 0 extra "
        f"| POST µs, {args.extra} extra |"
    )
    print(header)
    print("|---|---|---|---|---|")
    for name in FRAMEWORKS:
        cells = []
        for method in ("GET", "POST"):
            for extra in tables:
                value = best[(name, extra, method)]
                ratio = value / best[("raw WSGI", extra, method)]
                cells.append(f"{value * 1e6:.2f} ({ratio:.2f}x)")
        get0, get1, post0, post1 = cells
        print(f"| {name} | {get0} | {get1} | {post0} | {post1} |")

    print()
    for method in ("GET", "POST"):
        for extra in tables:
            kata_s = best[("kata", extra, method)]
            falcon_s = best[("Falcon", extra, method)]
            print(f"{method} +{extra} routes: kata/Falcon = {kata_s / falcon_s:.2f}")
    for method in ("GET", "POST"):
        growth = best[("kata", args.extra, method)] / best[("kata", 0, method)] - 1
        print(f"kata {method}: {growth * 100:+.1f}% with {args.extra} extra routes")
    if args.baseline:
        for method in ("GET", "POST"):
            for extra in tables:
                now, then = best[("kata", extra, method)], best[(f"kata at {args.baseline}", extra, method)]
                print(
                    f"{method} +{extra} routes: kata / kata at {args.baseline} = {now / then:.3f} "
                    f"({(now - then) * 1e9:+.0f} ns)"
                )
    for name in ("kata, access log combined", "kata, access log JSON"):
        cost = [
            best[(name, extra, method)] - best[("kata", extra, method)]
            for extra in tables
            for method in ("GET", "POST")
        ]
        print(f"{name}: {min(cost) * 1e6:+.2f} to {max(cost) * 1e6:+.2f} µs per request over kata")


if __name__ == "__main__":
    main()
