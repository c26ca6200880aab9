"""Uploads, streamed and file responses, ranges, static files and broken framing under gunicorn."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import textwrap
from collections.abc import Iterator

import pytest

from kata_harness.processes import gunicorn

APP = textwrap.dedent(
    """
    import hashlib
    import io
    import os

    import kata.resource
    from kata.router import Router
    from kata.router.static import StaticFiles

    HERE = os.path.dirname(os.path.abspath(__file__))
    router = Router(max_upload_size=64 * 1024 * 1024, max_part_size=64 * 1024 * 1024)


    class Upload(kata.resource.Resource):
        def post(self, request, response):
            out = {}
            for name, value in self.body(request).items():
                if isinstance(value, str):
                    out[name] = value
                    continue
                digest = hashlib.sha256()
                for block in iter(lambda: value.stream.read(65536), b""):
                    digest.update(block)
                out[name] = {
                    "filename": value.filename,
                    "size": value.size,
                    "sha256": digest.hexdigest(),
                    "on_disk": not isinstance(value.stream._file, io.BytesIO),
                }
            return self.success(out)


    class Lines(kata.resource.Resource):
        def get(self, request, response, count):
            return self.stream((f"line {i}\\n".encode() for i in range(count)), content_type="text/plain")


    class Download(kata.resource.Resource):
        def get(self, request, response, name):
            return self.file(request, response, os.path.join(HERE, "files", name))


    class Echo(kata.resource.Resource):
        def post(self, request, response):
            return self.success(self.body(request))


    router.add_route("/upload", Upload)
    router.add_route("/lines/{count:int}", Lines)
    router.add_route("/files/{name}", Download)
    router.add_route("/echo", Echo)
    app = StaticFiles(os.path.join(HERE, "files"), "/static/", app=router)
    """
)

BIG = os.urandom(3 * 1024 * 1024 + 17)


@pytest.fixture(scope="module", params=["sync", "gthread"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    root = tmp_path_factory.mktemp(f"bodies-{request.param}")
    (root / "bodiesapp.py").write_text(APP)
    (root / "files").mkdir()
    (root / "files" / "big.bin").write_bytes(BIG)
    (root / "files" / "hello.txt").write_bytes(b"hello, world\n")
    worker_args = ["-k", "sync"] if request.param == "sync" else ["-k", "gthread", "--threads", "4"]
    with gunicorn(root, "bodiesapp:app", "--workers", "1", *worker_args) as port:
        yield port


def send(
    port: int,
    method: str,
    path: str,
    body: object = None,
    headers: dict[str, str] | None = None,
    chunked: bool = False,
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)  # type: ignore[arg-type]
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def raw(port: int, data: bytes, *, close_write: bool = False) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def multipart_body(boundary: str) -> bytes:
    return (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nÉté\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + BIG
        + f"\r\n--{boundary}--\r\n".encode()
    )


@pytest.mark.parametrize("chunked", [False, True])
def test_an_upload_is_spooled_to_disk_and_arrives_whole(server, chunked):
    body = multipart_body("b0undary")
    pieces = (body[i : i + 100_000] for i in range(0, len(body), 100_000))
    headers = {"Content-Type": "multipart/form-data; boundary=b0undary"}
    if not chunked:
        headers["Content-Length"] = str(len(body))
    status, _, reply = send(server, "POST", "/upload", pieces, headers, chunked=chunked)
    assert status == 200, reply
    assert json.loads(reply) == {
        "title": "Été",
        "file": {
            "filename": "big.bin",
            "size": len(BIG),
            "sha256": hashlib.sha256(BIG).hexdigest(),
            "on_disk": True,
        },
    }


def test_an_upload_over_the_limit_is_a_413(server):
    headers = {"Content-Type": "multipart/form-data; boundary=b", "Content-Length": str(65 * 1024 * 1024)}
    status, _, reply = send(server, "POST", "/upload", b"", headers)
    assert status == 413 and b"max_upload_size" in reply


def test_a_stream_goes_out_chunked(server):
    status, headers, body = send(server, "GET", "/lines/5000")
    assert status == 200
    assert headers["transfer-encoding"] == "chunked" and "content-length" not in headers
    assert body == b"".join(f"line {i}\n".encode() for i in range(5000))


def test_files_whole_in_ranges_and_revalidated(server):
    status, headers, body = send(server, "GET", "/files/big.bin")
    assert status == 200 and body == BIG and headers["content-length"] == str(len(BIG))
    assert headers["accept-ranges"] == "bytes"
    status, ranged, body = send(server, "GET", "/files/big.bin", headers={"Range": "bytes=1000000-1999999"})
    assert status == 206 and body == BIG[1000000:2000000]
    assert ranged["content-range"] == f"bytes 1000000-1999999/{len(BIG)}"
    status, _, body = send(server, "GET", "/files/big.bin", headers={"Range": "bytes=-100"})
    assert status == 206 and body == BIG[-100:]
    status, unsatisfiable, _ = send(server, "GET", "/files/big.bin", headers={"Range": f"bytes={len(BIG)}-"})
    assert status == 416 and unsatisfiable["content-range"] == f"bytes */{len(BIG)}"
    status, _, body = send(server, "GET", "/files/big.bin", headers={"If-None-Match": headers["etag"]})
    assert status == 304 and body == b""
    status, _, body = send(server, "HEAD", "/files/big.bin")
    assert status == 200 and body == b""


def test_static_files_next_to_the_app(server):
    status, headers, body = send(server, "GET", "/static/hello.txt")
    assert status == 200 and body == b"hello, world\n" and headers["content-type"] == "text/plain"
    status, _, body = send(server, "GET", "/static/big.bin", headers={"Range": "bytes=5-9"})
    assert status == 206 and body == BIG[5:10]
    assert send(server, "GET", "/static/%2e%2e/bodiesapp.py")[0] == 404
    assert send(server, "POST", "/echo", b'{"a":1}', {"Content-Type": "application/json"})[2] == b'{"a":1}'


HEAD = (
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
)


@pytest.mark.parametrize(
    ("framing", "close_write"),
    [
        (b"zz\r\n[1]\r\n0\r\n\r\n", False),  # bad chunk size
        (b"a\r\n[1,", True),  # truncated chunk: the client stops sending
        (b"3\r\n[1]XX0\r\n\r\n", False),  # missing CRLF after the chunk's data
    ],
    ids=["bad chunk size", "truncated chunk", "missing terminator"],
)
def test_broken_chunked_framing_is_a_400(server, framing, close_write):
    reply = raw(server, HEAD + framing, close_write=close_write)
    assert reply.startswith(b"HTTP/1.1 400 "), reply[:200]
    assert b"the request body could not be read" in reply
    # The worker keeps serving.
    assert send(server, "POST", "/echo", b"[2]", {"Content-Type": "application/json"})[:1] == (200,)
