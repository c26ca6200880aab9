"""Checks of constructor options shared by the server cache types."""

from __future__ import annotations

import math


def check_seconds(option: str, value: object) -> float:
    """Return *value* if it is a positive finite number; else ValueError naming *option*."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < math.inf:
        return value
    raise ValueError(f"{option} must be a positive number of seconds, not {value!r}")


def check_count(option: str, value: object) -> int | None:
    """Return *value* if it is None or a positive int; else ValueError naming *option*."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        return value
    raise ValueError(f"{option} must be None or a positive int, not {value!r}")


def split_address(address: object, default_port: int) -> tuple[str, int]:
    """Split ``'host:port'`` (or ``'[v6addr]:port'``, or a bare host) into host and port.

    Raises ValueError saying what is wrong with *address*.
    """
    if not isinstance(address, str) or not address.strip():
        raise ValueError(f"expected 'host:port', got {address!r}")
    text = address.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"expected '[address]:port', got {address!r}")
        port_text = rest[1:] if rest else None
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    elif ":" in text:
        raise ValueError(f"an IPv6 address needs brackets, as in '[::1]:port'; got {address!r}")
    else:
        host, port_text = text, None
    if not host:
        raise ValueError(f"no host in {address!r}")
    if port_text is None:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"port must be a number from 1 to 65535, got {port_text!r} in {address!r}")
    return host, int(port_text)
