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

    Calling it again replaces the previous configuration: the new file is checked first, and
    only then are the old database pool and cache clients closed and the new ones made.
    ``bare=True`` is for scripts (migrations, cron jobs): the web app is not loaded and
    :func:`app` refuses. Raises :class:`ConfigError`; nothing stays half set up.
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

    _state = None
    attempt = _State(settings=new, bare=bare, database=database, embedded_dir=embedded_dir, app=None)
    try:
        # Each library replaces (and closes) its previous clients itself.
        import kata.db

        if database is not None:
            _apply(new, "database", kata.db.initialize, database)
        else:
            kata.db.close()
        import kata.cache

        _apply(new, "cache", kata.cache.initialize, new.cache)
        if not bare:
            import kata.router

            attempt.app = kata.router.app()
            from kata import endpoints

            attempt.app = endpoints.mount(attempt.app, new)
    except BaseException:
        _close_clients(attempt)
        _release_embedded(previous, keep=None)
        _release_embedded(attempt, keep=None)
        raise
    _release_embedded(previous, keep=embedded_dir)
    _state = attempt


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

    The embedded PostgreSQL stops once no process uses it any more. Safe to call twice.
    """
    global _state
    previous, _state = _state, None
    _close_clients(previous)
    _release_embedded(previous, keep=None)


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
