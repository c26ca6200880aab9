"""Streamed bodies, file responses with Range and preconditions, and opt-in ETags."""

from __future__ import annotations

import json
import logging
import os
from email.utils import formatdate
from pathlib import Path
from typing import Any
from wsgiref.util import FileWrapper

import pytest

import kata.resource
from kata.router import Router
from kata.router.conditional import body_etag, etag
from kata.router.testing import Client

CONTENT = bytes(range(256)) * 40  # 10240 bytes
MTIME = 1_700_000_000


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.json"
    path.write_bytes(CONTENT)
    os.utime(path, (MTIME, MTIME))
    return path


class Lines:
    """An iterable with close(), as a cursor or a generator over one would be."""

    closed: list[bool] = []

    def __iter__(self):
        return iter([f"line {i}\n".encode() for i in range(3)])

    def close(self):
        Lines.closed.append(True)


class Chunks(kata.resource.Resource):
    def get(self, request, response):
        return self.stream(Lines(), content_type="text/plain")


class Download(kata.resource.Resource):
    path = ""

    def get(self, request, response, name):
        if name == "object":
            return self.file(request, response, open(Download.path, "rb"), content_type="text/csv")
        return self.file(request, response, os.path.join(os.path.dirname(Download.path), name))


@pytest.fixture
def client(data_file: Path) -> Client:
    Download.path = str(data_file)
    router = Router()
    router.add_route("/chunks", Chunks)
    router.add_route("/files/{name}", Download)
    return Client(router)


ETAG = f'"{MTIME:x}-{len(CONTENT):x}"'
LAST_MODIFIED = formatdate(MTIME, usegmt=True)


def test_an_iterable_of_bytes_is_streamed_without_content_length(client):
    Lines.closed.clear()
    response = client.get("/chunks")
    assert response.status == 200
    assert response.body == b"line 0\nline 1\nline 2\n"
    assert response.content_type == "text/plain"
    assert "content-length" not in response.headers
    assert Lines.closed == [True]


def test_head_on_a_stream_sends_headers_and_closes_it(client):
    Lines.closed.clear()
    response = client.head("/chunks")
    assert response.status == 200 and response.body == b""
    assert Lines.closed == [True]


@pytest.mark.parametrize("wrapper", [None, FileWrapper])
def test_a_file_is_sent_whole_with_validators(client, wrapper):
    environ = {"wsgi.file_wrapper": wrapper} if wrapper else None
    response = client.get("/files/data.json", environ=environ)
    assert response.status == 200
    assert response.body == CONTENT
    assert response.headers["content-length"] == str(len(CONTENT))
    assert response.content_type == "application/json"  # nginx's type for .json
    assert response.headers["etag"] == ETAG
    assert response.headers["last-modified"] == LAST_MODIFIED
    assert response.headers["accept-ranges"] == "bytes"


def test_the_file_wrapper_is_used_when_the_server_has_one(client):
    used = []

    def wrapper(file, block):
        used.append(block)
        return FileWrapper(file, block)

    assert client.get("/files/data.json", environ={"wsgi.file_wrapper": wrapper}).body == CONTENT
    assert used == [64 * 1024]
    # A range is read by the router itself: a server's wrapper would send to the end.
    assert (
        client.get(
            "/files/data.json", headers={"Range": "bytes=1-2"}, environ={"wsgi.file_wrapper": wrapper}
        ).body
        == CONTENT[1:3]
    )
    assert used == [64 * 1024]


def test_a_file_object_and_an_explicit_type(client):
    response = client.get("/files/object", headers={"Range": "bytes=-5"})
    assert response.status == 206 and response.body == CONTENT[-5:]
    assert response.content_type == "text/csv"


def test_a_missing_file_is_a_404(client):
    assert client.get("/files/nothing.txt").status == 404


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=100-199", 100, 199),
        ("bytes=10000-", 10000, 10239),
        ("bytes=10000-99999", 10000, 10239),
        ("bytes=-240", 10000, 10239),
        ("bytes=-99999", 0, 10239),
    ],
)
def test_one_range_is_a_206(client, header, first, last):
    response = client.get("/files/data.json", headers={"Range": header})
    assert response.status == 206, response
    assert response.body == CONTENT[first : last + 1]
    assert response.headers["content-range"] == f"bytes {first}-{last}/{len(CONTENT)}"
    assert response.headers["content-length"] == str(last - first + 1)
    assert response.headers["etag"] == ETAG


@pytest.mark.parametrize("header", ["bytes=10240-", "bytes=20000-20001", "bytes=-0"])
def test_an_unsatisfiable_range_is_a_416(client, header):
    response = client.get("/files/data.json", headers={"Range": header})
    assert response.status == 416
    assert response.headers["content-range"] == f"bytes */{len(CONTENT)}"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-1", "bytes=5-1", "bytes=x-y"])
def test_several_ranges_or_a_malformed_range_get_the_whole_file(client, header):
    response = client.get("/files/data.json", headers={"Range": header})
    assert response.status == 200 and response.body == CONTENT


@pytest.mark.parametrize(
    ("if_range", "status"),
    [(ETAG, 206), ('"other"', 200), (LAST_MODIFIED, 206), (formatdate(MTIME - 1, usegmt=True), 200)],
)
def test_if_range_applies_the_range_only_to_the_same_version(client, if_range, status):
    response = client.get("/files/data.json", headers={"Range": "bytes=0-9", "If-Range": if_range})
    assert response.status == status
    assert response.body == (CONTENT[:10] if status == 206 else CONTENT)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"If-None-Match": ETAG}, 304),
        ({"If-None-Match": f'"x", W/{ETAG}'}, 304),  # weak comparison
        ({"If-None-Match": "*"}, 304),
        ({"If-None-Match": '"x"'}, 200),
        ({"If-Modified-Since": LAST_MODIFIED}, 304),
        ({"If-Modified-Since": formatdate(MTIME + 60, usegmt=True)}, 304),
        ({"If-Modified-Since": formatdate(MTIME - 60, usegmt=True)}, 200),
        ({"If-Modified-Since": "not a date"}, 200),
        # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2), either way round.
        ({"If-None-Match": '"x"', "If-Modified-Since": LAST_MODIFIED}, 200),
        ({"If-None-Match": ETAG, "If-Modified-Since": formatdate(MTIME - 60, usegmt=True)}, 304),
        ({"If-Match": ETAG}, 200),
        ({"If-Match": '"x"'}, 412),
        ({"If-Match": f"W/{ETAG}"}, 412),  # strong comparison
        ({"If-Unmodified-Since": formatdate(MTIME - 60, usegmt=True)}, 412),
        ({"If-Unmodified-Since": LAST_MODIFIED}, 200),
        # If-Match is evaluated before If-None-Match, and replaces If-Unmodified-Since.
        ({"If-Match": '"x"', "If-None-Match": ETAG}, 412),
        ({"If-Match": ETAG, "If-Unmodified-Since": formatdate(MTIME - 60, usegmt=True)}, 200),
        # A 304 takes precedence over a Range.
        ({"If-None-Match": ETAG, "Range": "bytes=0-1"}, 304),
    ],
)
def test_preconditions_in_rfc_9110_order(client, headers, status):
    response = client.get("/files/data.json", headers=headers)
    assert response.status == status, response
    if status == 304:
        assert response.body == b"" and "content-type" not in response.headers
        assert response.headers["etag"] == ETAG and response.headers["last-modified"] == LAST_MODIFIED
    if status == 200:
        assert response.body == CONTENT


class Page(kata.resource.Resource):
    def get(self, request, response, n):
        return self.success({"n": n})

    def post(self, request, response, n):
        return self.success({"posted": n})


def etag_client() -> Client:
    router = Router()
    router.add_route("/pages/{n:int}", Page)
    router.after_request(etag)
    return Client(router)


def test_opt_in_etags_from_the_body_and_304s():
    client = etag_client()
    first = client.get("/pages/1")
    tag = first.headers["etag"]
    assert tag == body_etag(b'{"n":1}')
    again = client.get("/pages/1", headers={"If-None-Match": tag})
    assert again.status == 304 and again.body == b"" and again.headers["etag"] == tag
    assert client.get("/pages/1", headers={"If-None-Match": f'"other", W/{tag}'}).status == 304
    changed = client.get("/pages/2", headers={"If-None-Match": tag})
    assert changed.status == 200 and changed.json() == {"n": 2} and changed.headers["etag"] != tag
    assert client.head("/pages/1", headers={"If-None-Match": tag}).status == 304
    # Unsafe methods and errors carry no body-derived tag.
    posted = client.post("/pages/1", json={}, headers={"If-None-Match": "*"})
    assert posted.status == 200 and "etag" not in posted.headers
    assert "etag" not in client.get("/pages/x").headers


def test_without_the_hook_no_etag():
    router = Router()
    router.add_route("/pages/{n:int}", Page)
    response = Client(router).get("/pages/1", headers={"If-None-Match": "*"})
    assert response.status == 200 and "etag" not in response.headers


class Bad(kata.resource.Resource):
    def get(self, request, response):
        result = self.stream([b"x"])
        return result._replace(status=204)


def test_a_stream_with_a_bodiless_status_is_a_500(caplog: Any):
    router = Router()
    router.add_route("/bad", Bad)
    response = Client(router).get("/bad")
    assert response.status == 500
    assert "cannot send status 204 with a body of type Stream" in caplog.text


def test_streamed_responses_are_observed_and_logged(data_file, caplog):
    Download.path = str(data_file)
    seen = []
    router = Router(access_log="json")
    router.add_route("/chunks", Chunks)
    router.add_route("/files/{name}", Download)
    router.add_observer(
        lambda request, response, seconds: seen.append((request.route.template, response.status))
    )
    client = Client(router)
    with caplog.at_level(logging.INFO, "kata.access"):
        streamed = client.get("/chunks")
        ranged = client.get("/files/data.json", headers={"Range": "bytes=0-9"})
    assert seen == [("/chunks", 200), ("/files/{name}", 206)]
    lines = [json.loads(record.getMessage()) for record in caplog.records if record.name == "kata.access"]
    assert [(line["status"], line["bytes"]) for line in lines] == [(200, 0), (206, 10)]
    assert streamed.headers["x-request-id"] == lines[0]["request_id"]
    assert ranged.headers["x-request-id"] == lines[1]["request_id"]
