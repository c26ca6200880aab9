"""The router under a real gunicorn, with sync and gthread workers."""

from __future__ import annotations

import http.client
import json
import socket
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kata_harness.processes import gunicorn

APP = textwrap.dedent(
    """
    import kata.router
    import kata.resource

    # The guide's order: the app first, the routes imported afterwards.
    app = kata.router.app()
    kata.router.default_router().configure(trusted_proxies=["127.0.0.1"], max_body_size=4096)


    class Bar(kata.resource.Resource):
        def get(self, request, response, baz):
            return self.success({"baz": baz, "something": "else", "client": request.remote_addr})

        def post(self, request, response, baz):
            return self.success({"baz": baz, "body": self.body(request)})


    kata.router.add_route("/foo/bar/{baz}", Bar)
    """
)


@pytest.fixture(params=["sync", "gthread"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[int]:
    (tmp_path / "guideapp.py").write_text(APP)
    worker_args = ["-k", "sync"] if request.param == "sync" else ["-k", "gthread", "--threads", "4"]
    with gunicorn(tmp_path, "guideapp:app", "--workers", "2", *worker_args) as port:
        yield port


def send(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def test_the_guide_app_under_gunicorn(server: int) -> None:
    status, headers, body = send(server, "GET", "/foo/bar/123")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"baz": "123", "something": "else", "client": "127.0.0.1"}

    status, _, body = send(server, "GET", "/foo/bar/1", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.9"})
    assert json.loads(body)["client"] == "203.0.113.9"

    status, _, body = send(
        server, "POST", "/foo/bar/9", b'{"a": [1, 2]}', {"Content-Type": "application/json"}
    )
    assert status == 200 and json.loads(body) == {"baz": "9", "body": {"a": [1, 2]}}

    status, headers, body = send(server, "HEAD", "/foo/bar/123")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0

    status, headers, _ = send(server, "OPTIONS", "/foo/bar/123")
    assert status == 204 and headers["Allow"] == "GET, HEAD, POST, OPTIONS"

    status, _, body = send(server, "GET", "/foo/bar/%FF")
    assert status == 400 and b"not valid UTF-8" in body

    status, _, body = send(server, "POST", "/foo/bar/1", b"x" * 5000, {"Content-Type": "application/json"})
    assert status == 413

    # A chunked upload has no Content-Length: gunicorn marks the input as terminated.
    chunked = b"POST /foo/bar/c HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    chunked += b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\n[1,2]\r\n0\r\n\r\n"
    reply = raw(server, chunked)
    assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b'{"baz":"c","body":[1,2]}')

    # Hostile requests the server itself refuses never reach the app, and it keeps serving.
    huge = b"GET /foo/bar/1 HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n"
    assert raw(server, huge).split(b" ", 2)[1] in (b"400", b"431")
    assert (
        raw(server, b"GET /foo/bar/1 HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n").split(b" ", 2)[1]
        == b"400"
    )
    assert send(server, "GET", "/foo/bar/still")[0] == 200


def test_concurrent_requests_get_their_own_answers(server: int) -> None:
    def one(i: int) -> bool:
        status, _, body = send(
            server,
            "POST",
            f"/foo/bar/{i}",
            json.dumps({"i": i}).encode(),
            {"Content-Type": "application/json"},
        )
        return status == 200 and json.loads(body) == {"baz": str(i), "body": {"i": i}}

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert all(pool.map(one, range(300)))
