"""Hostile and broken requests: each gets the right 4xx, never a 5xx, and the app keeps serving."""

from __future__ import annotations

import io
import json

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kata.resource import Resource
from kata.router import Router
from kata.router.testing import Client


class Bar(Resource):
    def get(self, request, response, baz):
        limit = request.param_int("limit", 10)
        return self.success({"baz": baz, "something": "else", "limit": limit, "cookies": request.cookies})

    def post(self, request, response, baz):
        data = self.body(request)
        return self.success({"baz": baz, "type": type(data).__name__})


class Item(Resource):
    def get(self, request, response, id):
        return self.success({"id": id})

    def put(self, request, response, id):
        return self.success({"id": id, "body": repr(self.body(request))[:50]})


class Raw(Resource):
    def post(self, request, response):
        return self.success(len(request.body))


def make_router() -> Router:
    router = Router(max_body_size=1024)
    router.add_route("/foo/bar/{baz}", Bar)
    router.add_route("/items/{id:int}", Item)
    router.add_route("/raw", Raw)
    return router


JSON = {"Content-Type": "application/json"}
MSGPACK = {"Content-Type": "application/msgpack"}

# (description, method, path, keyword arguments for Client.request, expected status)
CASES = [
    ("malformed JSON", "POST", "/foo/bar/1", {"body": b'{"a": ', "headers": JSON}, 400),
    ("JSON with trailing garbage", "POST", "/foo/bar/1", {"body": b"{} {}", "headers": JSON}, 400),
    ("JSON that is not UTF-8", "POST", "/foo/bar/1", {"body": b'{"a": "\xff"}', "headers": JSON}, 400),
    ("JSON nested 1020 deep", "POST", "/foo/bar/1", {"body": b"[" * 1020, "headers": JSON}, 400),
    ("single quotes are not JSON", "POST", "/foo/bar/1", {"body": b"{'a': 1}", "headers": JSON}, 400),
    ("empty JSON body", "POST", "/foo/bar/1", {"body": b"", "headers": JSON}, 400),
    ("malformed msgpack", "POST", "/foo/bar/1", {"body": b"\xc1\xc1", "headers": MSGPACK}, 400),
    (
        "truncated msgpack",
        "POST",
        "/foo/bar/1",
        {"body": msgpack.packb({"a": "x" * 50})[:10], "headers": MSGPACK},
        400,
    ),
    ("msgpack with extra data", "POST", "/foo/bar/1", {"body": b"\x01\x02", "headers": MSGPACK}, 400),
    ("msgpack sent as JSON", "POST", "/foo/bar/1", {"body": msgpack.packb({"a": 1}), "headers": JSON}, 400),
    ("JSON sent as msgpack", "POST", "/foo/bar/1", {"body": b'{"a": 1}', "headers": MSGPACK}, 400),
    ("no Content-Type", "POST", "/foo/bar/1", {"body": b'{"a": 1}'}, 415),
    (
        "text/plain",
        "POST",
        "/foo/bar/1",
        {"body": b'{"a": 1}', "headers": {"Content-Type": "text/plain"}},
        415,
    ),
    (
        "multipart form without a boundary",
        "PUT",
        "/items/1",
        {"body": b"a=1", "headers": {"Content-Type": "multipart/form-data"}},
        400,
    ),
    (
        "CSRF-style type",
        "POST",
        "/foo/bar/1",
        {"body": b"{}", "headers": {"Content-Type": "text/plain; application/json"}},
        415,
    ),
    (
        "wrong charset",
        "POST",
        "/foo/bar/1",
        {"body": b"{}", "headers": {"Content-Type": "application/json; charset=utf-16"}},
        415,
    ),
    (
        "huge Content-Type",
        "POST",
        "/foo/bar/1",
        {"body": b"{}", "headers": {"Content-Type": "x/" + "y" * 100000}},
        415,
    ),
    ("oversize body", "POST", "/raw", {"body": b"x" * 1025}, 413),
    (
        "lying Content-Length, too big",
        "POST",
        "/raw",
        {"body": b"x", "headers": {"Content-Length": "1000000"}},
        413,
    ),
    (
        "lying Content-Length, too short body",
        "POST",
        "/raw",
        {"body": b"x", "headers": {"Content-Length": "100"}},
        400,
    ),
    ("huge Content-Length", "POST", "/raw", {"body": b"x", "headers": {"Content-Length": "9" * 30}}, 400),
    ("percent-encoded invalid UTF-8 path", "GET", "/foo/bar/%FF%FE", {}, 400),
    ("overlong UTF-8 slash in path", "GET", "/foo/bar/%C0%AF", {}, 400),
    ("encoded NUL in a literal segment", "GET", "/foo/bar%00/1", {}, 400),
    ("encoded NUL in a str field", "GET", "/foo/bar/a%00b", {}, 400),
    ("encoded NUL in a query value", "GET", "/foo/bar/1?limit=1&x=%00", {}, 400),
    ("int field beyond 64 bits", "GET", "/items/9223372036854775808", {}, 404),
    ("int field below 64 bits", "GET", "/items/-9223372036854775809", {}, 404),
    ("dot segments", "GET", "/foo/bar/../../items/1", {}, 404),
    ("int field not an int", "GET", "/items/1%2E5", {}, 404),
    ("int field too long", "GET", "/items/" + "1" * 5000, {}, 404),
    ("unknown path", "GET", "/nope", {}, 404),
    ("very long path", "GET", "/" + "a/" * 5000 + "b", {}, 404),
    ("unknown method", "BREW", "/foo/bar/1", {}, 405),
    ("lower-case method", "get", "/foo/bar/1", {}, 405),
    ("method the route lacks", "DELETE", "/items/1", {}, 405),
    ("TRACE", "TRACE", "/items/1", {}, 405),
    ("bad typed query value", "GET", "/foo/bar/1?limit=ten", {}, 400),
    ("query string not UTF-8", "GET", "/foo/bar/1?limit=%FF", {}, 400),
    ("huge query string", "GET", "/foo/bar/1?limit=1&x=" + "a" * 20000, {}, 414),
    ("too many query fields", "GET", "/foo/bar/1?" + "&".join(["a=1"] * 2000), {}, 400),
    ("huge header the app does not read", "GET", "/items/1", {"headers": {"X-Big": "x" * 100000}}, 200),
    ("huge cookie header", "GET", "/foo/bar/1", {"headers": {"Cookie": "a=" + "b" * 100000}}, 200),
]


def test_the_table_has_at_least_25_bad_requests():
    assert sum(1 for case in CASES if 400 <= case[4] < 500) >= 25


@pytest.mark.filterwarnings("ignore:Unknown REQUEST_METHOD")
@pytest.mark.parametrize(
    ("description", "method", "path", "kwargs", "status"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_request(description, method, path, kwargs, status):
    client = Client(make_router())
    response = client.request(method, path, **kwargs)
    assert response.status == status, (description, response)
    if status >= 400 and method != "HEAD":
        body = response.json()
        assert body["status"] == status and body["message"]
    # The same app keeps serving.
    assert client.get("/foo/bar/ok").json()["baz"] == "ok"


def test_chunked_body_over_the_limit_is_a_413_and_the_app_keeps_serving():
    client = Client(make_router())
    environ = {"wsgi.input": io.BytesIO(b"x" * 5000), "wsgi.input_terminated": True}
    assert client.post("/raw", environ=environ).status == 413
    assert client.get("/items/7").json() == {"id": 7}


ROUTER = make_router()
CLIENT = Client(ROUTER)
METHODS = st.sampled_from(
    ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "BREW", "get"]
)
SEGMENTS = st.one_of(
    st.sampled_from(
        ["foo", "bar", "items", "raw", "1", "-1", "%FF", "%C3%A9", "%00", "..", "", "%2F", "1e5"]
    ),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="?#"), max_size=12).map(
        lambda text: "".join(ch if ch.isalnum() else f"%{ord(ch) % 256:02X}" for ch in text)
    ),
)
PATHS = st.lists(SEGMENTS, max_size=6).map(lambda parts: "/" + "/".join(parts))
QUERIES = st.one_of(
    st.just(""), st.sampled_from(["limit=5", "limit=x", "limit=%FF", "limit", "a=1&a=2", "%zz=1"])
)
CONTENT_TYPES = st.sampled_from(
    [
        None,
        "application/json",
        "application/msgpack",
        "application/x-msgpack",
        "text/plain",
        "application/json; charset=latin-1",
        "",
    ]
)
BODIES = st.one_of(
    st.binary(max_size=2000),
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=20)),
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
        ),
        max_leaves=20,
    ).map(lambda value: json.dumps(value).encode()),
)


@pytest.mark.filterwarnings("ignore:Unknown REQUEST_METHOD")
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(method=METHODS, path=PATHS, query=QUERIES, content_type=CONTENT_TYPES, body=BODIES)
def test_random_requests_never_get_a_5xx(method, path, query, content_type, body):
    headers = {"Content-Type": content_type} if content_type is not None else None
    response = CLIENT.request(method, f"{path}?{query}" if query else path, headers=headers, body=body)
    assert response.status < 500, response
