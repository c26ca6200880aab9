"""Settings a router applies to every request it serves, prepared for the request path."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Final

from kata.router.hosts import check_patterns
from kata.router.settings import (
    MAX_BODY_SIZE,
    MAX_FORM_PARTS,
    MAX_PART_SIZE,
    MAX_QUERY_LENGTH,
    MAX_UPLOAD_SIZE,
    Settings,
)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Options:
    """Limits, trust and host settings; replaced as a whole, never changed in place.

    Built from :class:`kata.router.Settings`, which checked the values.

    Attributes:
        max_body_size: the largest request body in bytes; a larger one is a 413.
        max_query_length: the longest query string in characters; a longer one is a 414.
        trusted_proxies: networks whose ``X-Forwarded-For`` header is believed.
        allowed_hosts: host patterns the router serves (empty: any).
        max_upload_size: the largest ``multipart/form-data`` body in bytes (a 413).
        max_part_size: the largest part of a multipart form in bytes (a 413).
        max_form_parts: the most fields of a form, multipart or urlencoded (more is a 400).
    """

    max_body_size: int = MAX_BODY_SIZE
    max_query_length: int = MAX_QUERY_LENGTH
    trusted_proxies: tuple[IPNetwork, ...] = field(default=())
    allowed_hosts: tuple[str, ...] = field(default=())
    max_upload_size: int = MAX_UPLOAD_SIZE
    max_part_size: int = MAX_PART_SIZE
    max_form_parts: int = MAX_FORM_PARTS

    @staticmethod
    def from_settings(settings: Settings) -> Options:
        """The options of checked *settings*."""
        return Options(
            settings.max_body_size,
            settings.max_query_length,
            tuple(ipaddress.ip_network(entry, strict=False) for entry in settings.trusted_proxies),
            check_patterns(settings.allowed_hosts),
            settings.max_upload_size,
            settings.max_part_size,
            settings.max_form_parts,
        )

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
