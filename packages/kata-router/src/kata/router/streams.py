"""Response bodies sent in pieces: iterables of bytes and files.

A resource returns ``self.stream(...)`` or ``self.file(...)``: a :class:`Result` whose body is
a :class:`Stream` instead of bytes. The router hands the stream to the WSGI server as the
response iterable, so a large body is never built in memory. A whole file goes through the
server's ``wsgi.file_wrapper`` when it has one (gunicorn sends it with ``sendfile``); a byte
range of a file is read and sent in blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, Final, cast

from kata.router.response import Result
from kata.router.status import STATUS_LINES

BLOCK_SIZE: Final = 64 * 1024
"""How much of a file is read per piece sent."""


class Stream:
    """A response body that is not held in memory.

    Build it through ``Resource.stream`` or ``Resource.file`` rather than directly.

    Attributes:
        length: the body's length in bytes when known (sent as Content-Length); without it
            the server ends the body with chunked encoding or by closing the connection.
    """

    __slots__ = ("_chunks", "_file", "_offset", "length")

    def __init__(
        self,
        chunks: Iterable[bytes] | None = None,
        *,
        file: IO[bytes] | None = None,
        offset: int = 0,
        length: int | None = None,
    ) -> None:
        self._chunks = chunks
        self._file = file
        self._offset = offset
        self.length = length

    def iterable(self, environ: dict[str, Any]) -> Iterable[bytes]:
        """What the WSGI application returns to the server for this body."""
        file = self._file
        if file is None:
            assert self._chunks is not None
            return self._chunks
        wrapper = environ.get("wsgi.file_wrapper")
        if wrapper is not None and self._offset == 0 and self.length is not None:
            file.seek(0)
            # Servers that send the file themselves (sendfile) stop at Content-Length.
            return wrapper(file, BLOCK_SIZE)  # type: ignore[no-any-return]
        return _FileRange(file, self._offset, self.length)

    def close(self) -> None:
        """Release the file or iterable without sending it (HEAD, or an error)."""
        target: Any = self._file if self._file is not None else self._chunks
        close = getattr(target, "close", None)
        if close is not None:
            close()


class _FileRange:
    """*length* bytes of *file* from *offset* (to the end when None), in blocks; closes the file."""

    def __init__(self, file: IO[bytes], offset: int, length: int | None) -> None:
        self._file = file
        self._offset = offset
        self._length = length

    def __iter__(self) -> Iterator[bytes]:
        file = self._file
        file.seek(self._offset)
        remaining = self._length
        while remaining is None or remaining > 0:
            block = file.read(BLOCK_SIZE if remaining is None else min(BLOCK_SIZE, remaining))
            if not block:
                return
            if remaining is not None:
                remaining -= len(block)
            yield block

    def close(self) -> None:
        self._file.close()


def stream_result(status: int, stream: Stream, content_type: str) -> Result:
    """A :class:`Result` whose body is *stream* (the router checks the body's type)."""
    return Result(status, cast(bytes, stream), content_type)


def streamed(result: Result) -> Stream | None:
    """The :class:`Stream` body of *result*, or None when its body is bytes."""
    body: object = result.body
    return body if isinstance(body, Stream) else None


def stream_headers(
    stream: Stream, content_type: str, extra: list[tuple[str, str]] | None
) -> list[tuple[str, str]]:
    """The response headers of *stream*: its type, its length when known, then *extra*."""
    headers = [("Content-Type", content_type)]
    if stream.length is not None:
        headers.append(("Content-Length", str(stream.length)))
    if extra:
        headers += extra
    return headers


def send_stream(
    environ: dict[str, Any],
    start_response: Callable[..., Any],
    status: int,
    stream: Stream,
    content_type: str,
    extra: list[tuple[str, str]] | None,
) -> Iterable[bytes]:
    """Start a response whose body is *stream*; returns the iterable for the server.

    The status must be a known code (the caller checked); HEAD gets the headers only.
    """
    start_response(STATUS_LINES[status], stream_headers(stream, content_type, extra))
    if environ["REQUEST_METHOD"] == "HEAD":
        stream.close()
        return []
    return stream.iterable(environ)


__all__ = ["BLOCK_SIZE", "Stream", "send_stream", "stream_headers", "stream_result", "streamed"]
