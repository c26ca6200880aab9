"""Settings a router applies to every request it serves."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_BODY_SIZE: Final = 1024 * 1024
"""1 MiB, the guide's nginx ``client_max_body_size 1m``."""
MAX_QUERY_LENGTH: Final = 8192


@dataclass(frozen=True)
class Options:
    """Limits and trust settings; replaced as a whole, never changed in place.

    Attributes:
        max_body_size: the largest request body in bytes; a larger one is a 413.
        max_query_length: the longest query string in characters; a longer one is a 414.
        trusted_proxies: networks whose ``X-Forwarded-For`` header is believed.
    """

    max_body_size: int = MAX_BODY_SIZE
    max_query_length: int = MAX_QUERY_LENGTH
    trusted_proxies: tuple[IPNetwork, ...] = field(default=())

    @staticmethod
    def build(
        max_body_size: int = MAX_BODY_SIZE,
        max_query_length: int = MAX_QUERY_LENGTH,
        trusted_proxies: Iterable[str] = (),
    ) -> Options:
        """Check the settings and return them; ValueError names the one that is wrong."""
        for name, value in (("max_body_size", max_body_size), ("max_query_length", max_query_length)):
            if type(value) is not int or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")
        if isinstance(trusted_proxies, str):
            raise ValueError("trusted_proxies is a list of addresses or networks, not one str")
        networks = []
        for entry in trusted_proxies:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"trusted_proxies: {entry!r} is not an IP address or network") from exc
        return Options(max_body_size, max_query_length, tuple(networks))

    def is_trusted(self, address: str) -> bool:
        """Whether *address* (text) belongs to a trusted proxy network."""
        if not self.trusted_proxies:
            return False
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        # Membership does not compare versions: 127.0.0.1 would be "in" ::/0.
        return any(ip.version == network.version and ip in network for network in self.trusted_proxies)


DEFAULT_OPTIONS: Final = Options()
