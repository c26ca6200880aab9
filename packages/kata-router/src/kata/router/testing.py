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
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import unquote_to_bytes, urlencode
from wsgiref.validate import validator

from kata.codec import from_json, from_msgpack, to_json, to_msgpack
from kata.router.headers import Headers

__all__ = ["Client", "TestResponse"]

_UNSET: Any = object()
HeadersArg = Mapping[str, str] | Iterable[tuple[str, str]] | None
ParamsArg = Mapping[str, Any] | Iterable[tuple[str, Any]] | str | None


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

    Args:
        app: the WSGI callable, e.g. ``kata.router.app()`` or a ``Router``.
        headers: headers sent with every request (a call's own headers win).
        remote_addr: the ``REMOTE_ADDR`` of every request.
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
            environ: extra environ entries, applied last (e.g. ``wsgi.input_terminated``).
        """
        given = [value is not _UNSET for value in (json, msgpack)] + [body is not None]
        if sum(given) > 1:
            raise ValueError("pass at most one of json=, msgpack= and body=")
        content_type = None
        if json is not _UNSET:
            data, content_type = to_json(json), "application/json"
        elif msgpack is not _UNSET:
            data, content_type = to_msgpack(msgpack), "application/msgpack"
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body or b""

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
            "wsgi.input": io.BytesIO(data),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        if data or body is not None:
            env["CONTENT_LENGTH"] = str(len(data))
        if content_type is not None:
            env["CONTENT_TYPE"] = content_type
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
        return TestResponse(status, headers, body)

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


def _header_pairs(headers: HeadersArg) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)
