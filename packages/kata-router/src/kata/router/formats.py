"""The three response formats a route can have, and request body decoding by Content-Type."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any, Final, Literal

from kata.codec import DecodeError, from_json, from_msgpack, to_json, to_msgpack
from kata.router.errors import HTTPError
from kata.router.status import reason

Format = Literal["json", "msgpack", "html", "text"]

FORMATS: Final = ("json", "msgpack", "html", "text")

CONTENT_TYPES: Final[dict[str, str]] = {
    "json": "application/json",
    "msgpack": "application/msgpack",
    "html": "text/html; charset=utf-8",
    "text": "text/plain; charset=utf-8",
}

KNOWN_TYPES: Final = frozenset(CONTENT_TYPES.values())
"""The Content-Types the router writes itself: sent without checking them again."""

_MSGPACK_TYPES: Final = frozenset({"application/msgpack", "application/x-msgpack", "application/vnd.msgpack"})
_UTF8: Final = frozenset({"utf-8", "utf8"})
_EXACT: Final[dict[str, Callable[[bytes], Any]]] = {
    "application/json": from_json,
    "application/json; charset=utf-8": from_json,
    "application/json;charset=utf-8": from_json,
    "application/msgpack": from_msgpack,
    "application/x-msgpack": from_msgpack,
}


def encode(format: str, data: Any) -> bytes:
    """Encode *data* for a response in *format*.

    JSON and msgpack follow kata.codec's value rules; the HTML and text formats take a ``str``.

    Raises:
        TypeError: *data* has no form in *format* (the message names its type).
    """
    if format == "json":
        return to_json(data)
    if format == "msgpack":
        return to_msgpack(data)
    if type(data) is not str:
        raise TypeError(f"a route with format={format!r} sends a str, not {type(data).__qualname__}")
    return data.encode()


def render_error(format: str, status: int, message: str) -> bytes:
    """Render an error response body for *status* in *format*."""
    if format == "html":
        title = f"{status} {escape(reason(status))}"
        return (
            f"<!DOCTYPE html>\n<html><head><title>{title}</title></head>"
            f"<body><h1>{title}</h1><p>{escape(message)}</p></body></html>\n"
        ).encode()
    if format == "text":
        return f"{status} {reason(status)}: {message}\n".encode()
    data = {"status": status, "error": reason(status), "message": message}
    return to_msgpack(data) if format == "msgpack" else to_json(data)


def is_form(content_type: str) -> bool:
    """Whether *content_type* is one of the two HTML form encodings (see kata.router.forms)."""
    media = content_type.partition(";")[0].strip().lower()
    return media in ("application/x-www-form-urlencoded", "multipart/form-data")


FAST_TYPES: Final = frozenset(_EXACT)
"""Content-Type values decoded without parsing (JSON and msgpack as clients usually send them)."""


def _clip(text: str, limit: int = 80) -> str:
    """Shorten client-supplied text quoted in an error message."""
    return text if len(text) <= limit else text[:limit] + "..."


def _from_msgpack_text(body: bytes) -> Any:
    return from_msgpack(body, binary=False)


def decode(content_type: str, body: bytes, format: str = "msgpack") -> Any:
    """Decode a request *body* according to its *content_type* header.

    JSON (``application/json`` or any ``+json`` type, in UTF-8) and msgpack
    (``application/msgpack``, ``application/x-msgpack``, ``application/vnd.msgpack``).
    Values the route's response *format* could not send back are refused (msgpack bin values
    unless *format* is ``msgpack``), so that echoing a body never fails to encode.

    Raises:
        HTTPError: 415 for a missing or unsupported type or charset, 400 for an empty or
            malformed body (with the decoder's message).
    """
    known = _EXACT.get(content_type)
    if known is not None and body:
        # The header values clients send most, recognised without parsing them.
        if known is from_msgpack and format != "msgpack":
            known = _from_msgpack_text
        return _decode(known, body)
    media, _, params = content_type.partition(";")
    media = media.strip().lower()
    if not media:
        if not body:
            raise HTTPError(400, "empty request body: expected application/json or application/msgpack")
        raise HTTPError(
            415, "the request body has no Content-Type: send application/json or application/msgpack"
        )
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in _UTF8:
                raise HTTPError(
                    415, f"unsupported charset {_clip(value.strip())!r}: JSON bodies must be UTF-8"
                )
        decoder: Callable[[bytes], Any] = from_json
    elif media in _MSGPACK_TYPES:
        decoder = from_msgpack if format == "msgpack" else _from_msgpack_text
    else:
        raise HTTPError(
            415,
            f"unsupported Content-Type {_clip(media)!r}: send application/json, application/msgpack, "
            "application/x-www-form-urlencoded or multipart/form-data",
        )
    if not body:
        raise HTTPError(400, f"empty request body: expected {media}")
    return _decode(decoder, body)


def _decode(decoder: Callable[[bytes], Any], body: bytes) -> Any:
    try:
        return decoder(body)
    except DecodeError as exc:
        raise HTTPError(400, str(exc)) from exc


__all__ = ["CONTENT_TYPES", "FAST_TYPES", "FORMATS", "Format", "decode", "encode", "is_form", "render_error"]
