"""Cross-origin resource sharing as the Fetch standard defines it (https://fetch.spec.whatwg.org/).

The router runs :meth:`CorsPolicy.preflight` as its first before-hook and
:meth:`CorsPolicy.annotate` as its last after-hook, only when CORS is configured.
"""

from __future__ import annotations

from typing import Final

from kata.router.request import Request
from kata.router.response import Response
from kata.router.settings import Cors

# Set on a request seen as a preflight (answered or refused): the after-hook leaves it alone.
_PREFLIGHT_FLAG: Final = "_cors_preflight"


class CorsPolicy:
    """One router's CORS settings, prepared for the request path."""

    __slots__ = (
        "any_header",
        "any_method",
        "any_origin",
        "credentials",
        "expose",
        "headers",
        "max_age",
        "methods",
        "origins",
    )

    def __init__(self, settings: Cors) -> None:
        self.any_origin = settings.allow_origins == ["*"]
        self.origins = frozenset(settings.allow_origins)
        self.any_method = "*" in settings.allow_methods
        self.methods = frozenset(settings.allow_methods)
        self.any_header = "*" in settings.allow_headers
        self.headers = frozenset(name.lower() for name in settings.allow_headers)
        self.expose = ", ".join(settings.expose_headers)
        self.credentials = settings.allow_credentials
        self.max_age = None if settings.max_age is None else str(settings.max_age)

    def allow_origin(self, origin: str) -> str | None:
        """The Access-Control-Allow-Origin value for *origin*, or None when it is not allowed.

        ``*`` only when any origin is allowed and credentials are not (Fetch, CORS check: a
        credentialed response needs the origin itself).
        """
        if self.any_origin:
            return "*"
        return origin if origin in self.origins else None

    def preflight(self, request: Request, response: Response) -> Response | None:
        """Answer a CORS preflight (an OPTIONS with Origin and Access-Control-Request-Method).

        An allowed one gets 204 with the Access-Control-Allow-* headers; one that asks for an
        origin, method or header not allowed gets the plain OPTIONS answer (204 with Allow) and
        no CORS headers, which the browser treats as a refusal. A path without a route goes on
        to its 404.
        """
        environ = request.environ
        if environ["REQUEST_METHOD"] != "OPTIONS":
            return None
        origin = environ.get("HTTP_ORIGIN")
        wanted = environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
        if origin is None or wanted is None:
            return None  # a plain OPTIONS request
        request.__dict__[_PREFLIGHT_FLAG] = True
        route = request.route
        if route is None:
            return None
        # Whether allowed or refused, a preflight is answered here, before the application's
        # hooks: it never carries credentials, so an authentication hook would only refuse it.
        response.status = 204
        allowed = self.allow_origin(origin)
        asked = [
            name.strip().lower()
            for name in environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "").split(",")
            if name.strip()
        ]
        if (
            allowed is None
            or wanted not in route.methods
            or not (self.any_method or wanted in self.methods)
            # Fetch: the wildcard never covers Authorization; it must be listed by name.
            or any(
                name not in self.headers and not (self.any_header and name != "authorization")
                for name in asked
            )
        ):
            response.set_header("Allow", ", ".join(route.methods))
            return response
        response.set_header("Access-Control-Allow-Origin", allowed)
        response.set_header("Access-Control-Allow-Methods", wanted)
        if asked:
            response.set_header("Access-Control-Allow-Headers", ", ".join(asked))
        if self.credentials:
            response.set_header("Access-Control-Allow-Credentials", "true")
        if self.max_age is not None:
            response.set_header("Access-Control-Max-Age", self.max_age)
        return response

    def annotate(self, request: Request, response: Response) -> None:
        """Add the CORS headers of an actual response (errors included) for an allowed origin.

        ``Vary: Origin`` goes on every response whose CORS headers depend on the Origin (a
        list of origins, not ``*``), also when the request had none or a refused one, so that
        a shared cache does not hand one origin's answer to another.
        """
        if not self.any_origin:
            response.add_header("Vary", "Origin")
        environ = request.environ
        origin = environ.get("HTTP_ORIGIN")
        if origin is None or _PREFLIGHT_FLAG in request.__dict__:
            return
        allowed = self.allow_origin(origin)
        if allowed is None:
            return
        response.set_header("Access-Control-Allow-Origin", allowed)
        if self.credentials:
            response.set_header("Access-Control-Allow-Credentials", "true")
        if self.expose:
            response.set_header("Access-Control-Expose-Headers", self.expose)
