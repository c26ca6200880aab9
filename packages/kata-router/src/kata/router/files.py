"""File responses: validators, conditional requests and byte ranges, then a streamed body.

Used by ``Resource.file`` and by the static-files app (:mod:`kata.router.static`). The
headers are those nginx sends for a static file: ``Last-Modified``, an ``ETag`` made of the
modification time and size in hex (nginx's form, so both give a file the same tag) and
``Accept-Ranges: bytes``.
"""

from __future__ import annotations

import os
import re
import stat
from email.utils import formatdate
from typing import IO, TYPE_CHECKING, Final

from kata.router.conditional import evaluate, http_date
from kata.router.errors import HTTPError
from kata.router.nginx_types import DEFAULT_TYPE, TYPES
from kata.router.response import Result
from kata.router.streams import Stream, stream_result

if TYPE_CHECKING:
    from kata.router.request import Request
    from kata.router.response import Response

_RANGE: Final = re.compile(r"bytes=(\d*)-(\d*)")


def content_type_for(name: str) -> str:
    """nginx's content type for file *name*, from its extension (any case)."""
    base = name.rpartition("/")[2]
    dot = base.rfind(".")
    if dot < 0:
        return DEFAULT_TYPE
    return TYPES.get(base[dot + 1 :].lower(), DEFAULT_TYPE)


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The one range (first, last) asked for, or None to send the whole file.

    A header that is not one well-formed ``bytes=`` range (a list of ranges, another unit,
    bad syntax) is ignored, as RFC 9110 14.2 allows: the whole file is sent with a 200.

    Raises:
        HTTPError: 416 when the range lies beyond the end of the file.
    """
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        if not last:
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(0, size - suffix), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # invalid syntax: ignored
    if start >= size:
        raise _unsatisfiable(size)
    return start, min(end, size - 1)


def _unsatisfiable(size: int) -> HTTPError:
    return HTTPError(
        416,
        f"the requested range is not within the {size} bytes of the file",
        [("Content-Range", f"bytes */{size}")],
    )


def file_response(
    request: Request,
    response: Response,
    file: str | os.PathLike[str] | IO[bytes],
    content_type: str | None = None,
) -> Result:
    """Answer *request* with *file*: a path, or a binary file object opened on a regular file.

    Sets ``ETag``, ``Last-Modified`` and ``Accept-Ranges`` on *response*, then answers 304
    or 412 per the request's preconditions, 206 with ``Content-Range`` for one satisfiable
    ``Range`` (honouring ``If-Range``), or 200 with the whole file. The file is closed when
    the body has been sent, or at once when no body is sent.

    Raises:
        HTTPError: 404 when a path names no readable regular file, 416 for a range beyond
            the end of the file (with ``Content-Range: bytes */<size>``).
    """
    if isinstance(file, (str, os.PathLike)):
        name = os.fspath(file)
        try:
            opened: IO[bytes] = open(name, "rb")  # noqa: SIM115 - closed by the stream
        except OSError:
            raise HTTPError(404, "no such file") from None
    else:
        opened = file
        name = str(getattr(file, "name", ""))
    try:
        info = os.fstat(opened.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise HTTPError(404, "no such file")
        kind = content_type or content_type_for(name)
        return _respond(request, response, opened, info.st_size, int(info.st_mtime), kind)
    except BaseException:
        opened.close()
        raise


def _respond(
    request: Request, response: Response, file: IO[bytes], size: int, mtime: int, content_type: str
) -> Result:
    etag = f'"{mtime:x}-{size:x}"'
    response.set_header("Last-Modified", formatdate(mtime, usegmt=True))
    response.set_header("ETag", etag)
    outcome = evaluate(request, etag, mtime)
    if outcome == 304:
        file.close()
        return Result(304, b"", content_type)
    if outcome == 412:
        raise HTTPError(412, "a precondition of the request does not hold for the file")
    header = request.environ.get("HTTP_RANGE")
    if (
        header is not None
        and request.environ.get("REQUEST_METHOD") == "GET"
        and _if_range(request, etag, mtime)
    ):
        chosen = _byte_range(header, size)
        if chosen is not None:
            first, last = chosen
            response.set_header("Content-Range", f"bytes {first}-{last}/{size}")
            return stream_result(206, Stream(file=file, offset=first, length=last - first + 1), content_type)
    # As nginx: only a whole file says ranges may be asked for (not a 206 or a 304).
    response.set_header("Accept-Ranges", "bytes")
    return stream_result(200, Stream(file=file, length=size), content_type)


def _if_range(request: Request, etag: str, mtime: int) -> bool:
    """Whether a Range applies: no If-Range, or one naming the current version (RFC 9110 13.1.5)."""
    header = request.environ.get("HTTP_IF_RANGE")
    if header is None:
        return True
    condition = str(header).strip()
    if condition.startswith('"'):
        return condition == etag
    return http_date(condition) == mtime


__all__ = ["content_type_for", "file_response"]
