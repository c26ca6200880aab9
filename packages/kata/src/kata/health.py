"""Liveness and readiness endpoints for load balancers and orchestrators.

Turned on by a ``health:`` section in the configuration (``health: {}`` takes the defaults)::

    health:
      live: /healthz      # 200 while the process answers requests at all
      ready: /readyz      # 200 when the database and every cache answer, else 503
      timeout: 1          # seconds the readiness checks may take, together

Readiness runs ``SELECT 1`` through kata.db's pool and ``ping()`` on each named cache, all at
once on a few threads of its own. Whatever failed or did not answer within ``timeout`` makes
the answer a 503 whose JSON body says what, e.g.
``{"status": "unavailable", "checks": {"database": "ok", "cache redis": "no answer within 1 s"}}``.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any

import msgspec

from kata.sections import ConfigurationError, convert

__all__ = ["ConfigurationError", "Settings", "check", "live", "ready"]

SECTION = "health"


class Settings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """The ``health`` section."""

    live: str | None = "/healthz"
    """Path of the liveness endpoint; null for none."""
    ready: str | None = "/readyz"
    """Path of the readiness endpoint; null for none."""
    timeout: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    """Seconds the readiness checks may take, together."""


def check(section: Mapping[str, Any] | None) -> Settings:
    """Validate the ``health`` section (a plain mapping; None: the defaults); no side effects."""
    settings = convert(SECTION, section, Settings)
    for key in ("live", "ready"):
        path = getattr(settings, key)
        if path is not None and not path.startswith("/"):
            raise ConfigurationError(SECTION, key, f"must start with '/', got {path!r}")
    if settings.live is not None and settings.live == settings.ready:
        raise ConfigurationError(SECTION, "ready", f"must differ from live ({settings.live!r})")
    return settings


_JSON = [("Content-Type", "application/json")]


def live(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Liveness: 200 ``{"status": "ok"}`` whenever the process can answer."""
    start_response("200 OK", [*_JSON, ("Cache-Control", "no-store")])
    return [b'{"status":"ok"}']


# Checks run here so that a server that hangs holds one of these threads, never the request
# longer than the timeout; at most this many hang at once, later checks then time out.
_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="kata.health")
        return _pool


def _database() -> None:
    import kata.db

    kata.db.query("SELECT 1")


def _checks() -> dict[str, Callable[[], None]]:
    import kata.cache
    import kata.db

    checks: dict[str, Callable[[], None]] = {}
    try:
        kata.db.settings()
    except kata.db.NotInitializedError:
        pass
    else:
        checks["database"] = _database
    for name, cache in kata.cache.caches().items():
        checks[f"cache {name}"] = cache.ping
    return checks


def readiness(timeout: float) -> tuple[bool, dict[str, str]]:
    """Run every check at once; ``(all passed, {check: "ok" or what went wrong})``."""
    checks = _checks()
    executor = _executor()
    futures = {name: executor.submit(call) for name, call in checks.items()}
    deadline = time.monotonic() + timeout
    results: dict[str, str] = {}
    for name, future in futures.items():
        try:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
        except concurrent.futures.TimeoutError:
            results[name] = f"no answer within {timeout:g} s"
        except Exception as exc:
            results[name] = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        else:
            results[name] = "ok"
    return all(result == "ok" for result in results.values()), results


def ready(timeout: float) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """The readiness endpoint, checking with *timeout*: 200 when all pass, else 503."""

    def answer(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        passed, results = readiness(timeout)
        body = msgspec.json.encode({"status": "ok" if passed else "unavailable", "checks": results})
        status = "200 OK" if passed else "503 Service Unavailable"
        start_response(status, [*_JSON, ("Cache-Control", "no-store"), ("Content-Length", str(len(body)))])
        return [body]

    return answer
