"""The Resource base class (public as ``kata.resource.Resource``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from kata.router.formats import CONTENT_TYPES, decode, encode, render_error
from kata.router.request import Request
from kata.router.response import Result

_JSON_TYPE = CONTENT_TYPES["json"]
_new_result = tuple.__new__


class Resource:
    """Base class of resources.

    Subclasses define any of ``get``, ``post``, ``put``, ``patch`` and ``delete`` with the
    signature ``(self, request, response, **fields)``. HEAD is answered by ``get`` without
    the body, OPTIONS automatically, and other methods with 405.
    """

    format: str = "json"
    """The route's response format, set by ``add_route``: ``json``, ``msgpack`` or ``html``."""

    before_hooks: ClassVar[Sequence[Callable[..., Any]]] = ()
    """Hooks ``hook(request, response)`` run before this resource's methods, on every route that
    serves it (after the router's and the route's own before-hooks)."""
    after_hooks: ClassVar[Sequence[Callable[..., Any]]] = ()
    """Hooks run after this resource's methods returned (before the route's after-hooks)."""

    def success(self, data: Any, status: int = 200) -> Result:
        """Encode *data* in the route's format as a response with *status*.

        JSON and msgpack follow kata's value rules: dicts, lists, str, numbers, bool and None
        as themselves; datetime, date and time as ISO 8601 strings; Decimal and UUID as
        strings; objects with ``to_dict()`` (such as ``kata.db`` models) as that mapping;
        bytes in msgpack only. The HTML format takes a str.

        Raises:
            TypeError: *data* has no form in the route's format (a 500 for the client, with
                the type named in the log).
        """
        if self.format == "json":
            # The common case first, without the dispatch of encode().
            return _new_result(Result, (status, encode("json", data), _JSON_TYPE))
        return _new_result(Result, (status, encode(self.format, data), CONTENT_TYPES[self.format]))

    def error(self, status: int, message: str) -> Result:
        """An error response in the route's format, the same as ``raise HTTPError(status, message)``.

        The body is ``{"status": ..., "error": <reason phrase>, "message": message}`` (an HTML
        page for HTML routes).
        """
        if type(status) is not int or not 400 <= status <= 599:
            raise ValueError(f"error status must be an int from 400 to 599, got {status!r}")
        return Result(status, render_error(self.format, status, message), CONTENT_TYPES[self.format])

    def body(self, request: Request) -> Any:
        """Decode the request body according to its Content-Type, once per request.

        ``application/json`` (with or without ``charset=utf-8``, and ``+json`` types) and
        ``application/msgpack`` or ``application/x-msgpack``. Only values the route's format
        can send back are accepted (kata.codec's value rules; bin values on msgpack routes only).

        Raises:
            HTTPError: 400 for an empty or malformed body or a value outside the rules (with the
                decoder's message), 415 for
                a missing or unsupported Content-Type, 413 for a body over the router's limit.
        """
        cache = request.__dict__
        if "_decoded_body" in cache:
            return cache["_decoded_body"]
        value = decode(request.content_type, request.body, self.format)
        cache["_decoded_body"] = value
        return value
