"""Reading the request body from the server's input stream, with its failures as 400s.

A server reports a broken upload by raising from ``wsgi.input.read``: a bad chunk size, a
truncated chunk or a missing terminator in a chunked body, a client that went away. Those
are the client's doing, so they become a 400 naming the problem, never a 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

from kata.router.errors import HTTPError

if TYPE_CHECKING:
    from kata.router.request import Request


def input_error(exc: Exception) -> HTTPError:
    """The 400 for an exception raised by the server's input stream."""
    detail = str(exc)
    if len(detail) > 80:
        detail = detail[:80] + "..."
    name = type(exc).__name__
    return HTTPError(400, f"the request body could not be read: {name}{': ' + detail if detail else ''}")


def read_stream(stream: IO[bytes], size: int) -> bytes:
    """``stream.read(size)``, with a failure of the stream as a 400."""
    try:
        return stream.read(size)
    except Exception as exc:
        raise input_error(exc) from exc


def read_input(request: Request, size: int) -> Iterator[bytes]:
    """Yield the request body in chunks of at most *size* bytes, without keeping it.

    Follows the rules of ``request.body``: Content-Length bytes, or everything up to the end
    when the server marks the input as terminated (chunked uploads), else nothing. A body
    already read through ``request.body`` is yielded from there.

    Raises:
        HTTPError: 400 for an invalid Content-Length, a body shorter than announced or a
            stream that fails.
    """
    if "body" in request.__dict__:
        if request.body:
            yield request.body
        return
    stream = request.environ["wsgi.input"]
    remaining = request.content_length
    if remaining is None and not request.environ.get("wsgi.input_terminated"):
        return
    expected = remaining
    while remaining is None or remaining > 0:
        chunk = read_stream(stream, size if remaining is None else min(size, remaining))
        if not chunk:
            if remaining is not None and expected is not None:
                got = expected - remaining
                raise HTTPError(400, f"the request body ended after {got} of {expected} bytes")
            return
        if remaining is not None:
            remaining -= len(chunk)
        yield chunk
