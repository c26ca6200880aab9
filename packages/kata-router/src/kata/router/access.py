"""Per-request instrumentation: request ids, the access log and request observers.

All of it is off until configured: the router then calls :meth:`Instrument.begin` before
routing and :meth:`Instrument.finish` once the final status and body are known.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Final, Literal

from kata.codec import to_json
from kata.router.logsafe import escape, request_path

AccessLogFormat = Literal["combined", "json"]
ACCESS_LOG_FORMATS: Final = ("combined", "json")

Observer = Callable[[Any, Any, float], None]
"""``observer(request, response, seconds)``, called once per completed request."""

REQUEST_ID_HEADER: Final = "X-Request-ID"
_WELL_FORMED: Final = re.compile(r"[A-Za-z0-9._-]{1,128}").fullmatch

_access_log = logging.getLogger("kata.access")
_log = logging.getLogger("kata.router")
_current_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("kata_request_id", default=None)
_factory_installed = False


def request_id() -> str | None:
    """The id of the request being served on this thread, or None outside a request.

    Ids exist while the access log is on (see ``Router(access_log=...)``).
    """
    return _current_id.get()


def incoming_id(value: str | None) -> str:
    """The client's ``X-Request-ID`` when it is 1-128 of ``A-Z a-z 0-9 . _ -``, else a new id.

    A new id is 32 hex digits from ``os.urandom``: unique without coordination between
    workers or hosts.
    """
    if value is not None and _WELL_FORMED(value) is not None:
        return value
    return os.urandom(16).hex()


def install_record_factory() -> None:
    """Give every log record a ``request_id`` attribute (``"-"`` outside a request).

    Installed once, when a router first turns the access log on; it wraps the record factory
    in place then, so records of every logger (the application's, kata's, libraries') carry
    the id and a formatter can show it with ``%(request_id)s``.
    """
    global _factory_installed
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = _current_id.get() or "-"
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True


_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_last_stamp: tuple[int, str] = (-1, "")


def _combined_time(second: int) -> str:
    """``03/Dec/2026:04:40:12 +0000`` in local time, English month names whatever the locale;
    formatted once per second (formatting it per request was a tenth of the log's cost)."""
    global _last_stamp
    cached_second, text = _last_stamp
    if cached_second != second:
        local = datetime.fromtimestamp(second).astimezone()
        text = f"{local.day:02d}/{_MONTHS[local.month - 1]}/{local:%Y:%H:%M:%S %z}"
        _last_stamp = (second, text)
    return text


class Instrument:
    """What the router does around a request when the access log or observers are on."""

    __slots__ = ("access_log", "observers")

    def __init__(self, access_log: AccessLogFormat | None, observers: tuple[Observer, ...]) -> None:
        self.access_log = access_log
        self.observers = observers
        if access_log is not None:
            install_record_factory()

    def begin(self, environ: dict[str, Any]) -> tuple[float, contextvars.Token[str | None] | None]:
        """Start timing; with the access log on, give the request its id."""
        token = None
        if self.access_log is not None:
            token = _current_id.set(incoming_id(environ.get("HTTP_X_REQUEST_ID")))
        return time.perf_counter(), token

    def finish(
        self,
        request: Any,
        response: Any,
        started: tuple[float, contextvars.Token[str | None] | None],
        sent: int,
        headers: list[tuple[str, str]],
    ) -> None:
        """Log the request, call the observers and end the request id's scope.

        *response* holds the final status, body and content type; *sent* is the number of
        body bytes sent (0 for HEAD); the request id header is appended to *headers*.
        """
        seconds = time.perf_counter() - started[0]
        token = started[1]
        try:
            if token is not None:
                rid = _current_id.get() or ""
                headers.append((REQUEST_ID_HEADER, rid))
                if _access_log.isEnabledFor(logging.INFO):
                    _access_log.info(self._line(request.environ, response.status, sent, seconds, rid))
            for observer in self.observers:
                try:
                    observer(request, response, seconds)
                except Exception:
                    _log.exception("request observer %r failed", observer)
        finally:
            if token is not None:
                _current_id.reset(token)

    def _line(self, environ: dict[str, Any], status: int, sent: int, seconds: float, rid: str) -> str:
        target = request_path(environ)
        if self.access_log == "json":
            entry = {
                "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                "remote_addr": environ.get("REMOTE_ADDR", ""),
                "method": environ.get("REQUEST_METHOD", ""),
                "path": target,
                "protocol": environ.get("SERVER_PROTOCOL", ""),
                "status": status,
                "bytes": sent,
                "referer": environ.get("HTTP_REFERER", ""),
                "user_agent": environ.get("HTTP_USER_AGENT", ""),
                "duration_ms": round(seconds * 1000, 3),
                "request_id": rid,
            }
            # WSGI strings are latin-1 code points for the bytes received: escaped, the line
            # shows exactly what was sent, and JSON needs nothing more.
            return to_json(
                {k: escape(v, 2000, quotes=False) if type(v) is str else v for k, v in entry.items()}
            ).decode()
        stamp = _combined_time(int(time.time()))
        request_line = f"{environ.get('REQUEST_METHOD', '')} {target} {environ.get('SERVER_PROTOCOL', '')}"
        return (
            f'{escape(environ.get("REMOTE_ADDR") or "-")} - - [{stamp}] "{escape(request_line, 2000)}" '
            f'{status} {sent or "-"} "{escape(environ.get("HTTP_REFERER") or "-")}" '
            f'"{escape(environ.get("HTTP_USER_AGENT") or "-")}"'
        )
