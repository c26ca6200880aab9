"""One YAML file sets up a kata application: its database, its caches and its web app.

    import kata
    kata.initialize('config/dev.yaml')       # the same as kata.config.initialize(...)
    app = kata.config.app()                  # the WSGI callable for gunicorn & co.

    kata.config.initialize('config/dev.yaml', bare=True)   # scripts: database and caches only

The ``database:`` section goes to ``kata.db.initialize`` (or, with ``embedded: true``, to a
PostgreSQL kept beside the file; see :mod:`kata.embedded`), the ``cache:`` section to
``kata.cache.initialize``. Strings may hold ``${VAR}`` and ``${VAR:-default}``. A wrong file
fails here, with :class:`ConfigError` naming the file, the key path and what was expected.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kata.configfile import ConfigError, Settings, library_error, load

__all__ = ["ConfigError", "Settings", "app", "close", "exit_under_server", "initialize", "load", "settings"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass
class _State:
    settings: Settings
    bare: bool
    database: dict[str, Any] | None
    embedded_dir: Path | None
    app: WSGIApp | None


_state: _State | None = None


def initialize(path: str | os.PathLike[str], bare: bool = False) -> None:
    """Set up the database, the caches and (unless *bare*) the web app from the YAML at *path*.

    Calling it again replaces the previous configuration: the new file is read and every
    section checked by its package first; then the new database pool and cache clients are
    made and the old ones closed. ``bare=True`` is for scripts (migrations, cron jobs): the web
    app is not loaded and :func:`app` refuses. Raises :class:`ConfigError`; when it does, the
    previous configuration (if any) is still the one in use, working as before.
    """
    global _state
    new = load(path)
    previous = _state
    embedded_dir = None
    database = new.database
    if new.embedded is not None:
        from kata import embedded

        try:
            running = embedded.start(new.embedded)
        except embedded.EmbeddedError as exc:
            raise ConfigError(new.path, "database.embedded", str(exc)) from exc
        embedded_dir = new.embedded.data_dir
        database = running.section(new.embedded)

    import kata.cache
    import kata.db

    attempt = _State(settings=new, bare=bare, database=database, embedded_dir=embedded_dir, app=None)
    # Each library checks before it replaces anything, so a step that fails leaves its own
    # previous clients working; the steps already done are put back to the previous file's.
    done: list[str] = []
    try:
        if database is not None:
            _apply(new, "database", kata.db.initialize, database)
            done.append("database")
        _apply(new, "cache", kata.cache.initialize, new.cache)
        done.append("cache")
        if not bare:
            attempt.app = _web_app(new, previous, database is not None)
    except BaseException:
        _restore(previous, done)
        if embedded_dir is not None and (previous is None or previous.embedded_dir != embedded_dir):
            _release_embedded(attempt, keep=None)
        raise
    if database is None and previous is not None and previous.database is not None:
        kata.db.close()
    _release_embedded(previous, keep=embedded_dir)
    _state = attempt


def _web_app(new: Settings, previous: _State | None, with_database: bool) -> WSGIApp:
    """The router's app with the ``web:`` section applied, each request in a kata.db scope."""
    import kata.db
    import kata.router

    if new.web is not None or (previous is not None and previous.settings.web is not None):
        # A file without web: after one with it goes back to the defaults.
        _apply(new, "web", kata.router.initialize, new.web)
    kata.router.add_error_handler(kata.db.Unavailable, _database_unavailable)
    from kata import endpoints

    router_app = kata.router.app()
    if not with_database:
        return endpoints.mount(router_app, new)
    # One pooled connection per request, taken at its first kata.db call (none without one)
    # and given back when the response is made, also when it failed.
    app = kata.db.scoped(router_app)

    # The metrics and health endpoints answer ahead of the routes (and of the scope).
    return endpoints.mount(app, new)


def _database_unavailable(request: Any, response: Any, exc: Any) -> Any:
    """kata.db.Unavailable (PostgreSQL cannot be reached): a 503 with Retry-After."""
    import kata.router

    raise kata.router.HTTPError(
        503, "the database is unavailable; try again later", {"Retry-After": str(exc.retry_after)}
    )


def _restore(previous: _State | None, done: list[str]) -> None:
    """Put the libraries in *done* back to *previous*'s sections (or close them)."""
    import kata.cache
    import kata.db

    if "database" in done:
        if previous is not None and previous.database is not None:
            kata.db.initialize(previous.database)
        else:
            kata.db.close()
    if "cache" in done:
        if previous is not None:
            kata.cache.initialize(previous.settings.cache)
        else:
            kata.cache.close()


def exit_under_server(exc: ConfigError) -> None:
    """Under gunicorn, print *exc* as one line and exit as a worker that failed to boot.

    gunicorn would otherwise log the ConfigError's traceback for every worker it starts and
    start them again; its "failed to boot" status makes it stop. Elsewhere this returns.
    """
    arbiter = sys.modules.get("gunicorn.arbiter")
    if arbiter is None:
        return
    print(f"kata: {exc}", file=sys.stderr, flush=True)
    raise SystemExit(arbiter.Arbiter.WORKER_BOOT_ERROR)


def app() -> WSGIApp:
    """The WSGI callable of the configured application (the default router).

    Routes added after this call are served too, so a project may import its routes after
    creating the app, as the guide does.
    """
    if _state is None:
        raise RuntimeError("kata is not configured: call kata.initialize(path) before kata.config.app()")
    if _state.app is None:
        raise RuntimeError(
            f"kata was initialized with bare=True from {_state.settings.path}: there is no web app; "
            "call kata.config.initialize(path) without bare=True"
        )
    return _state.app


def settings() -> Settings:
    """The checked contents of the current configuration file."""
    if _state is None:
        raise RuntimeError("kata is not configured: call kata.initialize(path) first")
    return _state.settings


def database() -> dict[str, Any] | None:
    """The section handed to ``kata.db.initialize`` (for an embedded database: where it runs)."""
    if _state is None:
        raise RuntimeError("kata is not configured: call kata.initialize(path) first")
    return dict(_state.database) if _state.database is not None else None


def close() -> None:
    """Close the database pool and cache clients, and let go of the embedded server.

    The router's settings from a ``web:`` section go back to their defaults. The embedded
    PostgreSQL stops once no process uses it any more. Safe to call twice.
    """
    global _state
    previous, _state = _state, None
    _close_clients(previous)
    _release_embedded(previous, keep=None)
    if previous is not None and previous.settings.web is not None:
        import kata.router

        kata.router.initialize(None)


def _apply(new: Settings, section: str, initialize: Callable[[Any], object], value: Any) -> None:
    try:
        initialize(value)
    except Exception as exc:
        raise library_error(new.path, section, exc) from exc


def _close_clients(state: _State | None) -> None:
    if state is None:
        return
    if state.database is not None:
        import kata.db

        kata.db.close()
    import kata.cache

    kata.cache.close()


def _release_embedded(state: _State | None, keep: Path | None) -> None:
    if state is None or state.embedded_dir is None or state.embedded_dir == keep:
        return
    from kata import embedded

    embedded.stop(state.embedded_dir)
