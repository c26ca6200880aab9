"""The Resource base class (public as ``kata.resource.Resource``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any, ClassVar

from kata.router.formats import CONTENT_TYPES, FAST_TYPES, decode, encode, is_form, render_error
from kata.router.jinja import Templates
from kata.router.request import Request
from kata.router.response import Response, Result

_JSON_TYPE = CONTENT_TYPES["json"]
_new_result = tuple.__new__


class Resource:
    """Base class of resources.

    Subclasses define any of ``get``, ``post``, ``put``, ``patch`` and ``delete`` with the
    signature ``(self, request, response, **fields)``. HEAD is answered by ``get`` without
    the body, OPTIONS automatically, and other methods with 405.
    """

    format: str = "json"
    """The route's response format, set by ``add_route``: ``json``, ``msgpack``, ``html`` or ``text``."""

    templates: Templates | None = None
    """The templates of the router the resource is registered on (set by ``add_route``)."""

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
        bytes in msgpack only. The HTML and text formats take a str.

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

        ``application/json`` (with or without ``charset=utf-8``, and ``+json`` types),
        ``application/msgpack`` or ``application/x-msgpack``, and the HTML form encodings
        ``application/x-www-form-urlencoded`` and ``multipart/form-data``: a form gives a
        dict where a field sent once maps to its value and a repeated field to the list of
        its values; text fields are str, files :class:`kata.router.forms.UploadedFile`. Only
        values the route's format can send back are accepted (bin values on msgpack routes only).

        Raises:
            HTTPError: 400 for an empty or malformed body or a value outside kata.codec's value
                rules (with the decoder's message), 415 for
                a missing or unsupported Content-Type, 413 for a body over the router's limits
                (``max_body_size``, and for multipart ``max_upload_size`` and ``max_part_size``).
        """
        cache = request.__dict__
        if "_decoded_body" in cache:
            return cache["_decoded_body"]
        content_type = request.content_type
        if content_type in FAST_TYPES or not is_form(content_type):
            value = decode(content_type, request.body, self.format)
        else:
            from kata.router import forms  # loaded by the first form only

            if content_type.lstrip()[:9].lower() == "multipart":
                value = forms.read_multipart(request)
            else:
                value = forms.read_urlencoded(request)
        cache["_decoded_body"] = value
        return value

    def stream(self, chunks: Iterable[bytes], content_type: str | None = None, status: int = 200) -> Result:
        """A response whose body is *chunks*, an iterable of bytes, sent as it is produced.

        The server sends it with chunked encoding (no Content-Length). *content_type* is the
        route's format's by default. The iterable's ``close()``, when it has one (generators
        do), runs once the response is over, also when the client went away.
        """
        from kata.router.streams import Stream, stream_result

        return stream_result(status, Stream(chunks), content_type or CONTENT_TYPES[self.format])

    def file(
        self,
        request: Request,
        response: Response,
        file: str | os.PathLike[str] | IO[bytes],
        content_type: str | None = None,
    ) -> Result:
        """A response that sends *file* (a path, or a binary file object on a regular file).

        The content type is nginx's for the file name's extension unless given. The response
        carries ``ETag``, ``Last-Modified`` and ``Accept-Ranges``; conditional requests get a
        304 (or 412), one byte range a 206, a range past the end a 416; the whole file goes
        through the server's ``wsgi.file_wrapper`` when it has one. A path naming no file is a
        404. See :func:`kata.router.files.file_response`.
        """
        from kata.router.files import file_response

        return file_response(request, response, file, content_type)

    def render(self, template: str, /, **context: Any) -> Result:
        """Render a Jinja2 *template* from the router's templates folder as a 200 HTML response.

        ``return self.render("fortunes.html", fortunes=rows)``. Autoescaping is on; an
        undefined variable is an error. Needs ``kata-router[html]`` and the router's
        ``templates`` setting. For another status: ``self.render(...)._replace(status=404)``.
        """
        if self.templates is None:
            raise RuntimeError(f"{type(self).__qualname__} is not registered on a router: no templates")
        return Result(200, self.templates.render(template, context), CONTENT_TYPES["html"])
