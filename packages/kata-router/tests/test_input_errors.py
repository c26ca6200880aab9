"""Client-caused input errors are 400s: a failing input stream, a NUL byte in the query."""

from __future__ import annotations

import io

import pytest

import kata.resource
from kata.router import Router
from kata.router.testing import Client


class FailingInput(io.RawIOBase):
    """An input stream that breaks after some bytes, as a server's does on bad chunked framing."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        chunk = self._data.read(min(size, 10) if size > 0 else 10)
        if not chunk:
            raise ValueError("Invalid chunk size: 'zz'")
        return chunk


class Echo(kata.resource.Resource):
    def post(self, request, response):
        return self.success(self.body(request))


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=XyZ"],
)
def test_a_failing_input_stream_is_a_400_naming_the_error(content_type):
    router = Router()
    router.add_route("/echo", Echo)
    response = Client(router).post(
        "/echo",
        headers={"Content-Type": content_type},
        environ={
            "wsgi.input": FailingInput(b"--XyZ\r\n"),
            "CONTENT_LENGTH": "",
            "wsgi.input_terminated": True,
        },
    )
    assert response.status == 400, response
    assert (
        response.json()["message"]
        == "the request body could not be read: ValueError: Invalid chunk size: 'zz'"
    )


def test_a_failing_input_stream_with_content_length_is_a_400():
    router = Router()
    router.add_route("/echo", Echo)

    class Broken(io.RawIOBase):
        def read(self, size: int = -1) -> bytes:
            raise OSError("connection reset")

    response = Client(router).post(
        "/echo", body=b"{}", headers={"Content-Type": "application/json"}, environ={"wsgi.input": Broken()}
    )
    assert response.status == 400
    assert response.json()["message"] == "the request body could not be read: OSError: connection reset"


class Query(kata.resource.Resource):
    def get(self, request, response):
        return self.success(request.params)


@pytest.mark.parametrize("query", ["a=%00", "a=x%00y", "%00=1", "a=1&b=%00"])
def test_a_nul_byte_in_the_query_is_a_400(query):
    router = Router()
    router.add_route("/q", Query)
    response = Client(router).get(f"/q?{query}")
    assert response.status == 400
    assert response.json()["message"] == "the query string contains a NUL byte"
    assert Client(router).get("/q?a=%01").json() == {"a": ["\x01"]}
