"""kata's web layer: URL templates, the WSGI application, requests, responses and errors.

The default router backs the module-level functions, which is what an application uses::

    import kata.router
    import myproject.resource.foo

    kata.router.add_route('/foo/bar/{baz}', myproject.resource.foo.Bar)
    app = kata.router.app()          # the WSGI callable, e.g. for gunicorn

``Router()`` makes an independent table with the same methods; it is a WSGI callable too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kata.router.access import Observer, request_id
from kata.router.app import Router
from kata.router.errorhandlers import ErrorHandler
from kata.router.errors import HTTPError, RouteError
from kata.router.groups import RouteGroup
from kata.router.headers import Headers
from kata.router.hooks import Hook
from kata.router.options import Options
from kata.router.request import Request
from kata.router.response import Response, Result
from kata.router.settings import ConfigurationError, Cors, Settings, check
from kata.router.table import RouteInfo

__all__ = [
    "ConfigurationError",
    "Cors",
    "ErrorHandler",
    "HTTPError",
    "Headers",
    "Hook",
    "Observer",
    "Options",
    "Request",
    "Response",
    "Result",
    "RouteError",
    "RouteGroup",
    "RouteInfo",
    "Router",
    "Settings",
    "add_error_handler",
    "add_observer",
    "add_route",
    "app",
    "check",
    "configure",
    "default_router",
    "group",
    "initialize",
    "request_id",
    "routes",
    "url_for",
]

_default = Router()


def default_router() -> Router:
    """The router behind :func:`add_route`, :func:`app` and :func:`routes`."""
    return _default


def add_route(
    template: str,
    resource_class: type,
    format: str = "json",
    *,
    name: str | None = None,
    before: Iterable[Hook] = (),
    after: Iterable[Hook] = (),
) -> RouteInfo:
    """Register *resource_class* for *template* on the default router.

    *format* is the response format of the route: ``json`` (the default), ``msgpack`` or
    ``html``. *name* names the route for :func:`url_for`; *before* and *after* are hooks of
    this route only. See :meth:`Router.add_route` for the template syntax and the errors.
    """
    return _default.add_route(template, resource_class, format, name=name, before=before, after=after)


def group(prefix: str, *, before: Iterable[Hook] = (), after: Iterable[Hook] = ()) -> RouteGroup:
    """Routes of the default router under *prefix*; see :meth:`Router.group`."""
    return _default.group(prefix, before=before, after=after)


def url_for(target: str | type, /, **fields: Any) -> str:
    """The path of a default-router route by name or resource class; see :meth:`Router.url_for`."""
    return _default.url_for(target, **fields)


def app() -> Router:
    """The default router's WSGI application.

    Routes added later are served too, so an application may create the app first and
    import its route modules afterwards.
    """
    return _default


def routes() -> list[RouteInfo]:
    """The default router's routes: template, resource class, format and allowed methods."""
    return _default.routes()


def add_error_handler(exc_type: type[Exception], handler: ErrorHandler) -> None:
    """Answer exceptions of *exc_type* with *handler* on the default router.

    ``handler(request, response, exc)`` returns like a resource method; see
    :meth:`Router.add_error_handler`::

        def not_found(request, response, exc):
            return Result(404, b'{"message": "no such item"}', "application/json")

        kata.router.add_error_handler(LookupError, not_found)
    """
    _default.add_error_handler(exc_type, handler)


def add_observer(observer: Observer) -> None:
    """Call ``observer(request, response, seconds)`` after every request of the default router."""
    _default.add_observer(observer)


def configure(**changes: Any) -> None:
    """Change settings of the default router; see :meth:`Router.configure`."""
    _default.configure(**changes)


def initialize(section: Mapping[str, Any] | None) -> Settings:
    """Apply the ``web`` configuration section to the default router and return it typed.

    The section is checked first (:func:`check`); when it is wrong, ConfigurationError is
    raised and the router keeps its previous settings. Keys left out take their defaults.
    """
    settings = check(section)
    _default.apply(settings)
    return settings
