"""The access log on ``kata.access`` and request ids, in process and under a real gunicorn."""

from __future__ import annotations

import http.client
import json
import logging
import re
import textwrap
from pathlib import Path

import pytest

import kata.router
from kata.resource import Resource
from kata.router import HTTPError, Router
from kata.router.testing import Client
from kata_harness.processes import gunicorn

_app_log = logging.getLogger("tests.app")


class Hello(Resource):
    def get(self, request, response, name):
        _app_log.warning("saying hello to %s", name)
        return self.success({"hello": name, "id": kata.router.request_id()})


class Broken(Resource):
    def get(self, request, response):
        raise RuntimeError("boom")


def make(access_log: str) -> Client:
    router = Router(access_log=access_log)
    router.add_route("/hello/{name}", Hello)
    router.add_route("/broken", Broken)
    return Client(router)


@pytest.fixture
def records() -> list[logging.LogRecord]:
    """Every record of the process's loggers, as a handler on the root logger sees them."""
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    handler = Keep(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield seen
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


COMBINED = re.compile(
    r'^(?P<addr>\S+) - - \[(?P<time>\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] "(?P<request>[^"]*)" '
    r'(?P<status>\d{3}) (?P<bytes>\d+|-) "(?P<referer>[^"]*)" "(?P<agent>[^"]*)"$'
)


def test_combined_format(records):
    c = make("combined")
    r = c.get("/hello/ann?x=1", headers={"Referer": "http://r.example/", "User-Agent": "probe/1.0"})
    access = [rec for rec in records if rec.name == "kata.access"]
    assert len(access) == 1
    match = COMBINED.match(access[0].getMessage())
    assert match is not None, access[0].getMessage()
    assert match["addr"] == "127.0.0.1"
    assert match["request"] == "GET /hello/ann?x=1 HTTP/1.1"
    assert (match["status"], match["bytes"]) == ("200", str(len(r.body)))
    assert (match["referer"], match["agent"]) == ("http://r.example/", "probe/1.0")
    assert access[0].levelno == logging.INFO


def test_json_lines(records):
    c = make("json")
    c.get("/missing", headers={"User-Agent": 'say "hi"\r\nforged'})
    c.head("/hello/bo")
    lines = [json.loads(rec.getMessage()) for rec in records if rec.name == "kata.access"]
    assert [(e["method"], e["path"], e["status"]) for e in lines] == [
        ("GET", "/missing", 404),
        ("HEAD", "/hello/bo", 200),
    ]
    first = lines[0]
    assert first["user_agent"] == 'say "hi"\\x0d\\x0aforged'
    assert first["bytes"] > 0 and lines[1]["bytes"] == 0
    assert first["duration_ms"] >= 0 and re.fullmatch(r"[0-9a-f]{32}", first["request_id"])
    assert set(first) == {
        "time", "remote_addr", "method", "path", "protocol", "status", "bytes", "referer",
        "user_agent", "duration_ms", "request_id",
    }  # fmt: skip


def test_what_the_client_sent_is_escaped_in_combined_lines(records):
    c = make("combined")
    c.request(
        "GET", "/hello/x%0d%0a127.0.0.1 - - forged%22", headers={"User-Agent": "a\nb", "Referer": "\x1b[31m"}
    )
    (line,) = [rec.getMessage() for rec in records if rec.name == "kata.access"]
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    match = COMBINED.match(line)
    assert match is not None, line
    assert match["request"] == "GET /hello/x\\x0d\\x0a127.0.0.1 - - forged\\x22 HTTP/1.1"
    assert (match["agent"], match["referer"]) == ("a\\x0ab", "\\x1b[31m")


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("abc-123_X.y", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("", False),
        ("has space", False),
        ("semi;colon", False),
        ("caf\xc3\xa9", False),
    ],
)
def test_request_ids(records, sent, kept):
    c = make("combined")
    r = c.get("/hello/ann", headers={"X-Request-ID": sent})
    rid = r.headers["X-Request-ID"]
    if kept:
        assert rid == sent
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", rid)
    # The handler saw the same id, and so did every record made during the request.
    assert r.json()["id"] == rid
    during = [rec for rec in records if rec.name in ("tests.app", "kata.access")]
    assert [rec.request_id for rec in during] == [rid, rid]


def test_ids_differ_per_request_and_are_gone_afterwards(records):
    c = make("json")
    ids = {c.get("/hello/x").headers["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5
    assert kata.router.request_id() is None
    logging.getLogger("tests.app").warning("outside")
    assert records[-1].request_id == "-"


def test_a_500_is_logged_once_with_the_request_id(records):
    c = make("combined")
    r = c.get("/broken", headers={"X-Request-ID": "req-500"})
    assert r.status == 500 and r.headers["X-Request-ID"] == "req-500"
    crashes = [rec for rec in records if rec.name == "kata.router"]
    assert len(crashes) == 1 and crashes[0].exc_info is not None and crashes[0].request_id == "req-500"
    (access,) = [rec for rec in records if rec.name == "kata.access"]
    assert '"GET /broken HTTP/1.1" 500 ' in access.getMessage() and access.request_id == "req-500"


def test_off_logs_nothing_and_sets_no_id(records):
    c = make("off")
    r = c.get("/hello/ann", headers={"X-Request-ID": "given"})
    assert "X-Request-ID" not in r.headers and r.json()["id"] is None
    assert not [rec for rec in records if rec.name == "kata.access"]


def test_an_error_response_from_a_hook_is_logged_too(records):
    router = Router(access_log="combined")
    router.add_route("/hello/{name}", Hello)

    @router.before_request
    def deny(request, response):
        raise HTTPError(403, "no")

    r = Client(router).get("/hello/ann")
    assert r.status == 403 and r.headers["X-Request-ID"]
    (access,) = [rec for rec in records if rec.name == "kata.access"]
    assert '" 403 ' in access.getMessage()


APP = textwrap.dedent(
    """
    import logging

    import kata.router
    import kata.resource

    handler = logging.FileHandler("app.log")  # in --chdir
    handler.setFormatter(logging.Formatter("%(name)s %(request_id)s %(message)s"))
    for name in ("kata.access", "app"):
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.INFO)
        logging.getLogger(name).propagate = False

    app = kata.router.app()
    kata.router.configure(access_log="{access_log}")


    class Hello(kata.resource.Resource):
        def get(self, request, response, name):
            logging.getLogger("app").info("hello %s", name)
            return self.success({{"hello": name}})


    kata.router.add_route("/hello/{{name}}", Hello)
    """
)


@pytest.mark.parametrize("access_log", ["combined", "json"])
def test_under_gunicorn(tmp_path: Path, access_log: str):
    (tmp_path / "logapp.py").write_text(APP.format(access_log=access_log))
    answers = []
    gthread = ("--workers", "2", "-k", "gthread", "--threads", "2")
    with gunicorn(tmp_path, "logapp:app", *gthread, log="gunicorn.out") as port:
        for index, given in enumerate(["from-nginx.1", "bad id!", None, "x" * 200]):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            headers = {"X-Request-ID": given} if given is not None else {}
            conn.request("GET", f"/hello/n{index}", headers=headers)
            response = conn.getresponse()
            assert response.status == 200 and json.loads(response.read()) == {"hello": f"n{index}"}
            answers.append((f"n{index}", response.getheader("X-Request-ID")))
            conn.close()
    assert answers[0][1] == "from-nginx.1"
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for _, rid in answers[1:])
    lines = (tmp_path / "app.log").read_text().splitlines()
    for name, rid in answers:
        app_line = f"app {rid} hello {name}"
        assert app_line in lines
        (access,) = [line for line in lines if line.startswith(f"kata.access {rid} ")]
        text = access.split(" ", 2)[2]
        if access_log == "json":
            entry = json.loads(text)
            assert (entry["path"], entry["status"], entry["request_id"]) == (f"/hello/{name}", 200, rid)
        else:
            match = COMBINED.match(text)
            assert match is not None and match["request"] == f"GET /hello/{name} HTTP/1.1", text
