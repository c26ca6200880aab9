"""Conditional requests (RFC 9110 section 13): validators, preconditions, and opt-in ETags.

:func:`etag` is an after-request hook that gives ordinary responses an ETag computed from
their body and answers 304 when the client already has that body::

    router.after_request(kata.router.conditional.etag)

File responses (``Resource.file`` and the static-files app) carry their own validators and
are checked by :func:`evaluate` before the file is read.
"""

from __future__ import annotations

import hashlib
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from kata.router.request import Request
    from kata.router.response import Response

_SAFE: Final = frozenset({"GET", "HEAD"})


def _tags(header: str) -> list[str]:
    """The entity tags of an If-Match / If-None-Match value (``*`` stays ``*``)."""
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def _weak_match(tag: str, current: str) -> bool:
    """RFC 9110 8.8.3.2 weak comparison: equal opaque tags, W/ prefixes ignored."""
    return tag.removeprefix("W/") == current.removeprefix("W/")


def _strong_match(tag: str, current: str) -> bool:
    """Strong comparison: both tags strong and equal."""
    return not tag.startswith("W/") and not current.startswith("W/") and tag == current


def http_date(header: str | None) -> float | None:
    """An HTTP-date header as a POSIX timestamp, or None when absent or not a valid date."""
    if not header:
        return None
    try:
        moment = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp()


def evaluate(request: Request, etag: str | None, modified: float | None) -> int | None:
    """Check the request's preconditions against a resource's validators.

    *etag* is the current entity tag (quoted, maybe ``W/``), *modified* the last modification
    time in whole seconds. Follows RFC 9110 section 13.2.2's order: If-Match, else
    If-Unmodified-Since; then If-None-Match, else If-Modified-Since (GET and HEAD only).

    Returns:
        412 when a precondition fails, 304 when the client's copy is current, else None.
    """
    environ = request.environ
    if_match = environ.get("HTTP_IF_MATCH")
    if if_match is not None:
        tags = _tags(if_match)
        if "*" not in tags and (etag is None or not any(_strong_match(tag, etag) for tag in tags)):
            return 412
    else:
        since = http_date(environ.get("HTTP_IF_UNMODIFIED_SINCE"))
        if since is not None and modified is not None and modified > since:
            return 412
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    method = environ.get("REQUEST_METHOD")
    if if_none_match is not None:
        tags = _tags(if_none_match)
        if "*" in tags or (etag is not None and any(_weak_match(tag, etag) for tag in tags)):
            return 304 if method in _SAFE else 412
    elif method in _SAFE and modified is not None:
        since = http_date(environ.get("HTTP_IF_MODIFIED_SINCE"))
        if since is not None and modified <= since:
            return 304
    return None


def body_etag(body: bytes) -> str:
    """A strong entity tag for *body*: a quoted 128-bit BLAKE2b digest in hex."""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def etag(request: Request, response: Response) -> None:
    """After-request hook: an ETag from the body of 200 responses to GET and HEAD, and 304s.

    A response that already has an ETag keeps it (and is still checked against
    If-None-Match); streamed bodies are left alone. Register it with
    ``router.after_request(kata.router.conditional.etag)``; it hashes every body it tags, so
    enable it where clients revalidate.
    """
    if response.status != 200 or type(response.body) is not bytes:
        return
    method = request.environ.get("REQUEST_METHOD")
    if method not in _SAFE:
        return
    current = response.get_header("ETag")
    if current is None:
        current = body_etag(response.body)
        response.set_header("ETag", current)
    if_none_match = request.environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None:
        tags = _tags(if_none_match)
        if "*" in tags or any(_weak_match(tag, current) for tag in tags):
            response.status = 304
            response.body = b""


__all__ = ["body_etag", "etag", "evaluate", "http_date"]
