"""The router's settings: one typed schema, the only place they are checked.

The umbrella's YAML section ``web:`` is handed to :func:`check`; ``Router(...)`` and
``Router.configure(...)`` go through it as well, so the rules live here once.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal

import msgspec

from kata.router.hosts import check_patterns

SECTION: Final = "web"
MAX_BODY_SIZE: Final = 1024 * 1024
"""1 MiB, the guide's nginx ``client_max_body_size 1m``."""
MAX_QUERY_LENGTH: Final = 8192
MAX_UPLOAD_SIZE: Final = 16 * 1024 * 1024
"""16 MiB: the largest ``multipart/form-data`` body (its files stream to temporary files)."""
MAX_PART_SIZE: Final = 16 * 1024 * 1024
MAX_FORM_PARTS: Final = 1000

NonNegative = Annotated[int, msgspec.Meta(ge=0)]
_ORIGIN: Final = re.compile(r"[a-z][a-z0-9+.-]*://[^/?#\s]+").fullmatch
_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+").fullmatch


class Cors(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Cross-origin resource sharing, answered by the router (see the README's CORS section)."""

    allow_origins: list[str] = []
    """Origins allowed to read responses, as ``scheme://host[:port]``, or ``["*"]`` for any."""
    allow_methods: list[str] = msgspec.field(
        default_factory=lambda: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    )
    """Methods a preflight may ask for; ``["*"]`` for any the route answers."""
    allow_headers: list[str] = []
    """Request headers a preflight may ask for beyond the CORS-safelisted ones; ``["*"]`` for any."""
    expose_headers: list[str] = []
    """Response headers scripts may read beyond the safelisted ones (``["*"]``: all, uncredentialed)."""
    allow_credentials: bool = False
    """Let requests with cookies or HTTP authentication read responses (needs listed origins)."""
    max_age: NonNegative | None = None
    """Seconds a browser may cache a preflight answer (None: the browser's default, 5 s)."""


class Settings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The router's configuration (the ``web:`` section). Every key is optional."""

    allowed_hosts: list[str] = []
    """Host names the application answers: ``example.com``, ``.example.org`` (the domain and its
    subdomains), ``*`` (any); ports are ignored. Empty: every host. Other hosts get a 400."""
    cors: Cors | None = None
    """Cross-origin resource sharing; None (the default) sends no CORS headers."""
    access_log: Literal["off", "combined", "json"] = "off"
    """Access log on the ``kata.access`` logger: Apache's combined format or JSON lines; with it
    every request gets an id (``X-Request-ID``)."""
    max_body_size: NonNegative = MAX_BODY_SIZE
    """Largest request body in bytes; a larger one is a 413."""
    max_query_length: NonNegative = MAX_QUERY_LENGTH
    """Longest query string in characters; a longer one is a 414 when a handler reads it."""
    trusted_proxies: list[str] = []
    """Addresses or networks (``10.0.0.0/8``) of proxies whose ``X-Forwarded-For`` is believed."""
    default_format: Literal["json", "msgpack", "html", "text"] = "json"
    """Format of responses that match no route (404s, errors before routing)."""
    max_upload_size: NonNegative = MAX_UPLOAD_SIZE
    """Largest ``multipart/form-data`` body in bytes; a larger one is a 413. Uploaded files go to
    temporary files past 1 MiB, so this may be far above max_body_size."""
    max_part_size: NonNegative = MAX_PART_SIZE
    """Largest single part (file) of a multipart form in bytes; a larger one is a 413."""
    max_form_parts: NonNegative = MAX_FORM_PARTS
    """Most fields in a form (multipart parts or urlencoded pairs); more is a 400."""
    templates: str | None = None
    """Folder of the Jinja2 templates ``Resource.render`` uses (``kata-router[html]``)."""


class ConfigurationError(ValueError):
    """A router setting is wrong.

    Attributes:
        key: the dotted key inside the ``web`` section (``"cors.max_age"``; ``""`` for the
            whole section).
        problem: what is wrong, without the key.
    """

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        self.section = SECTION
        super().__init__(f"{SECTION}.{key}: {problem}" if key else f"{SECTION}: {problem}")


# Keys whose value is a list: a string (from a ${VAR}) is split at commas.
_LISTS: Final = {
    Settings: ("allowed_hosts", "trusted_proxies"),
    Cors: ("allow_origins", "allow_methods", "allow_headers", "expose_headers"),
}
_OFF: Final = frozenset({"off", "false", "no", "0", ""})


def check(section: Mapping[str, Any] | None) -> Settings:
    """Validate the ``web`` section, a plain mapping, and return it typed; no side effects.

    Strings are accepted for non-string keys and converted by the key's type
    (``max_body_size: "65536"``, ``allow_credentials: "true"``); a list key also takes a
    comma-separated string (``allowed_hosts: "example.com,.example.org"``).

    Raises:
        ConfigurationError: naming the key (``.key``) and the problem (``.problem``); unknown
            keys are refused with a suggestion when one is close.
    """
    if section is None:
        section = {}
    if not isinstance(section, Mapping):
        raise ConfigurationError("", f"expected a mapping of settings, got {type(section).__name__}")
    data = _prepare(dict(section), Settings, "")
    if isinstance(data.get("cors"), Mapping):
        data["cors"] = _prepare(dict(data["cors"]), Cors, "cors.")
    try:
        settings = msgspec.convert(data, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise _translate(exc) from None
    _check_values(settings)
    return settings


def _prepare(data: dict[str, Any], schema: type[msgspec.Struct], prefix: str) -> dict[str, Any]:
    known = schema.__struct_fields__
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(known)})"
            raise ConfigurationError(f"{prefix}{key}", f"unknown key{hint}")
    for key in _LISTS[schema]:
        if isinstance(data.get(key), str):
            data[key] = [part.strip() for part in data[key].split(",") if part.strip()]
    if schema is Settings:
        log = data.get("access_log")
        if log is None or log is False or (isinstance(log, str) and log.strip().lower() in _OFF):
            data.pop("access_log", None)
        if isinstance(data.get("cors"), str) and data["cors"].strip().lower() in _OFF:
            data["cors"] = None
    return data


_AT: Final = re.compile(r"^(.*) - at `\$(.*)`$", re.S)


def _translate(exc: msgspec.ValidationError) -> ConfigurationError:
    """msgspec's "Expected `int`, got `str` - at `$.cors.max_age`" as key and problem."""
    match = _AT.match(str(exc))
    if match is None:
        return ConfigurationError("", str(exc))
    problem, path = match.groups()
    return ConfigurationError(path.lstrip("."), problem)


def _check_values(settings: Settings) -> None:
    """The rules a type cannot say: addresses, host patterns, origins, CORS combinations."""
    if settings.templates is not None and not os.path.isdir(settings.templates):
        raise ConfigurationError("templates", f"{settings.templates!r} is not a directory")
    try:
        check_patterns(settings.allowed_hosts)
    except ValueError as exc:
        raise ConfigurationError("allowed_hosts", str(exc)) from None
    for index, entry in enumerate(settings.trusted_proxies):
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigurationError(
                f"trusted_proxies[{index}]", f"{entry!r} is not an IP address or network"
            ) from None
    cors = settings.cors
    if cors is None:
        return
    wildcard = cors.allow_origins == ["*"]
    for index, origin in enumerate(cors.allow_origins):
        if not wildcard and (origin == "*" or _ORIGIN(origin) is None or origin != origin.lower()):
            raise ConfigurationError(
                f"cors.allow_origins[{index}]",
                f"{origin!r} is not an origin: write scheme://host[:port] in lower case, no path "
                "(or the single entry '*')",
            )
    for key in ("allow_methods", "allow_headers", "expose_headers"):
        values: list[str] = getattr(cors, key)
        for index, value in enumerate(values):
            if _TOKEN(value) is None:
                raise ConfigurationError(f"cors.{key}[{index}]", f"{value!r} is not a method or header name")
    if cors.allow_credentials and wildcard:
        raise ConfigurationError(
            "cors.allow_credentials",
            "credentials cannot be allowed for every origin ('*'): list the origins in allow_origins",
        )
    if cors.allow_credentials and "*" in cors.expose_headers:
        raise ConfigurationError(
            "cors.expose_headers",
            "'*' exposes nothing to credentialed requests (Fetch standard): list the header names",
        )


__all__ = ["ConfigurationError", "Cors", "Settings", "check"]
