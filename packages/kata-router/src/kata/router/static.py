"""A WSGI app that serves a folder of static files at a URL prefix, as nginx would.

The guide deploys behind nginx with ``location /static/ { alias .../static/; }``; this app
answers the same requests the same way for development and tests::

    from kata.router.static import StaticFiles

    app = StaticFiles("static", "/static/", app=kata.router.app())

Paths under the prefix are files of the folder: nginx's content types (its ``mime.types``,
``application/octet-stream`` otherwise), ``ETag``, ``Last-Modified``, ``Accept-Ranges``, no
``Cache-Control``; conditional requests and byte ranges as :mod:`kata.router.files` answers
them. Other paths go to *app* (a 404 without one). A path that would leave the folder
(``..`` segments, also percent-encoded, or a symlink pointing outside) is a 404.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any, Final

from kata.router.errors import HTTPError
from kata.router.files import file_response
from kata.router.formats import CONTENT_TYPES, render_error
from kata.router.request import Request
from kata.router.response import Response
from kata.router.status import STATUS_LINES
from kata.router.streams import send_stream, streamed

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_HTML: Final = CONTENT_TYPES["html"]
_ALLOW: Final = "GET, HEAD"


class StaticFiles:
    """Serve the files of *directory* under the URL *prefix*; pass other paths to *app*.

    Args:
        directory: the folder to serve (its real path is taken once, here).
        prefix: the URL path it appears at, with slashes at both ends (``/static/``).
        app: the WSGI app for paths outside the prefix; without one they are 404s.

    Raises:
        ValueError: *directory* is not a folder, or *prefix* does not start and end with ``/``.
    """

    def __init__(
        self, directory: str | os.PathLike[str], prefix: str = "/static/", app: WSGIApp | None = None
    ) -> None:
        root = os.path.realpath(os.fspath(directory))
        if not os.path.isdir(root):
            raise ValueError(f"static files: {root} is not a directory")
        if not (prefix.startswith("/") and prefix.endswith("/")):
            raise ValueError(f"static files: the prefix must start and end with '/', got {prefix!r}")
        self.directory = root
        self.prefix = prefix
        self.app = app
        self._root = os.fsencode(root)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Serve one request (the WSGI entry point)."""
        path = environ.get("PATH_INFO") or "/"
        if not path.startswith(self.prefix):
            if self.app is not None:
                return self.app(environ, start_response)
            return _error(environ, start_response, 404, "not found", [])
        method = environ["REQUEST_METHOD"]
        if method not in ("GET", "HEAD"):
            return _error(
                environ, start_response, 405, "static files answer GET and HEAD", [("Allow", _ALLOW)]
            )
        # PATH_INFO holds the decoded path's bytes as latin-1 (PEP 3333): %2e%2e is ".." here.
        target = self._find(path[len(self.prefix) :].encode("latin-1"))
        if target is None:
            return _error(environ, start_response, 404, "not found", [])
        if not os.path.isdir(target):
            return _send_file(environ, start_response, target)
        if not path.endswith("/"):
            # nginx's answer for a folder named without its slash: a redirect that adds it.
            query = environ.get("QUERY_STRING")
            location = environ.get("SCRIPT_NAME", "") + path + "/" + (f"?{query}" if query else "")
            start_response(
                STATUS_LINES[301], [("Location", location), ("Content-Type", _HTML), ("Content-Length", "0")]
            )
            return []
        index = os.path.join(target, b"index.html")
        if not os.path.isfile(index):
            return _error(environ, start_response, 403, "directory listing is off", [])
        return _send_file(environ, start_response, index)

    def _find(self, rest: bytes) -> bytes | None:
        """The real path of *rest* inside the folder, or None when it names nothing there."""
        segments = rest.split(b"/")
        if any(segment == b".." or b"\0" in segment for segment in segments):
            return None
        real = os.path.realpath(os.path.join(self._root, *segments))
        if real != self._root and not real.startswith(self._root + b"/"):
            return None  # a symlink leads outside the folder
        if not os.path.exists(real) or (rest.endswith(b"/") and not os.path.isdir(real)):
            return None
        return real


def _send_file(environ: dict[str, Any], start_response: Callable[..., Any], target: bytes) -> Iterable[bytes]:
    request, response = Request(environ), Response()
    try:
        result = file_response(request, response, os.fsdecode(target))
    except HTTPError as exc:
        return _error(environ, start_response, exc.status, exc.message, exc.headers)
    stream = streamed(result)
    if stream is not None:
        return send_stream(
            environ, start_response, result.status, stream, result.content_type, response.headers
        )
    start_response(STATUS_LINES[result.status], response.headers)  # a 304: no body, no Content-Type
    return []


def _error(
    environ: dict[str, Any],
    start_response: Callable[..., Any],
    status: int,
    message: str,
    headers: list[tuple[str, str]],
) -> Iterable[bytes]:
    body = render_error("html", status, message)
    start_response(
        STATUS_LINES[status], [("Content-Type", _HTML), ("Content-Length", str(len(body))), *headers]
    )
    return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]


__all__ = ["StaticFiles"]
