"""The response object handed to resource methods and hooks, and the result of ``success``."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Final, NamedTuple
from urllib.parse import quote

from kata.router.formats import KNOWN_TYPES

_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+").fullmatch
_BAD_VALUE: Final = re.compile(r"[\x00-\x1f\x7f]").search
_COOKIE_VALUE: Final = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*").fullmatch
# Computed by the router from the body, or forbidden to WSGI applications (PEP 3333).
_RESERVED: Final = frozenset(
    {
        "content-length",
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_SAMESITE: Final = frozenset({"Strict", "Lax", "None"})
_REDIRECTS: Final = frozenset({300, 301, 302, 303, 307, 308})


class _ResultFields(NamedTuple):
    status: int
    body: bytes
    content_type: str


class Result(_ResultFields):
    """A rendered response body: what ``Resource.success`` and ``Resource.error`` return.

    Return it from a resource method; the router sends it with the headers set on the
    response object. Building one checks *content_type* like any header value: control
    characters (CR/LF header injection) or text outside latin-1 are a ValueError.
    """

    __slots__ = ()

    def __new__(cls, status: int, body: bytes, content_type: str) -> Result:
        if content_type not in KNOWN_TYPES:
            check_header("Content-Type", content_type)
        return super().__new__(cls, status, body, content_type)


def check_header(name: str, value: str) -> None:
    """Raise ValueError unless *name* and *value* form a header a WSGI app may send."""
    if not isinstance(name, str) or not _TOKEN(name):
        raise ValueError(f"invalid header name {name!r}")
    if name.lower() in _RESERVED:
        raise ValueError(f"header {name!r} is set by the server or the router, not by the application")
    if not isinstance(value, str):
        raise ValueError(f"header {name!r}: the value must be a str, got {type(value).__qualname__}")
    if _BAD_VALUE(value):
        raise ValueError(f"header {name!r}: the value contains a control character: {value!r}")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"header {name!r}: the value must be latin-1 text, got {value!r}") from None


class Response:
    """What the router will send, for resource methods and hooks to adjust.

    A resource method either returns ``self.success(...)`` (whose status, body and type win)
    or sets :attr:`status` and :attr:`body` here and returns None. Headers and cookies set
    here are sent either way, error responses included.

    Attributes:
        status: the HTTP status code (200 unless changed).
        body: the raw body, for handlers that return None.
        content_type: the Content-Type of :attr:`body`; None means the route's format.
    """

    __slots__ = ("_headers", "body", "content_type", "status")

    def __init__(self) -> None:
        self.status = 200
        self.body = b""
        self.content_type: str | None = None
        self._headers: list[tuple[str, str]] | None = None

    @property
    def headers(self) -> list[tuple[str, str]]:
        """The headers set so far, as ``(name, value)`` pairs in order (a copy)."""
        return list(self._headers or ())

    def get_header(self, name: str) -> str | None:
        """The last value set for header *name* (any case), or None."""
        key = name.lower()
        for item, value in reversed(self._headers or ()):
            if item.lower() == key:
                return value
        return None

    def set_header(self, name: str, value: str) -> None:
        """Set header *name* to *value*, replacing any value it had.

        ``Content-Type`` sets :attr:`content_type`. Content-Length is computed by the router
        and hop-by-hop headers belong to the server: setting them is a ValueError, as is a
        value with control characters (header injection) or outside latin-1.
        """
        if isinstance(name, str) and name.lower() == "content-type":
            check_header("Content-Type", value)
            self.content_type = value
            return
        check_header(name, value)
        self.delete_header(name)
        self._append(name, value)

    def add_header(self, name: str, value: str) -> None:
        """Add a header field, keeping earlier ones of the same name (e.g. ``Link``)."""
        check_header(name, value)
        self._append(name, value)

    def delete_header(self, name: str) -> None:
        """Remove every field named *name* (any case); no error if there is none."""
        if self._headers:
            key = name.lower()
            self._headers = [item for item in self._headers if item[0].lower() != key]

    def _append(self, name: str, value: str) -> None:
        if self._headers is None:
            self._headers = [(name, value)]
        else:
            self._headers.append((name, value))

    def set_cookie(
        self,
        name: str,
        value: str,
        *,
        max_age: int | None = None,
        expires: datetime | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = True,
        samesite: str | None = "Lax",
    ) -> None:
        """Add a ``Set-Cookie`` header.

        *value* must already be cookie-safe (printable ASCII without spaces, quotes, commas,
        semicolons or backslashes): encode anything else, e.g. as base64 or JSON plus
        percent-encoding. Cookies are HttpOnly and SameSite=Lax unless told otherwise; pass
        ``secure=True`` for sites served over HTTPS.

        Raises:
            ValueError: an invalid name, value, date or SameSite setting.
        """
        if not isinstance(name, str) or not _TOKEN(name):
            raise ValueError(f"invalid cookie name {name!r}")
        if not isinstance(value, str) or not _COOKIE_VALUE(value):
            raise ValueError(f"cookie {name!r}: the value {value!r} has characters a cookie cannot carry")
        parts = [f"{name}={value}"]
        if max_age is not None:
            parts.append(f"Max-Age={int(max_age)}")
        if expires is not None:
            if expires.tzinfo is None:
                raise ValueError(f"cookie {name!r}: expires must be an aware datetime")
            parts.append(f"Expires={format_datetime(expires.astimezone(timezone.utc), usegmt=True)}")
        for attribute, text in (("Domain", domain), ("Path", path)):
            if text is not None:
                if _BAD_VALUE(text) or ";" in text:
                    raise ValueError(f"cookie {name!r}: invalid {attribute.lower()} {text!r}")
                parts.append(f"{attribute}={text}")
        if secure:
            parts.append("Secure")
        if httponly:
            parts.append("HttpOnly")
        if samesite is not None:
            if samesite not in _SAMESITE:
                raise ValueError(
                    f"cookie {name!r}: samesite must be 'Strict', 'Lax' or 'None', got {samesite!r}"
                )
            parts.append(f"SameSite={samesite}")
        self.add_header("Set-Cookie", "; ".join(parts))

    def delete_cookie(self, name: str, *, path: str | None = "/", domain: str | None = None) -> None:
        """Tell the client to drop cookie *name* (same *path* and *domain* as when set)."""
        self.set_cookie(
            name,
            "",
            max_age=0,
            expires=datetime(1970, 1, 1, tzinfo=timezone.utc),
            path=path,
            domain=domain,
            samesite=None,
            httponly=False,
        )

    def redirect(self, location: str, status: int = 302) -> None:
        """Make this response a redirect to *location* (a URL or absolute path).

        Return None (or the response) from the resource method afterwards. *status* is one
        of 300, 301, 302, 303, 307 or 308; 303 after a POST sends the client to a GET.
        """
        if status not in _REDIRECTS:
            raise ValueError(f"redirect status must be one of {sorted(_REDIRECTS)}, got {status!r}")
        # Non-ASCII characters are percent-encoded; escapes already present are kept.
        self.set_header("Location", quote(location, safe=":/?#[]@!$&'()*+,;=%~"))
        self.status = status
        self.body = b""
