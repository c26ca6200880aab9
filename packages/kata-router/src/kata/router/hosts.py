"""Host header checks: syntax, and the ``allowed_hosts`` patterns (as Django's ALLOWED_HOSTS)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

from kata.router.errors import HTTPError

# A DNS name or IPv4 address, or a bracketed IPv6 address, with an optional port.
_HOST: Final = re.compile(r"([a-z0-9.-]+|\[[a-f0-9]*:[a-f0-9.:]+\])(?::[0-9]{1,5})?").fullmatch
_PATTERN: Final = re.compile(r"\*|\.?([a-z0-9-]+\.)*[a-z0-9-]+|\[[a-f0-9]*:[a-f0-9.:]+\]").fullmatch


def host_name(host: str) -> str | None:
    """The host name of a Host header value, lower-cased, without port or final dot.

    None when the value is not a syntactically valid host (e.g. carries ``/``, ``@``, spaces
    or control characters).
    """
    lowered = host.lower()
    match = _HOST(lowered)
    if match is None:
        return None
    name = match.group(1)
    return name[:-1] if name.endswith(".") else name


def check_patterns(patterns: Iterable[str]) -> tuple[str, ...]:
    """Validate ``allowed_hosts`` patterns and return them lower-cased.

    ``example.com`` matches that name only, ``.example.org`` the domain and every subdomain,
    ``*`` any host; ports are not part of a pattern.

    Raises:
        ValueError: a pattern that could never match a host name; the message names it.
    """
    checked = []
    for pattern in patterns:
        lowered = pattern.strip().lower() if isinstance(pattern, str) else pattern
        if not isinstance(lowered, str) or _PATTERN(lowered) is None:
            raise ValueError(
                f"{pattern!r} is not a host pattern (a name like 'example.com', '.example.com' for a "
                "domain and its subdomains, or '*'; without scheme, port or path)"
            )
        checked.append(lowered)
    return tuple(checked)


def is_allowed(name: str, patterns: tuple[str, ...]) -> bool:
    """Whether host *name* (from :func:`host_name`) matches one of *patterns*."""
    for pattern in patterns:
        if pattern == "*" or name == pattern:
            return True
        if pattern[0] == "." and (name.endswith(pattern) or name == pattern[1:]):
            return True
    return False


def check_host(request: Any, response: Any) -> None:
    """The before-hook of ``allowed_hosts``: a 400 for a Host the router does not serve.

    Without a Host header (HTTP/1.0) the server's name is checked, as Django does.
    """
    patterns = request._options.allowed_hosts
    environ = request.environ
    raw = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    name = host_name(raw)
    if name is None or not is_allowed(name, patterns):
        raise HTTPError(400, "the Host header names a host this application does not serve")
