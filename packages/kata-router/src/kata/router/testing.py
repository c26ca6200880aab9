"""A test client that calls a WSGI application in process, checked by ``wsgiref.validate``.

::

    from kata.router.testing import Client

    client = Client(kata.router.app())
    response = client.get("/foo/bar/123", params={"verbose": "1"})
    assert response.status == 200
    assert response.json() == {"baz": "123", "something": "else"}

Every call runs the application behind :func:`wsgiref.validate.validator`, so a response
that breaks PEP 3333 fails the test with an AssertionError.
"""

from __future__ import annotations

import io
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any
from urllib.parse import unquote_to_bytes, urlencode
from wsgiref.validate import validator

from kata.codec import from_json, from_msgpack, to_json, to_msgpack
from kata.router.conditional import http_date
from kata.router.headers import Headers

__all__ = ["Client", "TestResponse"]

_UNSET: Any = object()
HeadersArg = Mapping[str, str] | Iterable[tuple[str, str]] | None
ParamsArg = Mapping[str, Any] | Iterable[tuple[str, Any]] | str | None
FileArg = bytes | IO[bytes] | tuple[str, bytes | IO[bytes]] | tuple[str, bytes | IO[bytes], str]
"""A file to upload: its content, or ``(filename, content)``, or ``(filename, content, content_type)``."""


class TestResponse:
    """What the application answered.

    Attributes:
        status: the status code, e.g. 200.
        status_line: the full status line, e.g. ``"200 OK"``.
        headers: the response headers, by case-insensitive name (``get_all`` for repeats).
        body: the body bytes (empty for HEAD).
    """

    __test__ = False  # not a test class, despite the name

    def __init__(self, status_line: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status_line = status_line
        self.status = int(status_line.split(" ", 1)[0])
        self.headers = Headers(headers)
        self.body = body

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode()

    @property
    def content_type(self) -> str:
        """The Content-Type header, or an empty string."""
        return self.headers.get("content-type", "")

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies set by the response: name to value (attributes dropped)."""
        cookies = {}
        for header in self.headers.get_all("set-cookie"):
            name, _, value = header.split(";", 1)[0].partition("=")
            cookies[name.strip()] = value.strip()
        return cookies

    def json(self) -> Any:
        """The body decoded as JSON."""
        return from_json(self.body)

    def msgpack(self) -> Any:
        """The body decoded as msgpack."""
        return from_msgpack(self.body)

    def __repr__(self) -> str:
        return f"<TestResponse {self.status_line} {self.body[:80]!r}>"


class Client:
    """Send requests to a WSGI application without a server.

    Cookies the application sets are kept in :attr:`cookies` and sent back with later
    requests, like a browser would (without domain or path matching); a cookie set with
    ``Max-Age=0`` or an Expires date in the past is dropped.

    Args:
        app: the WSGI callable, e.g. ``kata.router.app()`` or a ``Router``.
        headers: headers sent with every request (a call's own headers win).
        remote_addr: the ``REMOTE_ADDR`` of every request.

    Attributes:
        cookies: the cookie jar, name to value; change it to send other cookies.
    """

    __test__ = False

    def __init__(
        self,
        app: Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]],
        headers: HeadersArg = None,
        remote_addr: str = "127.0.0.1",
    ) -> None:
        self.app = app
        self._validated = validator(app)
        self._headers = _header_pairs(headers)
        self.remote_addr = remote_addr
        self.cookies: dict[str, str] = {}

    def request(
        self,
        method: str,
        path: str,
        *,
        params: ParamsArg = None,
        headers: HeadersArg = None,
        json: Any = _UNSET,
        msgpack: Any = _UNSET,
        body: bytes | str | None = None,
        data: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        files: Mapping[str, FileArg] | Iterable[tuple[str, FileArg]] | None = None,
        environ: Mapping[str, Any] | None = None,
    ) -> TestResponse:
        """Send one request and return the response.

        Args:
            method: the request method, sent as given.
            path: the path, percent-encoded as on the wire; it may carry a ``?query``.
            params: query parameters, added to any query in *path* (lists repeat a name).
            headers: request headers; ``Content-Type`` and ``Content-Length`` here override
                the ones the client computes.
            json: a value sent as a JSON body with ``Content-Type: application/json``.
            msgpack: a value sent as a msgpack body with ``Content-Type: application/msgpack``.
            body: raw body bytes (str is UTF-8 encoded); give the Content-Type in *headers*.
            data: form fields, sent as ``application/x-www-form-urlencoded`` (lists repeat a
                field), or as parts of a ``multipart/form-data`` body when *files* is given.
            files: files to upload as ``multipart/form-data``: field name to content,
                ``(filename, content)`` or ``(filename, content, content_type)``.
            environ: extra environ entries, applied last (e.g. ``wsgi.input_terminated``).
        """
        given = [value is not _UNSET for value in (json, msgpack)] + [body is not None]
        given.append(data is not None or files is not None)
        if sum(given) > 1:
            raise ValueError("pass at most one of json=, msgpack=, body= and data=/files=")
        content_type = None
        if files is not None:
            payload, content_type = _multipart(_pairs(data), _pairs(files))
        elif data is not None:
            payload, content_type = (
                urlencode(_pairs(data), doseq=True).encode(),
                "application/x-www-form-urlencoded",
            )
        elif json is not _UNSET:
            payload, content_type = to_json(json), "application/json"
        elif msgpack is not _UNSET:
            payload, content_type = to_msgpack(msgpack), "application/msgpack"
        elif isinstance(body, str):
            payload = body.encode()
        else:
            payload = body or b""

        raw_path, _, query = path.partition("?")
        if params:
            extra = (
                params
                if isinstance(params, str)
                else urlencode(list(params.items() if isinstance(params, Mapping) else params), doseq=True)
            )
            query = f"{query}&{extra}" if query else extra
        env: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            # PEP 3333: the server percent-decodes the path and passes the bytes as latin-1.
            "PATH_INFO": unquote_to_bytes(raw_path).decode("latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": self.remote_addr,
            "HTTP_HOST": "localhost",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(payload),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        if payload or body is not None:
            env["CONTENT_LENGTH"] = str(len(payload))
        if content_type is not None:
            env["CONTENT_TYPE"] = content_type
        if self.cookies:
            env["HTTP_COOKIE"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        for name, value in [*self._headers, *_header_pairs(headers)]:
            key = name.upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
            env[key] = value
        if environ:
            env.update(environ)
        return self._call(env)

    def _call(self, environ: dict[str, Any]) -> TestResponse:
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            started.append((status, headers))
            return lambda data: None

        result = self._validated(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if not started:
            raise AssertionError("the application returned without calling start_response")
        status, headers = started[-1]
        response = TestResponse(status, headers, body)
        self._keep_cookies(response)
        return response

    def _keep_cookies(self, response: TestResponse) -> None:
        for header in response.headers.get_all("set-cookie"):
            first, *attributes = header.split(";")
            name, _, value = first.partition("=")
            expired = False
            for attribute in attributes:
                key, _, text = attribute.strip().partition("=")
                key = key.lower()
                if key == "max-age":
                    expired = text.strip().lstrip("-").isdigit() and int(text) <= 0
                elif key == "expires":
                    moment = http_date(text)
                    expired = expired or (moment is not None and moment <= time.time())
            if expired:
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value.strip()

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        """Send a GET request; keyword arguments as for :meth:`request`."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        """Send a POST request; keyword arguments as for :meth:`request`."""
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> TestResponse:
        """Send a PUT request; keyword arguments as for :meth:`request`."""
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> TestResponse:
        """Send a PATCH request; keyword arguments as for :meth:`request`."""
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        """Send a DELETE request; keyword arguments as for :meth:`request`."""
        return self.request("DELETE", path, **kwargs)

    def head(self, path: str, **kwargs: Any) -> TestResponse:
        """Send a HEAD request; keyword arguments as for :meth:`request`."""
        return self.request("HEAD", path, **kwargs)

    def options(self, path: str, **kwargs: Any) -> TestResponse:
        """Send an OPTIONS request; keyword arguments as for :meth:`request`."""
        return self.request("OPTIONS", path, **kwargs)


def _pairs(items: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> list[tuple[str, Any]]:
    if items is None:
        return []
    return list(items.items() if isinstance(items, Mapping) else items)


def _multipart(fields: list[tuple[str, Any]], files: list[tuple[str, FileArg]]) -> tuple[bytes, str]:
    """Encode *fields* and *files* as a multipart/form-data body; returns it and its type."""
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields:
        for item in value if isinstance(value, (list, tuple)) else [value]:
            out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
            out.write(item if isinstance(item, bytes) else str(item).encode())
            out.write(b"\r\n")
    for name, file in files:
        if isinstance(file, tuple):
            filename, content = file[0], file[1]
            kind = file[2] if len(file) == 3 else "application/octet-stream"
        else:
            filename, content, kind = name, file, "application/octet-stream"
        header = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {kind}\r\n\r\n"
        )
        out.write(header.encode())
        out.write(content if isinstance(content, bytes) else content.read())
        out.write(b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def _header_pairs(headers: HeadersArg) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)
