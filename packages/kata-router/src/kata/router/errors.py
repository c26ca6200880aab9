"""The exceptions of kata.router: one for HTTP responses, one for bad route registrations."""

from __future__ import annotations

from collections.abc import Iterable

from kata.router.status import reason


class HTTPError(Exception):
    """An error response, raised from anywhere a request passes through.

    Raise it in a resource method, a hook or a helper they call; the router renders it in the
    matched route's format (JSON by default) as ``{"status": ..., "error": ..., "message": ...}``
    with *status* as the HTTP status and *headers* added to the response::

        raise kata.router.HTTPError(404, "no such user: 42")

    Args:
        status: an HTTP status code from 400 to 599.
        message: text for the client; it is sent as is, so it must not contain secrets.
        headers: extra response headers, e.g. ``{"Retry-After": "30"}``.
    """

    status: int
    message: str
    headers: list[tuple[str, str]]

    def __init__(
        self,
        status: int,
        message: str,
        headers: dict[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> None:
        if type(status) is not int or not 400 <= status <= 599:
            raise ValueError(f"HTTPError status must be an int from 400 to 599, got {status!r}")
        super().__init__(status, message)
        self.status = status
        self.message = message
        if headers is None:
            self.headers = []
        elif isinstance(headers, dict):
            self.headers = list(headers.items())
        else:
            self.headers = list(headers)

    @property
    def reason(self) -> str:
        """The standard reason phrase of the status, e.g. ``"Not Found"``."""
        return reason(self.status)

    def __str__(self) -> str:
        return f"{self.status} {self.reason}: {self.message}"


class RouteError(ValueError):
    """A template, resource class or format that cannot be registered.

    Raised by ``add_route`` so that a bad route table fails when the application starts, not
    when the first request arrives. The message names the template and what is wrong with it.
    """
