"""The request object handed to resource methods and hooks."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, Final, TypeVar, overload
from urllib.parse import parse_qsl, quote
from uuid import UUID

from kata.router.errors import HTTPError
from kata.router.headers import Headers
from kata.router.hosts import host_name
from kata.router.inputs import input_error, read_stream
from kata.router.lazy import lazy
from kata.router.options import DEFAULT_OPTIONS, Options
from kata.router.table import RouteInfo
from kata.router.template import CONVERTERS, to_int

D = TypeVar("D")
T = TypeVar("T")

_MAX_QUERY_FIELDS: Final = 1000
_TOO_MANY_FIELDS: Final = f"the query string has more than {_MAX_QUERY_FIELDS} fields"
_READ_CHUNK: Final = 64 * 1024
_TRUE: Final = frozenset({"", "1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})
_REQUIRED: Any = object()  # the "no default given" marker of the param getters


def wsgi_text(value: str, what: str) -> str:
    """Re-decode a WSGI string (bytes carried as latin-1 code points) as UTF-8.

    Raises:
        HTTPError: 400 naming *what* when the bytes are not UTF-8.
    """
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise HTTPError(400, f"the {what} is not valid UTF-8") from None


def _clip(text: str) -> str:
    return text if len(text) <= 40 else text[:40] + "..."


class Request:
    """One HTTP request, read from the WSGI environ.

    Everything but the matched route is computed on first access and then kept, so a
    request pays only for what its handler reads. A request belongs to one thread; keep
    per-request state here (in :attr:`context`), never on the resource.

    Attributes:
        environ: the WSGI environ, as the server passed it.
        route: the matched route, or None when no route matched (a 404 in the making).
        fields: the converted path fields, the keyword arguments of the resource method.
    """

    environ: dict[str, Any]
    route: RouteInfo | None = None

    def __init__(self, environ: dict[str, Any], options: Options = DEFAULT_OPTIONS) -> None:
        self.environ = environ
        self._options = options

    @lazy
    def fields(self) -> dict[str, Any]:
        """The converted path fields (set by the router when a route matched)."""
        return {}

    # -- request line ----------------------------------------------------------------------

    @lazy
    def method(self) -> str:
        """The request method, e.g. ``"GET"``."""
        return str(self.environ["REQUEST_METHOD"])

    @lazy
    def path(self) -> str:
        """The decoded path below the application's mount point, e.g. ``/foo/bar/123``."""
        return wsgi_text(self.environ.get("PATH_INFO") or "/", "request path")

    @lazy
    def script_name(self) -> str:
        """The decoded path the application is mounted at (empty at the root)."""
        return wsgi_text(self.environ.get("SCRIPT_NAME", ""), "script name")

    @lazy
    def query_string(self) -> str:
        """The raw query string, still percent-encoded, without the ``?``."""
        return str(self.environ.get("QUERY_STRING", ""))

    @lazy
    def scheme(self) -> str:
        """``"http"`` or ``"https"``, as the WSGI server saw the request."""
        return str(self.environ.get("wsgi.url_scheme", "http"))

    @lazy
    def host(self) -> str:
        """The Host header, or the server's name and port when it is absent or not a valid
        ``host[:port]`` (so :attr:`url` never carries what a client made up beyond a name).

        With the router's ``allowed_hosts`` set, a request for another host never gets here.
        """
        host = self.environ.get("HTTP_HOST")
        if host and host_name(host) is not None:
            return str(host)
        name, port = self.environ.get("SERVER_NAME", "localhost"), str(self.environ.get("SERVER_PORT", ""))
        default = "443" if self.scheme == "https" else "80"
        return name if port in ("", default) else f"{name}:{port}"

    @lazy
    def url(self) -> str:
        """The full URL of the request, re-encoded."""
        query = f"?{self.query_string}" if self.query_string else ""
        return f"{self.scheme}://{self.host}{quote(self.script_name + self.path)}{query}"

    @lazy
    def context(self) -> SimpleNamespace:
        """A namespace for hooks and handlers to share per-request data (user, request id)."""
        return SimpleNamespace()

    # -- query parameters ------------------------------------------------------------------

    @lazy
    def params(self) -> dict[str, list[str]]:
        """Query parameters: each name maps to its values in order (blank values kept).

        Raises:
            HTTPError: 414 for a query string over the router's limit, 400 for one that is
                not UTF-8 or has more than 1000 fields.
        """
        query = self.query_string
        if not query:
            return {}
        limit = self._options.max_query_length
        if len(query) > limit:
            raise HTTPError(414, f"the query string is longer than {limit} characters")
        if "%00" in query or "\x00" in query:
            raise HTTPError(400, "the query string contains a NUL byte")
        params: dict[str, list[str]] = {}
        if "%" not in query and "+" not in query and query.isascii():
            # Nothing to decode: the fields as parse_qsl would give them, split here in a
            # fifth of its time (measured: 0.55 against 3.3 µs for ``count=20``).
            if query.count("&") >= _MAX_QUERY_FIELDS:
                raise HTTPError(400, _TOO_MANY_FIELDS)
            for field in query.split("&"):
                if field:
                    name, _, value = field.partition("=")
                    params.setdefault(name, []).append(value)
            return params
        try:
            pairs = parse_qsl(
                wsgi_text(query, "query string"),
                keep_blank_values=True,
                errors="strict",
                max_num_fields=_MAX_QUERY_FIELDS,
            )
        except UnicodeDecodeError:
            raise HTTPError(400, "the query string is not valid UTF-8") from None
        except ValueError:
            raise HTTPError(400, _TOO_MANY_FIELDS) from None
        for name, value in pairs:
            params.setdefault(name, []).append(value)
        return params

    def param_list(self, name: str) -> list[str]:
        """Every value of query parameter *name* (``?tag=a&tag=b``), empty if absent."""
        return list(self.params.get(name, ()))

    def _typed(self, name: str, default: Any, convert: Callable[[str], Any], expected: str) -> Any:
        values = self.params.get(name)
        if not values:
            if default is _REQUIRED:
                raise HTTPError(400, f"missing query parameter {name!r}")
            return default
        value = convert(values[0])
        if value is None:
            raise HTTPError(400, f"query parameter {name!r} must be {expected}, got {_clip(values[0])!r}")
        return value

    @overload
    def param(self, name: str) -> str: ...
    @overload
    def param(self, name: str, default: D) -> str | D: ...
    def param(self, name: str, default: Any = _REQUIRED) -> Any:
        """The first value of query parameter *name*.

        Without *default*, a missing parameter is a 400; with it, *default* is returned.
        """
        return self._typed(name, default, str, "text")

    @overload
    def param_int(self, name: str, *, minimum: int | None = ..., maximum: int | None = ...) -> int: ...
    @overload
    def param_int(
        self, name: str, default: D, *, minimum: int | None = ..., maximum: int | None = ...
    ) -> int | D: ...
    def param_int(
        self, name: str, default: Any = _REQUIRED, *, minimum: int | None = None, maximum: int | None = None
    ) -> Any:
        """Query parameter *name* as an int (decimal digits, optional minus sign).

        A value that is not an integer or lies outside ``minimum..maximum`` is a 400; so is a
        missing parameter when no *default* is given.
        """
        value = self._typed(name, default, to_int, "an integer")
        return self._check_range(name, value, default, minimum, maximum)

    @overload
    def param_float(
        self, name: str, *, minimum: float | None = ..., maximum: float | None = ...
    ) -> float: ...
    @overload
    def param_float(
        self, name: str, default: D, *, minimum: float | None = ..., maximum: float | None = ...
    ) -> float | D: ...
    def param_float(
        self,
        name: str,
        default: Any = _REQUIRED,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> Any:
        """Query parameter *name* as a finite float; like :meth:`param_int` otherwise."""
        value = self._typed(name, default, CONVERTERS["float"] or float, "a number")
        return self._check_range(name, value, default, minimum, maximum)

    @staticmethod
    def _check_range(name: str, value: Any, default: Any, minimum: Any, maximum: Any) -> Any:
        if value is default:
            return value
        if minimum is not None and value < minimum:
            raise HTTPError(400, f"query parameter {name!r} must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise HTTPError(400, f"query parameter {name!r} must be at most {maximum}, got {value}")
        return value

    @overload
    def param_bool(self, name: str) -> bool: ...
    @overload
    def param_bool(self, name: str, default: D) -> bool | D: ...
    def param_bool(self, name: str, default: Any = _REQUIRED) -> Any:
        """Query parameter *name* as a bool.

        ``true``, ``1``, ``yes``, ``on`` and a blank value (``?verbose``) are True; ``false``,
        ``0``, ``no``, ``off`` are False (any case); anything else is a 400.
        """

        def convert(text: str) -> bool | None:
            lowered = text.lower()
            return True if lowered in _TRUE else False if lowered in _FALSE else None

        return self._typed(name, default, convert, "true or false")

    @overload
    def param_uuid(self, name: str) -> UUID: ...
    @overload
    def param_uuid(self, name: str, default: D) -> UUID | D: ...
    def param_uuid(self, name: str, default: Any = _REQUIRED) -> Any:
        """Query parameter *name* as a UUID in its canonical hyphenated form."""
        return self._typed(name, default, CONVERTERS["uuid"] or UUID, "a UUID")

    # -- headers and cookies ---------------------------------------------------------------

    def header(self, name: str, default: D | None = None) -> str | D | None:
        """The value of header *name* (any case), or *default* when it was not sent.

        Cheaper than :attr:`headers` for a single lookup: it reads the environ directly.
        """
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        value = self.environ.get(key)
        return default if value is None else value

    @lazy
    def headers(self) -> Headers:
        """All request headers, by case-insensitive name.

        Values are the strings the WSGI server passed: bytes beyond ASCII arrive as latin-1
        code points, as PEP 3333 prescribes.
        """
        items = []
        for key, value in self.environ.items():
            if key.startswith("HTTP_"):
                items.append((key[5:].replace("_", "-").title(), value))
            elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
                items.append((key.replace("_", "-").title(), value))
        return Headers(items)

    @lazy
    def cookies(self) -> dict[str, str]:
        """Cookies from the Cookie header; a name sent twice keeps its first value."""
        cookies: dict[str, str] = {}
        header = self.environ.get("HTTP_COOKIE")
        if not header:
            return cookies
        for chunk in header.split(";"):
            name, sep, value = chunk.partition("=")
            name = name.strip()
            if not sep or not name:
                continue
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            cookies.setdefault(name, value)
        return cookies

    @lazy
    def content_type(self) -> str:
        """The Content-Type header as sent, or an empty string."""
        return str(self.environ.get("CONTENT_TYPE", ""))

    @lazy
    def content_length(self) -> int | None:
        """The Content-Length header as an int, or None when absent.

        Raises:
            HTTPError: 400 for a value that is not a non-negative integer.
        """
        text = self.environ.get("CONTENT_LENGTH")
        if not text:
            return None
        text = text.strip()
        if not text.isdigit() or not text.isascii() or len(text) > 20:
            raise HTTPError(400, f"invalid Content-Length header: {_clip(text)!r}")
        return int(text)

    @lazy
    def remote_addr(self) -> str:
        """The client's address.

        ``REMOTE_ADDR`` from the server, unless that peer is a trusted proxy (see the router's
        ``trusted_proxies``): then the ``X-Forwarded-For`` chain is walked from the right and
        the first address that is not a trusted proxy is the client.
        """
        peer = str(self.environ.get("REMOTE_ADDR", ""))
        options = self._options
        if not options.trusted_proxies or not options.is_trusted(peer):
            return peer
        forwarded = self.environ.get("HTTP_X_FORWARDED_FOR")
        if not forwarded:
            return peer
        client = peer
        for hop in reversed(forwarded.split(",")):
            hop = hop.strip()
            if not options.is_trusted(hop):
                # A hop that is not an address was not written by a trusted proxy: stop at the
                # last address that was.
                return hop if _is_address(hop) else client
            client = hop
        return client

    # -- body ------------------------------------------------------------------------------

    @lazy
    def body(self) -> bytes:
        """The raw request body, read once and kept.

        Reads at most the router's ``max_body_size``: a larger Content-Length is refused
        before anything is read. A body without Content-Length is read only when the server
        marks the input as terminated (``wsgi.input_terminated``, e.g. chunked uploads under
        gunicorn); otherwise it is empty, as PEP 3333 requires.

        Raises:
            HTTPError: 413 for a body over the limit, 400 for an invalid Content-Length or a
                body shorter than its Content-Length.
        """
        environ = self.environ
        text = environ.get("CONTENT_LENGTH")
        # The common case, a plain Content-Length within the limit, without the general path.
        if text and text.isascii() and text.isdigit() and len(text) <= 20:
            length = int(text)
            if 0 < length <= self._options.max_body_size and "_body_error" not in self.__dict__:
                try:
                    data: bytes = environ["wsgi.input"].read(length)
                except Exception as exc:
                    self.__dict__["_body_error"] = input_error(exc)
                else:
                    if len(data) == length:
                        return data
                    self.__dict__["_body_error"] = HTTPError(
                        400, f"the request body ended after {len(data)} of {length} bytes"
                    )
        error = self.__dict__.get("_body_error")
        if error is not None:
            raise error
        try:
            return self._read_body()
        except HTTPError as exc:
            # The input stream cannot be read again: later reads must fail the same way.
            self.__dict__["_body_error"] = exc
            raise

    def _read_body(self) -> bytes:
        limit = self._options.max_body_size
        stream = self.environ["wsgi.input"]
        length = self.content_length
        if length is None:
            if not self.environ.get("wsgi.input_terminated"):
                return b""
            chunks: list[bytes] = []
            total = 0
            while True:
                chunk = read_stream(stream, min(_READ_CHUNK, limit + 1 - total))
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
                total += len(chunk)
                if total > limit:
                    raise HTTPError(413, f"the request body is larger than {limit} bytes")
        if length > limit:
            raise HTTPError(413, f"the request body of {length} bytes is larger than {limit} bytes")
        if length == 0:
            return b""
        data = read_stream(stream, length)
        if len(data) < length:
            raise HTTPError(400, f"the request body ended after {len(data)} of {length} bytes")
        return data

    def __repr__(self) -> str:
        return f"<Request {self.environ.get('REQUEST_METHOD')} {self.environ.get('PATH_INFO')!r}>"


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
