"""Formats, the value rules, methods, errors, response headers, cookies and redirects."""

from __future__ import annotations

import logging
from datetime import date, datetime, timezone
from decimal import Decimal
from http import HTTPStatus
from uuid import UUID

import msgpack
import pytest

from kata.resource import Resource
from kata.router import HTTPError, Router
from kata.router.testing import Client


class Model:
    """Stands in for a kata.db model: anything with to_dict()."""

    def __init__(self, id: int) -> None:
        self.id = id

    def to_dict(self) -> dict:
        return {"id": self.id, "created": datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc)}


VALUES = {
    "when": datetime(2024, 1, 2, 3, 4, 5),
    "day": date(2024, 1, 2),
    "price": Decimal("10.50"),
    "id": UUID("12345678-1234-5678-1234-567812345678"),
    "model": Model(7),
    "models": [Model(1), Model(2)],
    "text": "naïve ✓",
}
WIRE = {
    "when": "2024-01-02T03:04:05",
    "day": "2024-01-02",
    "price": "10.50",
    "id": "12345678-1234-5678-1234-567812345678",
    "model": {"id": 7, "created": "2024-05-01T12:30:00+00:00"},
    "models": [
        {"id": 1, "created": "2024-05-01T12:30:00+00:00"},
        {"id": 2, "created": "2024-05-01T12:30:00+00:00"},
    ],
    "text": "naïve ✓",
}


class Values(Resource):
    def get(self, request, response):
        return self.success(VALUES)

    def post(self, request, response):
        return self.success(self.body(request), status=201)


class Page(Resource):
    def get(self, request, response, name):
        return self.success(f"<p>hello {name}</p>")


class Failing(Resource):
    def get(self, request, response, how):
        if how == "http":
            raise HTTPError(409, "already taken: <b>x</b>", {"Retry-After": "5"})
        if how == "return":
            return self.error(422, "bad value")
        if how == "crash":
            raise RuntimeError("secret database password is hunter2")
        if how == "unserializable":
            return self.success({"x": object()})
        if how == "wrong-return":
            return {"not": "a result"}
        if how == "bad-status":
            response.status = 999
            return None
        if how == "str-body":
            response.body = "text"
            return None
        return self.success("ok")


def client(*routes) -> Client:
    router = Router()
    for template, cls, format in routes:
        router.add_route(template, cls, format=format)
    return Client(router)


def test_json_follows_the_value_rules():
    response = client(("/v", Values, "json")).get("/v")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert int(response.headers["Content-Length"]) == len(response.body)
    assert response.json() == WIRE


def test_msgpack_follows_the_value_rules_and_carries_bytes():
    class Binary(Resource):
        def get(self, request, response):
            return self.success({**VALUES, "raw": b"\x00\xff"})

    response = client(("/v", Binary, "msgpack")).get("/v")
    assert response.headers["content-type"] == "application/msgpack"
    assert int(response.headers["content-length"]) == len(response.body)
    assert response.msgpack() == {**WIRE, "raw": b"\x00\xff"}


def test_html_sends_a_str_as_utf8():
    response = client(("/p/{name}", Page, "html")).get("/p/z%C3%BCrich")
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.text == "<p>hello zürich</p>"
    assert int(response.headers["Content-Length"]) == len(response.body)


def test_html_with_a_non_str_is_a_500_naming_the_type(caplog):
    class NotText(Resource):
        def get(self, request, response):
            return self.success({"a": 1})

    with caplog.at_level(logging.ERROR, logger="kata.router"):
        response = client(("/p", NotText, "html")).get("/p")
    assert response.status == 500
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "format='html' sends a str, not dict" in caplog.text


def test_success_with_a_status_and_the_post_echo():
    response = client(("/v", Values, "json")).post("/v", json={"a": [1, 2.5, None, True]})
    assert response.status == 201
    assert response.json() == {"a": [1, 2.5, None, True]}


def test_head_is_get_without_the_body():
    c = client(("/v", Values, "json"))
    get, head = c.get("/v"), c.head("/v")
    assert head.status == 200
    assert head.body == b""
    assert head.headers["Content-Length"] == get.headers["Content-Length"]
    assert head.headers["Content-Type"] == "application/json"


@pytest.mark.filterwarnings("ignore:Unknown REQUEST_METHOD")
def test_options_lists_the_methods_and_other_methods_are_405():
    c = client(("/v", Values, "json"))
    options = c.options("/v")
    assert options.status == 204
    assert options.headers["Allow"] == "GET, HEAD, POST, OPTIONS"
    assert options.body == b"" and "content-type" not in options.headers
    for method in ("PUT", "PATCH", "DELETE", "TRACE", "FOO", "get"):
        response = c.request(method, "/v")
        assert response.status == 405, method
        assert response.headers["Allow"] == "GET, HEAD, POST, OPTIONS"
        assert response.json()["error"] == "Method Not Allowed"


def test_a_resource_without_get_answers_head_with_405():
    class PostOnly(Resource):
        def post(self, request, response):
            return self.success(1)

    c = client(("/p", PostOnly, "json"))
    response = c.head("/p")
    assert response.status == 405 and response.body == b""
    assert response.headers["Allow"] == "POST, OPTIONS"


@pytest.mark.parametrize("format", ["json", "msgpack", "html"])
def test_errors_are_rendered_in_the_route_format(format):
    c = client(("/f/{how}", Failing, format))
    raised = c.get("/f/http")
    assert raised.status == 409
    assert raised.headers["Retry-After"] == "5"
    returned = c.get("/f/return")
    assert returned.status == 422
    missing = c.delete("/f/http")
    assert missing.status == 405
    if format == "json":
        assert raised.json() == {"status": 409, "error": "Conflict", "message": "already taken: <b>x</b>"}
        # The phrase is the interpreter's: Python 3.13 follows RFC 9110's "Unprocessable Content".
        assert returned.json() == {"status": 422, "error": HTTPStatus(422).phrase, "message": "bad value"}
    elif format == "msgpack":
        assert msgpack.unpackb(raised.body) == {
            "status": 409,
            "error": "Conflict",
            "message": "already taken: <b>x</b>",
        }
        assert raised.headers["content-type"] == "application/msgpack"
    else:
        assert raised.headers["content-type"] == "text/html; charset=utf-8"
        assert "<h1>409 Conflict</h1>" in raised.text
        assert "already taken: &lt;b&gt;x&lt;/b&gt;" in raised.text


@pytest.mark.parametrize("how", ["crash", "unserializable", "wrong-return", "bad-status", "str-body"])
@pytest.mark.parametrize("format", ["json", "msgpack", "html"])
def test_unhandled_exceptions_are_a_logged_500_without_details(how, format, caplog):
    c = client(("/f/{how}", Failing, format))
    with caplog.at_level(logging.ERROR, logger="kata.router"):
        response = c.get(f"/f/{how}")
    assert response.status == 500
    assert b"hunter2" not in response.body and b"Traceback" not in response.body
    if format == "json":
        assert response.json() == {
            "status": 500,
            "error": "Internal Server Error",
            "message": "internal server error",
        }
    record = caplog.records[-1]
    assert record.name == "kata.router"
    if how == "crash":
        assert record.exc_info is not None and "hunter2" in caplog.text
        assert f"GET /f/{how} failed" in record.getMessage()
    # The app keeps serving.
    assert c.get("/f/ok").status == 200


def test_http_error_checks_its_status():
    with pytest.raises(ValueError, match="400 to 599"):
        HTTPError(302, "no")
    assert str(HTTPError(404, "gone")) == "404 Not Found: gone"
    with pytest.raises(ValueError):
        Resource().error(200, "fine")


def test_unknown_route_uses_the_router_default_format():
    router = Router(default_format="html")
    response = Client(router).get("/missing/<script>")
    assert response.status == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "&lt;script&gt;" in response.text and "<script>" not in response.text


class Custom(Resource):
    def get(self, request, response, what):
        if what == "headers":
            response.set_header("X-One", "1")
            response.set_header("x-one", "2")
            response.add_header("Link", "</a>; rel=a")
            response.add_header("Link", "</b>; rel=b")
            return self.success({"ok": True}, status=202)
        if what == "raw":
            response.status = 200
            response.set_header("Content-Type", "text/plain; charset=utf-8")
            response.body = b"plain text"
            return None
        if what == "empty":
            response.status = 204
            return response
        if what == "cookies":
            response.set_cookie("session", "abc123", max_age=3600, secure=True)
            response.set_cookie("pref", "dark", httponly=False, samesite="Strict", path="/app")
            response.delete_cookie("old")
            return self.success({})
        if what == "redirect":
            response.redirect("/elsewhere/ü?x=1")
            return None
        if what == "see-other":
            response.redirect("https://example.com/done", status=303)
            return response
        raise AssertionError(what)


def test_response_headers_status_and_raw_bodies():
    c = client(("/c/{what}", Custom, "json"))
    r = c.get("/c/headers")
    assert r.status == 202
    assert r.headers.get_all("x-one") == ["2"]
    assert r.headers.get_all("link") == ["</a>; rel=a", "</b>; rel=b"]
    raw = c.get("/c/raw")
    assert raw.body == b"plain text"
    assert raw.headers["content-type"] == "text/plain; charset=utf-8"
    assert raw.headers["content-length"] == "10"
    empty = c.get("/c/empty")
    assert empty.status == 204 and empty.body == b""
    assert "content-type" not in empty.headers and "content-length" not in empty.headers


def test_cookies():
    r = client(("/c/{what}", Custom, "json")).get("/c/cookies")
    cookies = r.headers.get_all("set-cookie")
    assert cookies[0] == "session=abc123; Max-Age=3600; Path=/; Secure; HttpOnly; SameSite=Lax"
    assert cookies[1] == "pref=dark; Path=/app; SameSite=Strict"
    assert cookies[2].startswith("old=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/")
    assert r.cookies == {"session": "abc123", "pref": "dark", "old": ""}


def test_redirects():
    c = client(("/c/{what}", Custom, "json"))
    r = c.get("/c/redirect")
    assert r.status == 302
    assert r.headers["Location"] == "/elsewhere/%C3%BC?x=1"
    assert r.body == b""
    r = c.get("/c/see-other")
    assert r.status == 303 and r.headers["location"] == "https://example.com/done"


def test_the_response_refuses_unsafe_headers_and_cookies():
    from kata.router import Response

    response = Response()
    for name, value in [
        ("X-Bad", "a\r\nSet-Cookie: evil=1"),
        ("X Bad", "1"),
        ("Content-Length", "10"),
        ("Connection", "close"),
        ("Transfer-Encoding", "chunked"),
        ("X-Emoji", "☃"),
    ]:
        with pytest.raises(ValueError):
            response.set_header(name, value)
    for value in ["a b", "a;b", 'a"b', "ü"]:
        with pytest.raises(ValueError):
            response.set_cookie("n", value)
    with pytest.raises(ValueError):
        response.set_cookie("bad name", "v")
    with pytest.raises(ValueError):
        response.set_cookie("n", "v", samesite="lax")
    with pytest.raises(ValueError):
        response.set_cookie("n", "v", expires=datetime(2030, 1, 1))
    with pytest.raises(ValueError):
        response.redirect("/x", status=200)
    assert response.headers == []
    response.set_header("X-A", "1")
    assert response.get_header("x-a") == "1"
    response.delete_header("X-A")
    assert response.get_header("x-a") is None


def test_an_http_error_with_a_bad_header_is_a_500(caplog):
    class BadHeader(Resource):
        def get(self, request, response):
            raise HTTPError(400, "x", {"X-Bad": "a\nb"})

    with caplog.at_level(logging.ERROR, logger="kata.router"):
        response = client(("/b", BadHeader, "json")).get("/b")
    assert response.status == 500
    assert "invalid header" in caplog.text


def test_one_class_on_two_routes_with_different_formats():
    router = Router()
    router.add_route("/v.json", Values)
    router.add_route("/v.msgpack", Values, format="msgpack")
    c = Client(router)
    assert c.get("/v.json").json() == WIRE
    assert c.get("/v.msgpack").msgpack() == WIRE
