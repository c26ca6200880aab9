"""Per-route and per-resource hooks, compiled into the route's handlers at registration.

A route without its own hooks keeps its bound methods as they are: the request path pays for
these hooks only on the routes that have them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from kata.router.request import Request
from kata.router.response import Response, Result

Hook = Callable[[Request, Response], Any]
"""A before- or after-request hook: ``hook(request, response)``."""
Handler = Callable[..., Any]


def hook_tuple(hooks: Iterable[Hook], what: str) -> tuple[Hook, ...]:
    """*hooks* as a tuple, each checked to be callable (TypeError naming *what* otherwise)."""
    if callable(hooks):
        raise TypeError(f"{what} takes a list of hooks, not one hook")
    checked = tuple(hooks)
    for hook in checked:
        if not callable(hook):
            raise TypeError(f"{what}: {hook!r} is not callable")
    return checked


def with_hooks(method: Handler, before: tuple[Hook, ...], after: tuple[Hook, ...]) -> Handler:
    """Wrap a resource method so that *before* hooks run first and *after* hooks last.

    A before-hook that returns a value answers the request (the method and later hooks are
    skipped, the after-hooks still run). After-hooks see the method's answer in ``response``
    (a ``Result`` is copied there) and may change it; they do not run when the method raises,
    which error handlers and the router's after-hooks deal with.
    """
    if not before and not after:
        return method

    def handle(request: Request, response: Response, **fields: Any) -> Any:
        for hook in before:
            outcome = hook(request, response)
            if outcome is not None:
                break
        else:
            outcome = method(request, response, **fields)
        if not after:
            return outcome
        if type(outcome) is Result:
            response.status, response.body, response.content_type = outcome
        elif outcome is not None and outcome is not response:
            return outcome  # not an answer: the router reports it
        for hook in after:
            hook(request, response)
        return response

    return handle
