"""The router: a route table that is itself a WSGI application."""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, cast

import msgspec

from kata.router.access import Instrument, Observer
from kata.router.cors import CorsPolicy
from kata.router.errorhandlers import ErrorHandler, ErrorHandlers
from kata.router.errors import HTTPError, RouteError
from kata.router.formats import CONTENT_TYPES, FORMATS, render_error
from kata.router.groups import RouteGroup
from kata.router.hooks import Hook, hook_tuple, with_hooks
from kata.router.hosts import check_host
from kata.router.jinja import Templates
from kata.router.logsafe import escape, request_path
from kata.router.options import Options
from kata.router.request import Request, wsgi_text
from kata.router.resource import Resource
from kata.router.response import Response, Result
from kata.router.reverse import Reverser
from kata.router.settings import (
    MAX_BODY_SIZE,
    MAX_FORM_PARTS,
    MAX_PART_SIZE,
    MAX_QUERY_LENGTH,
    MAX_UPLOAD_SIZE,
    Cors,
    Settings,
    check,
)
from kata.router.status import STATUS_LINES
from kata.router.streams import Stream, stream_headers
from kata.router.table import Route, RouteInfo, RouteTable
from kata.router.template import Field, Segment

_log = logging.getLogger("kata.router")

StartResponse = Callable[..., Any]

# The methods a resource can define, in the order the Allow header lists them.
METHODS: Final = ("get", "post", "put", "patch", "delete")


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


class Router:
    """An independent route table and the WSGI application that serves it.

    ``kata.router.add_route`` and ``kata.router.app()`` use the default router; create more
    for tests, sub-applications or benchmarks::

        router = Router(max_body_size=64 * 1024, trusted_proxies=["127.0.0.1"])
        router.add_route("/foo/bar/{baz}", Bar)
        # router is the WSGI callable: gunicorn myproject:router

    Routes may be added while the router serves: a route added after the application was
    handed to the server is served too.

    Keyword Args:
        max_body_size: the largest request body in bytes (default 1 MiB); larger is a 413.
        max_query_length: the longest query string (default 8192 characters); longer is a 414
            when the handler reads the query parameters.
        trusted_proxies: addresses or networks (``"10.0.0.0/8"``) of proxies whose
            ``X-Forwarded-For`` header gives ``request.remote_addr``; by default none.
        default_format: the format of responses that match no route (404 and errors before
            routing): ``json``, ``msgpack``, ``html`` or ``text``.
        max_upload_size: the largest ``multipart/form-data`` body in bytes (default 16 MiB);
            its files stream to temporary files, so it may be far above max_body_size.
        max_part_size: the largest part of a multipart form in bytes (default 16 MiB).
        max_form_parts: the most fields in a form (default 1000); more is a 400.
        templates: the folder of the Jinja2 templates ``Resource.render`` uses.
    """

    def __init__(
        self,
        *,
        max_body_size: int = MAX_BODY_SIZE,
        max_query_length: int = MAX_QUERY_LENGTH,
        trusted_proxies: Iterable[str] = (),
        default_format: str = "json",
        allowed_hosts: Iterable[str] = (),
        cors: Cors | Mapping[str, Any] | None = None,
        access_log: str = "off",
        max_upload_size: int = MAX_UPLOAD_SIZE,
        max_part_size: int = MAX_PART_SIZE,
        max_form_parts: int = MAX_FORM_PARTS,
        templates: str | os.PathLike[str] | None = None,
    ) -> None:
        self._table = RouteTable()
        self._reverser = Reverser()
        self._templates = Templates()
        self._user_before: tuple[Hook, ...] = ()
        self._user_after: tuple[Hook, ...] = ()
        self._before: tuple[Hook, ...] = ()
        self._after: tuple[Hook, ...] = ()
        self._error_handlers = ErrorHandlers()
        self._observers: tuple[Observer, ...] = ()
        self.apply(
            check(
                {
                    "max_body_size": max_body_size,
                    "max_query_length": max_query_length,
                    "trusted_proxies": list(trusted_proxies)
                    if not isinstance(trusted_proxies, str)
                    else trusted_proxies,
                    "default_format": default_format,
                    "allowed_hosts": list(allowed_hosts)
                    if not isinstance(allowed_hosts, str)
                    else allowed_hosts,
                    "cors": msgspec.to_builtins(cors) if isinstance(cors, Cors) else cors,
                    "access_log": access_log,
                    "max_upload_size": max_upload_size,
                    "max_part_size": max_part_size,
                    "max_form_parts": max_form_parts,
                    "templates": None if templates is None else os.fspath(templates),
                }
            )
        )

    # -- configuration ---------------------------------------------------------------------

    def configure(self, **changes: Any) -> None:
        """Change the settings given (keyword arguments named as the class's); the others keep
        their value. A value of None leaves a setting as it is.

        Raises:
            ConfigurationError: a setting is invalid (a ValueError naming it); the router keeps
                its previous settings.
        """
        current = msgspec.to_builtins(self._settings)
        for key, value in changes.items():
            if isinstance(value, os.PathLike):
                value = os.fspath(value)
            if value is not None:
                current[key] = msgspec.to_builtins(value) if isinstance(value, Cors) else value
        self.apply(check(current))

    def apply(self, settings: Settings) -> None:
        """Replace every setting with *settings* (from :func:`kata.router.check`)."""
        # Requests read the options object they started with: swap it whole.
        self._options = Options.from_settings(settings)
        self._settings = settings
        self._default_format = settings.default_format
        self._cors = None if settings.cors is None else CorsPolicy(settings.cors)
        self._instrument = self._make_instrument()
        self._arrange_hooks()
        self._templates.use(settings.templates)

    @property
    def settings(self) -> Settings:
        """The current settings, as :func:`kata.router.check` returns them."""
        return self._settings

    @property
    def options(self) -> Options:
        """The current limits and trusted proxies."""
        return self._options

    def _arrange_hooks(self) -> None:
        """The hooks the request path runs: the settings' own around the application's."""
        before: list[Hook] = []
        after: list[Hook] = list(self._user_after)
        if self._options.allowed_hosts:
            before.append(check_host)
        if self._cors is not None:
            before.append(self._cors.preflight)
            after.append(self._cors.annotate)
        self._before = (*before, *self._user_before)
        self._after = tuple(after)

    def add_error_handler(self, exc_type: type[Exception], handler: ErrorHandler) -> None:
        """Answer exceptions of *exc_type* (and its subclasses) with *handler*.

        ``handler(request, response, exc)`` returns like a resource method: a ``Result``
        (e.g. ``Resource.error`` output or ``Result(404, body, type)``), or None after setting
        ``response.status`` and ``response.body``; it may also raise :class:`HTTPError`. The
        handler registered for the nearest class in the exception's MRO wins, so a handler
        for ``LookupError`` answers ``KeyError`` unless ``KeyError`` has its own. A handler
        may be registered for ``HTTPError`` itself (custom error pages). A handler that
        raises anything else is a 500, logged once.
        """
        self._error_handlers.add(exc_type, handler)

    def add_observer(self, observer: Observer) -> None:
        """Call ``observer(request, response, seconds)`` once for every completed request.

        Observers run for every answer (404, 405 and 500 included) after the after-request
        hooks, with the final status in ``response.status`` and ``request.route.template``
        naming the matched route (``request.route`` is None when nothing matched); *seconds*
        is the time from the start of the request until its response was ready to send. An
        observer that raises is logged on ``kata.router`` and the response goes out as is.
        With no observer and no access log the router skips this step entirely.
        """
        if not callable(observer):
            raise TypeError(f"add_observer expects a callable, got {observer!r}")
        self._observers = (*self._observers, observer)
        self._instrument = self._make_instrument()

    def _make_instrument(self) -> Instrument | None:
        access_log = self._settings.access_log
        if not self._observers and access_log == "off":
            return None
        return Instrument(None if access_log == "off" else access_log, self._observers)

    def before_request(self, hook: Hook) -> Hook:
        """Run ``hook(request, response)`` before each request's resource method.

        Hooks run in the order added, for every request, after routing: ``request.route`` is
        None when no route matched, and 404 and 405 answers come after the hooks (so an auth
        hook may answer 401 first). A hook may raise :class:`HTTPError`, or return a value to
        answer the request itself: ``response`` (as the hook left it) or a ``Result``; the
        resource method and later before-hooks are then skipped. Usable as a decorator.
        """
        self._user_before = (*self._user_before, hook)
        self._arrange_hooks()
        return hook

    def after_request(self, hook: Hook) -> Hook:
        """Run ``hook(request, response)`` after each request, errors included.

        The response then holds the final status, body and content type, which the hook may
        change or add headers to (CORS, request ids, timing). Usable as a decorator.
        """
        self._user_after = (*self._user_after, hook)
        self._arrange_hooks()
        return hook

    # -- routes ----------------------------------------------------------------------------

    def add_route(
        self,
        template: str,
        resource_class: type[Resource],
        format: str = "json",
        *,
        name: str | None = None,
        before: Iterable[Hook] = (),
        after: Iterable[Hook] = (),
    ) -> RouteInfo:
        """Serve *template* with a new instance of *resource_class*, in *format*.

        Templates are paths whose segments are literal text or fields: ``{name}`` (a str),
        ``{name:int}`` (signed 64-bit), ``{name:float}``, ``{name:uuid}``, and as the last
        segment ``{name:path}`` (the rest of the path, slashes included). Fields arrive at the
        resource methods as keyword arguments; a segment that does not convert makes the
        route not match (a 404 unless another route does).

        *name* lets :meth:`url_for` find the route. *before* and *after* are hooks of this
        route only, run around its resource methods after the router's before-hooks (see
        the README's "Hooks" for the order, and ``Resource.before_hooks``).

        Raises:
            RouteError: a malformed template, a template that matches the same paths as one
                already registered, a name already taken, an unknown format, or a class that
                is not a Resource, defines no method, or has a method that cannot take the
                template's fields.
        """
        if format not in FORMATS:
            raise RouteError(
                f"route {template!r}: unknown format {format!r} (use one of {', '.join(FORMATS)})"
            )
        if not isinstance(resource_class, type) or not issubclass(resource_class, Resource):
            raise RouteError(
                f"route {template!r}: expected a subclass of kata.resource.Resource, got {resource_class!r}"
            )
        self._reverser.check_name(template, name)
        hooks = (
            (*hook_tuple(before, "before"), *hook_tuple(resource_class.before_hooks, "before_hooks")),
            (*hook_tuple(resource_class.after_hooks, "after_hooks"), *hook_tuple(after, "after")),
        )
        parsed: list[tuple[Segment, ...]] = []

        def make_route(segments: tuple[Segment, ...]) -> Route:
            parsed.append(segments)
            return _compile(template, segments, resource_class, format, name, hooks, self._templates)

        info = self._table.add(template, make_route).info
        self._reverser.add(template, parsed[0], resource_class, name)
        return info

    def group(self, prefix: str, *, before: Iterable[Hook] = (), after: Iterable[Hook] = ()) -> RouteGroup:
        """Routes under *prefix*, sharing *before* and *after* hooks::

        api = router.group("/api/v1", before=[authenticate])
        api.add_route("/users/{id:int}", User, name="user")  # serves /api/v1/users/{id:int}
        """
        return RouteGroup(self, prefix, before, after)

    def url_for(self, target: str | type[Resource], /, **fields: Any) -> str:
        """The path of a route, from its name or its resource class, with *fields* filled in.

        Values are percent-encoded; each must be one its field would match (an int in the
        64-bit range for ``{id:int}``, a non-empty str without ``/`` for ``{name}``, ...). The
        path is relative to the application's mount point (prepend ``request.script_name``
        when it is mounted below the root).

        Raises:
            RouteError: (a ValueError) an unknown name or class, a class with several routes
                taking these fields, a missing or unexpected field, or a value that would not
                match its field; the message names the field.
        """
        return self._reverser.path(target, fields)

    def routes(self) -> list[RouteInfo]:
        """The routes registered so far, in registration order."""
        return self._table.routes()

    # -- the request path ------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve one request (the WSGI entry point)."""
        response = Response()
        request = Request(environ, self._options)
        instrument = self._instrument
        if instrument is not None:
            started = instrument.begin(environ)
        method = environ["REQUEST_METHOD"]
        route: Route | None = None
        try:
            path = environ.get("PATH_INFO") or "/"
            if not path.isascii() or "\x00" in path:
                path = _odd_path(path)
            found = self._table.find(path)
            if found is not None:
                route, fields = found
                request.route = route.info
                request.fields = fields
            outcome = self._run_before(request, response) if self._before else None
            if outcome is None:
                if route is None:
                    raise HTTPError(404, f"no route matches {_clip(path)}")
                handler = route.handlers.get(method)
                if handler is None:
                    outcome = _unhandled_method(route, method, response)
                else:
                    outcome = handler(request, response, **fields)
            if type(outcome) is Result:
                status, body, content_type = outcome
            else:
                status, body, content_type = self._result(outcome, response, route)
        except Exception as exc:
            status, body, content_type = self._fail(exc, request, response, route)
        if self._after:
            status, body, content_type = self._run_after(request, response, route, status, body, content_type)

        if type(body) is not bytes:
            # Resource.stream / Resource.file: off the path of ordinary responses.
            timing = (instrument, started) if instrument is not None else None
            return self._send_stream(
                request, response, route, (status, body, content_type), start_response, timing
            )
        status_line = STATUS_LINES.get(status)
        if status_line is None:
            _log.error(
                "%s %s: invalid response status %r", escape(method), escape(request_path(environ)), status
            )
            status, body, content_type = self._render_crash(route)
            status_line = STATUS_LINES[status]
        if status == 204 or status == 304:
            headers = []
            body = b""
        else:
            headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        if response._headers:
            headers += response._headers
        if instrument is not None:
            response.status, response.body, response.content_type = status, body, content_type
            instrument.finish(request, response, started, 0 if method == "HEAD" else len(body), headers)
        start_response(status_line, headers)
        if method == "HEAD":
            return []
        return [body]

    def _send_stream(
        self,
        request: Request,
        response: Response,
        route: Route | None,
        result: tuple[int, Any, str],
        start_response: StartResponse,
        timing: tuple[Instrument, Any] | None,
    ) -> Iterable[bytes]:
        """Start a response whose body is a :class:`Stream` and hand the stream to the server."""
        status, body, content_type = result
        environ = request.environ
        method = environ["REQUEST_METHOD"]
        if not isinstance(body, Stream) or status not in STATUS_LINES or status in (204, 304):
            _log.error(
                "%s %s: cannot send status %r with a body of type %s",
                escape(method),
                escape(request_path(environ)),
                status,
                type(body).__qualname__,
            )
            if isinstance(body, Stream):
                body.close()
            status, data, content_type = self._render_crash(route)
            headers = [("Content-Type", content_type), ("Content-Length", str(len(data)))]
            start_response(STATUS_LINES[status], headers + (response._headers or []))
            return [] if method == "HEAD" else [data]
        headers = stream_headers(body, content_type, response._headers)
        if timing is not None:
            # Observers see the Stream as the body, as after-request hooks do.
            response.status, response.body, response.content_type = status, cast(bytes, body), content_type
            sent = 0 if method == "HEAD" else body.length or 0
            timing[0].finish(request, response, timing[1], sent, headers)
        start_response(STATUS_LINES[status], headers)
        if method == "HEAD":
            body.close()
            return []
        return body.iterable(environ)

    def _run_before(self, request: Request, response: Response) -> Any:
        for hook in self._before:
            outcome = hook(request, response)
            if outcome is not None:
                return outcome
        return None

    def _result(self, outcome: Any, response: Response, route: Route | None) -> Result:
        """What a resource method, hook or error handler returned, as the response to send."""
        if type(outcome) is Result:
            return outcome
        if outcome is None or outcome is response:
            body = response.body
            if type(body) is not bytes:
                raise TypeError(f"response.body must be bytes, not {type(body).__qualname__}")
            content_type = (
                response.content_type or CONTENT_TYPES[route.format if route else self._default_format]
            )
            return Result(response.status, body, content_type)
        raise TypeError(
            f"a resource method, hook or error handler returned {type(outcome).__qualname__}: "
            "return self.success(...), self.error(...), the response or None"
        )

    def _fail(self, exc: Exception, request: Request, response: Response, route: Route | None) -> Result:
        """The response for an exception raised while serving *request*.

        A registered error handler answers first (chosen by the exception's MRO); then an
        HTTPError is rendered, and so is an exception whose integer ``http_status`` is a 4xx
        (its text as the message); anything else is a 500, logged once with its traceback.
        """
        handler = self._error_handlers.find(type(exc)) if self._error_handlers else None
        if handler is not None:
            try:
                return self._result(handler(request, response, exc), response, route)
            except HTTPError as error:
                return self._render_error(error, route, response)
            except Exception:
                # The traceback shows the original exception too, as the handler's context.
                self._log_crash(request, f"the error handler for {type(exc).__qualname__} failed")
                return self._render_crash(route)
        if isinstance(exc, HTTPError):
            return self._render_error(exc, route, response)
        status = getattr(exc, "http_status", None)
        if type(status) is int and 400 <= status <= 499:
            format = route.format if route is not None else self._default_format
            return Result(status, render_error(format, status, str(exc)), CONTENT_TYPES[format])
        self._log_crash(request, "failed")
        return self._render_crash(route)

    @staticmethod
    def _log_crash(request: Request, what: str) -> None:
        """Log the exception being handled, with its traceback, and the escaped request line."""
        environ = request.environ
        _log.exception(
            "%s %s %s", escape(environ.get("REQUEST_METHOD", "")), escape(request_path(environ)), what
        )

    def _render_error(self, exc: HTTPError, route: Route | None, response: Response) -> Result:
        """Render *exc* in the route's format and add its headers to *response*."""
        format = route.format if route is not None else self._default_format
        try:
            for name, value in exc.headers:
                response.add_header(name, value)
        except ValueError:
            _log.exception("HTTPError %s carries an invalid header", exc.status)
            return self._render_crash(route)
        return Result(exc.status, render_error(format, exc.status, exc.message), CONTENT_TYPES[format])

    def _render_crash(self, route: Route | None) -> Result:
        """The 500 response: no exception text reaches the client (it is in the log)."""
        format = route.format if route is not None else self._default_format
        return Result(500, render_error(format, 500, "internal server error"), CONTENT_TYPES[format])

    def _run_after(
        self,
        request: Request,
        response: Response,
        route: Route | None,
        status: int,
        body: bytes,
        content_type: str,
    ) -> tuple[int, bytes, str]:
        response.status, response.body, response.content_type = status, body, content_type
        try:
            for hook in self._after:
                hook(request, response)
            body_after: object = response.body  # bytes, or the Stream of a streamed response
            if type(body_after) is not bytes and not isinstance(body_after, Stream):
                raise TypeError(f"response.body must be bytes, not {type(body_after).__qualname__}")
            format = route.format if route is not None else self._default_format
            # A Result checks the content type an after-hook may have set.
            return Result(response.status, response.body, response.content_type or CONTENT_TYPES[format])
        except HTTPError as exc:
            return self._render_error(exc, route, response)
        except Exception:
            self._log_crash(request, "failed in an after-request hook")
            return self._render_crash(route)


def _odd_path(path: str) -> str:
    """A path that is not plain ASCII: decoded as UTF-8; a NUL byte in it is a 400."""
    path = wsgi_text(path, "request path")
    if "\x00" in path:
        raise HTTPError(400, "the request path contains a NUL byte")
    return path


def _unhandled_method(route: Route, method: str, response: Response) -> Response:
    """Answer OPTIONS with the route's methods; any other method it lacks is a 405."""
    if method == "OPTIONS":
        response.status = 204
        response.set_header("Allow", route.allow)
        return response
    raise HTTPError(405, f"method {_clip(method, 20)} is not allowed here", [("Allow", route.allow)])


def _compile(
    template: str,
    segments: tuple[Segment, ...],
    cls: type[Resource],
    format: str,
    name: str | None,
    hooks: tuple[tuple[Hook, ...], tuple[Hook, ...]],
    templates: Templates,
) -> Route:
    """Build the dispatch entry of one route: instance, bound methods, Allow header."""
    names = tuple(seg.name for seg in segments if isinstance(seg, Field))
    defined = [name for name in METHODS if callable(getattr(cls, name, None))]
    if not defined:
        raise RouteError(
            f"route {template!r}: {cls.__qualname__} defines none of {', '.join(METHODS)}, so it answers nothing"
        )
    for method in defined:
        _check_fields(template, cls, method, names)
    try:
        resource = cls()
    except Exception as exc:
        raise RouteError(f"route {template!r}: {cls.__qualname__}() failed: {exc}") from exc
    resource.format = format
    resource.templates = templates
    handlers: dict[str, Callable[..., Any]] = {
        method.upper(): with_hooks(getattr(resource, method), *hooks) for method in defined
    }
    methods = [method.upper() for method in defined]
    if "GET" in handlers:
        handlers["HEAD"] = handlers["GET"]
        methods.insert(1, "HEAD")
    methods.append("OPTIONS")
    info = RouteInfo(template, cls, format, tuple(methods), name)
    return Route(info, names, handlers)


def _check_fields(template: str, cls: type, method_name: str, names: tuple[str, ...]) -> None:
    """Fail now if ``cls.<method_name>(request, response, **fields)`` would be a TypeError."""
    method = getattr(cls, method_name)
    try:
        signature = inspect.signature(method)
    except (TypeError, ValueError):  # no introspectable signature: nothing to check
        return
    try:
        signature.bind(None, None, None, **dict.fromkeys(names))
    except TypeError as exc:
        fields = ", ".join(names) or "no fields"
        raise RouteError(
            f"route {template!r}: {cls.__qualname__}.{method_name}(self, request, response, ...) "
            f"cannot take the template's fields ({fields}): {exc}"
        ) from None
