"""Request bodies, query parameters, headers, cookies, the client address and hooks."""

from __future__ import annotations

import io
import threading
from urllib.parse import parse_qsl
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kata.resource import Resource
from kata.router import HTTPError, Request, Router
from kata.router.testing import Client


class Echo(Resource):
    def post(self, request, response):
        return self.success({"body": self.body(request), "again": self.body(request)})

    def put(self, request, response):
        return self.success({"raw": request.body.decode("latin-1"), "length": request.content_length})


def echo(**options) -> Client:
    router = Router(**options)
    router.add_route("/echo", Echo)
    return Client(router)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON;charset=UTF-8",
        "application/vnd.api+json",
    ],
)
def test_json_bodies_with_or_without_charset(content_type):
    response = echo().post("/echo", body='{"a": "é"}', headers={"Content-Type": content_type})
    assert response.status == 200
    assert response.json() == {"body": {"a": "é"}, "again": {"a": "é"}}


@pytest.mark.parametrize("content_type", ["application/msgpack", "application/x-msgpack"])
def test_msgpack_bodies(content_type):
    import msgpack

    body = msgpack.packb({"n": [1, 2], "s": "x"})
    response = echo().post("/echo", body=body, headers={"Content-Type": content_type})
    assert response.json() == {"body": {"n": [1, 2], "s": "x"}, "again": {"n": [1, 2], "s": "x"}}


def test_the_client_json_and_msgpack_arguments():
    c = echo()
    assert c.post("/echo", json={"x": 1}).json()["body"] == {"x": 1}
    refused = c.post("/echo", msgpack={"x": b"\x01"})  # bytes have no JSON form: refused on a JSON route
    assert refused.status == 400 and "bin values are not accepted" in refused.json()["message"]
    assert c.post("/echo", msgpack={"x": 2}).json()["body"] == {"x": 2}
    with pytest.raises(ValueError):
        c.post("/echo", json={}, body=b"{}")


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        ("", {"Content-Type": "application/json"}, 400, "empty request body"),
        ("{", {"Content-Type": "application/json"}, 400, "invalid JSON: unexpected end of data"),
        ("[1,]", {"Content-Type": "application/json"}, 400, "invalid JSON"),
        (b"\xff\xfe{", {"Content-Type": "application/json"}, 400, "invalid JSON"),
        ("[" * 100000, {"Content-Type": "application/json"}, 400, "invalid JSON"),
        (b"\xc1", {"Content-Type": "application/msgpack"}, 400, "invalid msgpack"),
        (b"\x92\x01", {"Content-Type": "application/x-msgpack"}, 400, "invalid msgpack"),
        ("{}", {}, 415, "has no Content-Type"),
        ("", {}, 400, "empty request body"),
        ("{}", {"Content-Type": "text/plain"}, 415, "unsupported Content-Type 'text/plain'"),
        ("{}", {"Content-Type": "text/plain;application/json"}, 415, "unsupported Content-Type"),
        ("{}", {"Content-Type": "application/json; charset=latin-1"}, 415, "unsupported charset"),
    ],
)
def test_bad_bodies(body, headers, status, message):
    response = echo().post("/echo", body=body, headers=headers)
    assert response.status == status, response
    assert message in response.json()["message"]


def test_body_size_limit_refuses_before_reading():
    class Tracking(io.BytesIO):
        reads: list[int] = []

        def read(self, size=-1):
            self.reads.append(size)
            return super().read(size)

    c = echo(max_body_size=10)
    assert c.post("/echo", json="0123456").status == 200  # 9 bytes
    stream = Tracking(b'"' + b"x" * 100 + b'"')
    response = c.post(
        "/echo",
        headers={"Content-Type": "application/json", "Content-Length": "102"},
        environ={"wsgi.input": stream},
    )
    assert response.status == 413
    assert "larger than 10 bytes" in response.json()["message"]
    assert stream.reads == []
    # A huge declared length is refused the same way.
    response = c.post(
        "/echo", body=b"{}", headers={"Content-Type": "application/json", "Content-Length": "9" * 18}
    )
    assert response.status == 413


def test_default_limit_is_one_mebibyte():
    c = echo()
    assert c.put("/echo", body=b"x" * (1024 * 1024)).json()["length"] == 1024 * 1024
    assert c.put("/echo", body=b"x" * (1024 * 1024 + 1)).status == 413


def test_a_body_shorter_than_its_content_length_is_a_400():
    response = echo().post(
        "/echo", body=b"{}", headers={"Content-Type": "application/json", "Content-Length": "50"}
    )
    assert response.status == 400
    assert "ended after 2 of 50 bytes" in response.json()["message"]


def test_missing_content_length_reads_nothing_unless_the_input_is_terminated():
    c = echo(max_body_size=8)
    environ = {"wsgi.input": io.BytesIO(b"abc")}
    assert c.put("/echo", environ=environ).json() == {"raw": "", "length": None}
    chunked = {"wsgi.input": io.BytesIO(b"abc"), "wsgi.input_terminated": True}
    assert c.put("/echo", environ=chunked).json() == {"raw": "abc", "length": None}
    too_big = {"wsgi.input": io.BytesIO(b"x" * 9), "wsgi.input_terminated": True}
    assert c.put("/echo", environ=too_big).status == 413


def test_invalid_content_length_is_a_400():
    # wsgiref.validate refuses such an environ, so the router is called directly.
    router = Router()
    router.add_route("/echo", Echo)
    for value in ("abc", "-1", "1e3", "0x10", "\u0661"):  # the last is an Arabic-Indic digit one
        started: list[str] = []
        environ = {
            "REQUEST_METHOD": "PUT",
            "PATH_INFO": "/echo",
            "CONTENT_LENGTH": value,
            "wsgi.input": io.BytesIO(b"{}"),
        }
        body = b"".join(
            router(environ, lambda status, headers, exc_info=None, seen=started: seen.append(status))
        )
        assert started == ["400 Bad Request"], value
        assert b"invalid Content-Length" in body


class Query(Resource):
    def get(self, request, response, what):
        if what == "all":
            return self.success(request.params)
        if what == "typed":
            return self.success(
                {
                    "limit": request.param_int("limit", 20, minimum=1, maximum=100),
                    "ratio": request.param_float("ratio", None),
                    "flag": request.param_bool("flag", False),
                    "id": request.param_uuid("id", None),
                    "q": request.param("q", ""),
                    "tags": request.param_list("tag"),
                }
            )
        if what == "required":
            return self.success(request.param_int("page"))
        raise AssertionError(what)


def test_query_parameters():
    router = Router(max_query_length=200)
    router.add_route("/q/{what}", Query)
    c = Client(router)
    assert c.get("/q/all?a=1&a=2&b=&c=%C3%A9+x").json() == {"a": ["1", "2"], "b": [""], "c": ["é x"]}
    assert c.get("/q/all", params={"x": ["1", "2"], "y": "z"}).json() == {"x": ["1", "2"], "y": ["z"]}
    typed = c.get(
        "/q/typed",
        params=[
            *(("limit", "5"), ("ratio", "0.5"), ("flag", "yes"), ("tag", "a"), ("tag", "b")),
            *(("id", "12345678-1234-5678-1234-567812345678"), ("q", "hi")),
        ],
    )
    assert typed.json() == {
        "limit": 5,
        "ratio": 0.5,
        "flag": True,
        "id": "12345678-1234-5678-1234-567812345678",
        "q": "hi",
        "tags": ["a", "b"],
    }
    assert c.get("/q/typed").json() == {
        "limit": 20,
        "ratio": None,
        "flag": False,
        "id": None,
        "q": "",
        "tags": [],
    }
    assert c.get("/q/typed?flag").json()["flag"] is True
    assert c.get("/q/required?page=3").json() == 3

    for query, message in [
        ("limit=abc", "query parameter 'limit' must be an integer, got 'abc'"),
        ("limit=0", "must be at least 1"),
        ("limit=101", "must be at most 100"),
        ("ratio=nan", "must be a number"),
        ("flag=maybe", "must be true or false"),
        ("id=123", "must be a UUID"),
        ("x=%FF", "not valid UTF-8"),
        ("a=" + "x" * 300, "longer than 200 characters"),
    ]:
        response = c.get(f"/q/typed?{query}")
        assert response.status == (414 if "longer" in message else 400), query
        assert message in response.json()["message"], query
    response = c.get("/q/required")
    assert response.status == 400 and response.json()["message"] == "missing query parameter 'page'"
    many = Router()
    many.add_route("/q/{what}", Query)
    for query in ("&".join(["a=1"] * 1001), "&".join(["a=%31"] * 1001)):
        response = Client(many).get("/q/all?" + query)
        assert response.status == 400 and "more than 1000 fields" in response.json()["message"]
    for query in ("&".join(["a=1"] * 1000), "&".join(["a=%31"] * 1000)):
        assert Client(many).get("/q/all?" + query).json() == {"a": ["1"] * 1000}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab=&;%+2 ", max_size=16))
def test_query_parameters_are_what_the_standard_parser_reads(query):
    # Queries with nothing to decode are split by the router itself: both ways agree.
    router = Router()
    router.add_route("/q/{what}", Query)
    expected = {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, errors="strict", max_num_fields=1000)
    except UnicodeDecodeError:
        pairs = None
    response = Client(router).get("/q/all", environ={"QUERY_STRING": query})
    if pairs is None:
        assert response.status == 400
        return
    for name, value in pairs:
        expected.setdefault(name, []).append(value)
    assert response.json() == expected


class Inspect(Resource):
    def get(self, request, response):
        return self.success(
            {
                "method": request.method,
                "path": request.path,
                "query": request.query_string,
                "ua": request.header("user-agent"),
                "missing": request.header("x-missing", "default"),
                "headers": dict(request.headers),
                "cookies": request.cookies,
                "remote": request.remote_addr,
                "url": request.url,
                "route": request.route.template if request.route else None,
            }
        )


def inspect(headers=None, remote="127.0.0.1", path="/in", **options) -> dict:
    router = Router(**options)
    router.add_route("/in", Inspect)
    return Client(router, remote_addr=remote).get(path, headers=headers).json()


def test_headers_and_cookies():
    seen = inspect(
        headers={
            "User-Agent": "test/1",
            "X-Multi-Word-Header": "v",
            "Cookie": 'a=1; b="two"; a=3; junk; c=x=y',
        },
        path="/in?z=1",
    )
    assert seen["method"] == "GET" and seen["path"] == "/in" and seen["query"] == "z=1"
    assert seen["ua"] == "test/1" and seen["missing"] == "default"
    assert seen["headers"]["user-agent"] == "test/1"
    assert seen["headers"]["x-multi-word-header"] == "v"
    assert seen["cookies"] == {"a": "1", "b": "two", "c": "x=y"}
    assert seen["url"] == "http://localhost/in?z=1"
    assert seen["route"] == "/in"


@pytest.mark.parametrize(
    ("trusted", "remote", "forwarded", "expected"),
    [
        ([], "10.0.0.1", "1.2.3.4", "10.0.0.1"),  # nobody trusted: the header is ignored
        (["127.0.0.1"], "10.0.0.1", "1.2.3.4", "10.0.0.1"),  # the peer is not a trusted proxy
        (["127.0.0.1"], "127.0.0.1", "1.2.3.4", "1.2.3.4"),  # the guide's nginx on the same host
        (["127.0.0.1"], "127.0.0.1", "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # a client-forged entry is skipped
        (["127.0.0.1", "10.0.0.0/8"], "127.0.0.1", "6.6.6.6, 1.2.3.4, 10.1.1.1", "1.2.3.4"),
        (["127.0.0.1"], "127.0.0.1", "garbage, 127.0.0.1", "127.0.0.1"),
        (["127.0.0.1"], "127.0.0.1", None, "127.0.0.1"),
        (["::1"], "::1", "2001:db8::1", "2001:db8::1"),
        (["::/0"], "127.0.0.1", "1.2.3.4", "127.0.0.1"),  # an IPv6 network does not cover IPv4
    ],
)
def test_remote_addr_trusts_forwarded_for_only_from_configured_proxies(trusted, remote, forwarded, expected):
    headers = {"X-Forwarded-For": forwarded} if forwarded else None
    assert inspect(headers, remote=remote, trusted_proxies=trusted)["remote"] == expected


def test_router_settings_are_checked():
    with pytest.raises(ValueError, match="max_body_size"):
        Router(max_body_size=-1)
    with pytest.raises(ValueError, match="not an IP address"):
        Router(trusted_proxies=["nginx"])
    # A str is a comma-separated list (what a ${VAR} in the YAML file gives).
    assert len(Router(trusted_proxies="127.0.0.1, 10.0.0.0/8").options.trusted_proxies) == 2
    with pytest.raises(ValueError, match="default_format"):
        Router(default_format="xml")
    router = Router()
    router.configure(max_body_size=5)
    assert router.options.max_body_size == 5
    router.configure(trusted_proxies=["10.0.0.0/8"])
    assert router.options.max_body_size == 5 and len(router.options.trusted_proxies) == 1


def test_a_request_can_be_built_from_an_environ():
    request = Request({"REQUEST_METHOD": "GET", "PATH_INFO": "/caf\xc3\xa9", "QUERY_STRING": "a=1"})
    assert request.path == "/café"
    assert request.params == {"a": ["1"]}
    assert request.fields == {} and request.route is None
    bad = Request({"REQUEST_METHOD": "GET", "PATH_INFO": "/\xff"})
    with pytest.raises(HTTPError):
        bad.path  # noqa: B018


class Hello(Resource):
    def get(self, request, response):
        return self.success({"user": request.context.user})


def test_hooks_run_around_every_request():
    router = Router()
    router.add_route("/hello", Hello)
    calls = []

    @router.before_request
    def authenticate(request, response):
        calls.append(("before", request.route.template if request.route else None))
        if request.path == "/health":
            response.set_header("Content-Type", "text/plain")
            response.body = b"ok"
            return response
        token = request.header("authorization")
        if token != "Bearer good":
            raise HTTPError(401, "missing or bad token", {"WWW-Authenticate": "Bearer"})
        request.context.user = "alice"
        return None

    @router.after_request
    def stamp(request, response):
        calls.append(("after", response.status))
        response.set_header("X-Request-Id", "r-1")

    c = Client(router)
    ok = c.get("/hello", headers={"Authorization": "Bearer good"})
    assert ok.json() == {"user": "alice"} and ok.headers["x-request-id"] == "r-1"
    denied = c.get("/hello")
    assert denied.status == 401 and denied.headers["WWW-Authenticate"] == "Bearer"
    assert denied.headers["x-request-id"] == "r-1"
    health = c.get("/health")
    assert health.status == 200 and health.body == b"ok" and health.headers["content-type"] == "text/plain"
    missing = c.get("/nowhere", headers={"Authorization": "Bearer good"})
    assert missing.status == 404 and missing.headers["x-request-id"] == "r-1"
    assert calls == [
        ("before", "/hello"),
        ("after", 200),
        ("before", "/hello"),
        ("after", 401),
        ("before", None),
        ("after", 200),
        ("before", None),
        ("after", 404),
    ]


def test_a_failing_after_hook_is_a_500_and_an_http_error_in_it_is_rendered(caplog):
    router = Router()
    router.add_route("/hello", Hello)

    @router.before_request
    def user(request, response):
        request.context.user = "bob"

    @router.after_request
    def after(request, response):
        if request.param("fail", "") == "crash":
            raise RuntimeError("boom")
        if request.param("fail", "") == "http":
            raise HTTPError(429, "slow down")

    c = Client(router)
    assert c.get("/hello").json() == {"user": "bob"}
    assert c.get("/hello?fail=crash").status == 500
    assert "failed in an after-request hook" in caplog.text and caplog.text.count("Traceback") == 1
    assert c.get("/hello?fail=http").status == 429


def test_concurrent_requests_do_not_share_state():
    class Slow(Resource):
        def post(self, request, response, n):
            data = self.body(request)
            request.context.n = n
            response.set_header("X-N", str(n))
            return self.success({"n": n, "data": data, "ctx": request.context.n})

    router = Router()
    router.add_route("/s/{n:int}", Slow)
    c = Client(router)
    errors = []

    def worker(offset: int) -> None:
        for i in range(offset, offset + 200):
            response = c.post(f"/s/{i}", json={"i": i})
            if response.json() != {"n": i, "data": {"i": i}, "ctx": i} or response.headers["x-n"] != str(i):
                errors.append(i)

    threads = [threading.Thread(target=worker, args=(k * 1000,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_param_uuid_returns_a_uuid():
    request = Request({"REQUEST_METHOD": "GET", "QUERY_STRING": "id=12345678-1234-5678-1234-567812345678"})
    assert request.param_uuid("id") == UUID("12345678-1234-5678-1234-567812345678")
