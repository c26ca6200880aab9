"""allowed_hosts (patterns as Django's ALLOWED_HOSTS), the host in request.url, response header checks."""

from __future__ import annotations

import logging

import pytest

from kata.resource import Resource
from kata.router import Result, Router
from kata.router.testing import Client


class Where(Resource):
    def get(self, request, response):
        return self.success({"host": request.host, "url": request.url})


def client(**settings) -> Client:
    router = Router(**settings)
    router.add_route("/where", Where)
    return Client(router)


@pytest.mark.parametrize(
    ("patterns", "host", "status"),
    [
        (["example.com"], "example.com", 200),
        (["example.com"], "EXAMPLE.com:8443", 200),  # case and port do not matter
        (["example.com"], "example.com.", 200),  # the fully qualified form, final dot
        (["example.com"], "www.example.com", 400),
        (["example.com"], "example.com.evil.net", 400),
        (["example.com"], "evil.net", 400),
        ([".example.org"], "example.org", 200),
        ([".example.org"], "a.b.example.org:80", 200),
        ([".example.org"], "badexample.org", 400),
        (["*"], "anything.test", 200),
        (["*"], "bad host", 400),  # not a host at all, even with '*'
        (["example.com"], "example.com@evil.net", 400),
        (["example.com"], "example.com/x", 400),
        (["[::1]"], "[::1]:8000", 200),
        (["127.0.0.1"], "127.0.0.1:8000", 200),
    ],
)
def test_allowed_hosts_patterns(patterns, host, status):
    response = client(allowed_hosts=patterns).get("/where", headers={"Host": host})
    assert response.status == status, response
    if status == 400:
        assert response.json()["message"] == "the Host header names a host this application does not serve"


def test_without_allowed_hosts_every_host_is_served():
    assert client().get("/where", headers={"Host": "whatever.test"}).status == 200


def test_the_check_runs_before_routing_errors_and_hooks():
    c = client(allowed_hosts=["example.com"])
    assert c.get("/missing", headers={"Host": "evil.net"}).status == 400
    assert c.get("/missing", headers={"Host": "example.com"}).status == 404


def test_without_a_host_header_the_server_name_is_checked():
    c = client(allowed_hosts=["localhost"])
    assert c.get("/where", environ={"HTTP_HOST": ""}).status == 200
    c = client(allowed_hosts=["example.com"])
    assert c.get("/where", environ={"HTTP_HOST": ""}).status == 400


def test_configure_sets_allowed_hosts():
    router = Router()
    router.add_route("/where", Where)
    router.configure(allowed_hosts=["example.com"])
    assert Client(router).get("/where", headers={"Host": "evil.net"}).status == 400
    router.configure(allowed_hosts=[])
    assert Client(router).get("/where", headers={"Host": "evil.net"}).status == 200


def test_request_url_uses_only_a_valid_host():
    c = client()
    good = c.get("/where?x=1", headers={"Host": "example.com:8080"}).json()
    assert good == {"host": "example.com:8080", "url": "http://example.com:8080/where?x=1"}
    # A Host that is not a host name falls back to the server's name.
    for forged in ["evil.net/phish?", "user@evil.net", "a b", "example.com\x00"]:
        body = c.get("/where", headers={"Host": forged}).json()
        assert body == {"host": "localhost", "url": "http://localhost/where"}, forged


class Typed(Resource):
    def get(self, request, response, how):
        if how == "attribute":
            response.content_type = "text/plain\r\nX-Injected: 1"
            response.body = b"hi"
            return None
        if how == "result":
            return Result(200, b"hi", "text/plain\nX-Injected: 1")
        response.content_type = "text/plain; charset=utf-8"
        response.body = b"hi"
        return None


@pytest.mark.parametrize("how", ["attribute", "result"])
def test_a_content_type_with_control_characters_is_never_sent(how, caplog):
    router = Router()
    router.add_route("/typed/{how}", Typed)
    with caplog.at_level(logging.ERROR, "kata.router"):
        response = Client(router).get(f"/typed/{how}")
    assert response.status == 500
    assert "X-Injected" not in response.headers and response.content_type == "application/json"
    assert "header 'Content-Type': the value contains a control character" in caplog.text


def test_a_valid_custom_content_type_is_sent():
    router = Router()
    router.add_route("/typed/{how}", Typed)
    response = Client(router).get("/typed/plain")
    assert (response.status, response.content_type, response.body) == (
        200,
        "text/plain; charset=utf-8",
        b"hi",
    )


class Item(Resource):
    def get(self, request, response, id):
        return self.success({"id": id})


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/items/9223372036854775807", 200),
        ("/items/-9223372036854775808", 200),
        ("/items/9223372036854775808", 404),
        ("/items/-9223372036854775809", 404),
        ("/items/99999999999999999999999", 404),
    ],
)
def test_int_fields_are_signed_64_bit(path, status):
    router = Router()
    router.add_route("/items/{id:int}", Item)
    response = Client(router).get(path)
    assert response.status == status
    if status == 200:
        assert response.json() == {"id": int(path.rsplit("/", 1)[1])}


def test_results_and_after_hooks_cannot_carry_a_bad_content_type():
    with pytest.raises(ValueError, match="control character"):
        Result(200, b"", "text/html\r\nSet-Cookie: a=b")
    router = Router()
    router.add_route("/typed/{how}", Typed)

    @router.after_request
    def retype(request, response):
        response.content_type = "text/plain\rX: 1"

    response = Client(router).get("/typed/plain")
    assert response.status == 500 and "X" not in response.headers
