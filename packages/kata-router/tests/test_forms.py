"""HTML form bodies through Resource.body: urlencoded and multipart, files, limits, cookies."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest

import kata.resource
from kata.router import Router
from kata.router.forms import SPOOL_SIZE, UploadedFile
from kata.router.testing import Client


def describe(value: Any) -> Any:
    """What a handler can see of a form value, as JSON."""
    if isinstance(value, list):
        return [describe(item) for item in value]
    if isinstance(value, UploadedFile):
        data = value.read()
        return {
            "filename": value.filename,
            "content_type": value.content_type,
            "size": value.size,
            "sha256": hashlib.sha256(data).hexdigest(),
            "spooled": value.spooled,
            "on_disk": not isinstance(value.stream._file, io.BytesIO),  # type: ignore[attr-defined]
        }
    return value


class Form(kata.resource.Resource):
    def post(self, request, response):
        return self.success({name: describe(value) for name, value in self.body(request).items()})


def client(**settings: Any) -> Client:
    router = Router(**settings)
    router.add_route("/form", Form)
    return Client(router)


def test_urlencoded_single_values_stay_str_repeated_become_lists():
    response = client().post("/form", data=[("a", "1"), ("b", "x y"), ("b", "é"), ("c", "")])
    assert response.status == 200, response
    assert response.json() == {"a": "1", "b": ["x y", "é"], "c": ""}


def test_urlencoded_charset_parameter_and_case_are_accepted():
    response = client().post(
        "/form",
        body=b"q=%C3%A9t%C3%A9",
        headers={"Content-Type": "Application/X-WWW-Form-Urlencoded; charset=UTF-8"},
    )
    assert response.json() == {"q": "été"}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"a=%FF", 400, "not valid UTF-8"),
        (b"a=%00", 400, "NUL byte"),
        (b"&".join([b"a=1"] * 11), 400, "more than 10 fields (max_form_parts)"),
        (b"a=" + b"x" * 2000, 413, "larger than 1024 bytes"),
    ],
)
def test_bad_urlencoded_forms(body, status, message):
    response = client(max_form_parts=10, max_body_size=1024).post(
        "/form", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status == status, response
    assert message in response.json()["message"]


def test_multipart_fields_and_files():
    small = b"hello\r\n--not a boundary\r\n"
    big = bytes(range(256)) * (SPOOL_SIZE // 256 + 100)
    response = client().post(
        "/form",
        data={"title": "Été", "tag": ["a", "b"]},
        files=[
            ("doc", ("notes.txt", small, "text/plain")),
            ("doc", ("data.bin", big)),
            ("photo", ("my photo.jpg", io.BytesIO(b"\xff\xd8\xff"), "image/jpeg")),
        ],
    )
    assert response.status == 200, response
    doc_small, doc_big = response.json()["doc"]
    assert response.json()["title"] == "Été"
    assert response.json()["tag"] == ["a", "b"]
    assert doc_small == {
        "filename": "notes.txt",
        "content_type": "text/plain",
        "size": len(small),
        "sha256": hashlib.sha256(small).hexdigest(),
        "spooled": False,
        "on_disk": False,
    }
    # Over the spool size, the part went to a temporary file rather than memory.
    assert doc_big == {
        "filename": "data.bin",
        "content_type": "application/octet-stream",
        "size": len(big),
        "sha256": hashlib.sha256(big).hexdigest(),
        "spooled": True,
        "on_disk": True,
    }
    assert response.json()["photo"]["filename"] == "my photo.jpg"
    assert response.json()["photo"]["content_type"] == "image/jpeg"


def test_an_empty_file_input_is_an_empty_upload():
    response = client().post("/form", files={"f": ("", b"")})
    assert response.json()["f"]["filename"] == "" and response.json()["f"]["size"] == 0


def multipart(*parts: bytes, boundary: str = "XyZ") -> dict[str, Any]:
    body = (
        b"".join(f"--{boundary}\r\n".encode() + part + b"\r\n" for part in parts)
        + f"--{boundary}--\r\n".encode()
    )
    return {"body": body, "headers": {"Content-Type": f"multipart/form-data; boundary={boundary}"}}


FIELD = b'Content-Disposition: form-data; name="a"\r\n\r\nvalue'


@pytest.mark.parametrize(
    ("settings", "request_args", "status", "message"),
    [
        ({"max_form_parts": 2}, multipart(FIELD, FIELD, FIELD), 400, "more than 2 parts (max_form_parts)"),
        (
            {"max_part_size": 100},
            multipart(b'Content-Disposition: form-data; name="f"; filename="x"\r\n\r\n' + b"x" * 101),
            413,
            "form part 'f' is larger than 100 bytes (max_part_size)",
        ),
        (
            {"max_upload_size": 200},
            multipart(*[FIELD] * 10),
            413,
            "larger than 200 bytes (max_upload_size)",
        ),
        (
            {"max_body_size": 10},
            multipart(b'Content-Disposition: form-data; name="t"\r\n\r\n' + b"x" * 11),
            413,
            "form field 't' is larger than 10 bytes (max_body_size)",
        ),
        ({}, multipart(b"Content-Disposition: form-data\r\n\r\nx"), 400, "has no field name"),
        (
            {},
            multipart(b'Content-Disposition: form-data; name="a"\r\n\r\n\xff'),
            400,
            "'a' is not valid UTF-8",
        ),
        (
            {},
            {"body": b"--XyZ\r\n" + FIELD, "headers": {"Content-Type": "multipart/form-data; boundary=XyZ"}},
            400,
            "ended before its closing boundary",
        ),
        (
            {},
            {"body": b"garbage\r\n\r\n", "headers": {"Content-Type": "multipart/form-data; boundary=XyZ"}},
            400,
            "malformed multipart/form-data body",
        ),
        ({}, {"body": b"x", "headers": {"Content-Type": "multipart/form-data"}}, 400, "has no boundary"),
    ],
)
def test_multipart_limits_and_malformed_bodies(settings, request_args, status, message):
    response = client(**settings).post("/form", **request_args)
    assert response.status == status, response
    assert message in response.json()["message"]


def test_the_total_limit_applies_to_chunked_uploads_without_content_length():
    args = multipart(*[FIELD] * 10)
    response = client(max_upload_size=200).post(
        "/form",
        body=args["body"],
        headers=args["headers"],
        environ={"CONTENT_LENGTH": "", "wsgi.input_terminated": True},
    )
    assert response.status == 413 and "max_upload_size" in response.json()["message"]


class Session(kata.resource.Resource):
    def get(self, request, response):
        return self.success(request.cookies)

    def post(self, request, response):
        for name, value in self.body(request).items():
            response.set_cookie(name, value)
        return self.success(None)

    def delete(self, request, response):
        response.delete_cookie("user")
        return self.success(None)


def test_the_client_keeps_cookies_across_requests():
    router = Router()
    router.add_route("/session", Session)
    client = Client(router)
    assert client.get("/session").json() == {}
    client.post("/session", data={"user": "ann", "theme": "dark"})
    assert client.cookies == {"user": "ann", "theme": "dark"}
    assert client.get("/session").json() == {"user": "ann", "theme": "dark"}
    client.delete("/session")
    assert client.cookies == {"theme": "dark"}
    assert client.get("/session").json() == {"theme": "dark"}
    # A request's own Cookie header replaces the jar for that request.
    assert client.get("/session", headers={"Cookie": "other=1"}).json() == {"other": "1"}


class Echo(kata.resource.Resource):
    def post(self, request, response):
        return self.success(self.body(request))


@pytest.mark.parametrize("format", ["json", "msgpack"])
def test_a_form_sent_back_as_is_describes_its_files(format):
    router = Router()
    router.add_route("/echo", Echo, format=format)
    response = Client(router).post(
        "/echo", data={"a": ["1", "2"]}, files={"f": ("x.txt", b"abc", "text/plain")}
    )
    assert response.status == 200
    decoded = response.json() if format == "json" else response.msgpack()
    assert decoded == {"a": ["1", "2"], "f": {"filename": "x.txt", "content_type": "text/plain", "size": 3}}


def test_small_files_share_one_memory_budget():
    """Many files each under the spool size still never hold more than it in memory together."""
    size = SPOOL_SIZE * 2 // 5  # two fit in memory, the third would not
    files = [("f", (f"{i}.bin", bytes([i]) * size)) for i in range(5)]
    response = client().post("/form", files=files)
    assert response.status == 200, response
    described = response.json()["f"]
    assert [item["on_disk"] for item in described] == [False, False, True, True, True]
    assert [item["spooled"] for item in described] == [False, False, True, True, True]
    assert [item["sha256"] for item in described] == [
        hashlib.sha256(bytes([i]) * size).hexdigest() for i in range(5)
    ]
