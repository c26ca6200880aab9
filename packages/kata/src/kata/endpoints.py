"""The metrics and health endpoints, answered ahead of the application's routes.

They bypass the router: a scrape or a probe is neither counted in the request metrics nor
subject to the application's hooks, and costs the application's requests one dictionary
lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from kata.configfile import ConfigError, Settings, library_error

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def mount(app: WSGIApp, settings: Settings) -> WSGIApp:
    """*app* with the endpoints of the file's ``metrics:`` and ``health:`` sections, if any.

    Raises ConfigError naming the key of a wrong section; starts measuring requests when
    there is a ``metrics:`` section.
    """
    sections = settings.extra
    paths: dict[str, WSGIApp] = {}
    if "health" in sections:
        from kata import health

        try:
            found = health.check(sections["health"])
        except health.ConfigurationError as exc:
            raise library_error(settings.path, "health", exc) from exc
        if found.live is not None:
            paths[found.live] = health.live
        if found.ready is not None:
            paths[found.ready] = health.ready(found.timeout)
    if "metrics" in sections:
        try:
            from kata import metrics
        except ImportError as exc:
            raise ConfigError(settings.path, "metrics", str(exc)) from exc
        try:
            chosen = metrics.initialize(sections["metrics"])
        except metrics.ConfigurationError as exc:
            raise library_error(settings.path, "metrics", exc) from exc
        if chosen.path is not None:
            if chosen.path in paths:
                raise ConfigError(
                    settings.path, "metrics.path", f"{chosen.path!r} is a health endpoint already"
                )
            paths[chosen.path] = metrics.serve
    if not paths:
        return app

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        endpoint = paths.get(environ.get("PATH_INFO", ""))
        if endpoint is None:
            return app(environ, start_response)
        return endpoint(environ, start_response)

    return dispatch
