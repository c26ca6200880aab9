"""Status lines, computed once: the request path only looks them up."""

from __future__ import annotations

from http import HTTPStatus

_REASONS: dict[int, str] = {status.value: status.phrase for status in HTTPStatus}
# Status lines for every code a response may carry, so that formatting never happens per request.
STATUS_LINES: dict[int, str] = {code: f"{code} {_REASONS.get(code, 'Unknown')}" for code in range(100, 600)}


def reason(status: int) -> str:
    """Return the reason phrase of *status*, or ``"Unknown"`` for an unregistered code."""
    return _REASONS.get(status, "Unknown")
