"""URL templates: parsing ``/users/{id:int}/files/{rest:path}`` and the field converters."""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from kata.router.errors import RouteError

# Converters answer None for a segment that does not convert: the matcher then tries the next
# candidate route, and a path that no route accepts is a 404. Returning instead of raising
# keeps a failed conversion cheap.
Converter = Callable[[str], Any]

_INT = re.compile(r"-?[0-9]+").fullmatch
_FLOAT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?").fullmatch
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}").fullmatch
# Enough digits for any 64-bit id; longer runs are not ids and would make int() slow.
_MAX_INT_DIGITS: Final = 30
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1


def _to_int(segment: str) -> int | None:
    if len(segment) > _MAX_INT_DIGITS or _INT(segment) is None:
        return None
    return int(segment)


def _to_int64(segment: str) -> int | None:
    # Path fields are ids: a value beyond a signed 64-bit integer (PostgreSQL's bigint) names
    # nothing that can exist, so the route does not match (a 404) rather than the database
    # refusing the value later.
    if len(segment) > 20 or _INT(segment) is None:
        return None
    value = int(segment)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


def _to_float(segment: str) -> float | None:
    if len(segment) > 64 or _FLOAT(segment) is None:
        return None
    value = float(segment)
    return value if math.isfinite(value) else None


def _to_uuid(segment: str) -> UUID | None:
    return UUID(segment) if _UUID(segment) is not None else None


# In the order the matcher tries them when several fields share a position: the most
# specific first, so /items/{id:int} and /items/{slug} can live side by side.
CONVERTERS: Final[dict[str, Converter | None]] = {
    "uuid": _to_uuid,
    "int": _to_int64,
    "float": _to_float,
    "str": None,  # the segment itself
}
KINDS: Final = (*CONVERTERS, "path")
to_int: Final = _to_int
"""Decimal text to an int of any size (query parameters; bounds come from the caller)."""
PRECEDENCE: Final[dict[str, int]] = {kind: rank for rank, kind in enumerate(KINDS)}

# Names a field cannot have: they are the positional parameters of every resource method.
_RESERVED: Final = frozenset({"self", "request", "response"})
_FIELD = re.compile(r"\{([^{}:]*)(?::([^{}]*))?\}")
_FORBIDDEN = re.compile(r"[\s?#{}%]")


@dataclass(frozen=True)
class Field:
    """A ``{name}`` or ``{name:kind}`` segment of a template."""

    name: str
    kind: str

    @property
    def shape(self) -> str:
        """How the field looks to the matcher: its kind, not its name."""
        return "{" + self.kind + "}"


Segment = str | Field


def parse(template: str) -> tuple[Segment, ...]:
    """Split *template* into literal segments and fields, checking every rule.

    Raises:
        RouteError: the template is malformed; the message names it and the fault.
    """
    if not isinstance(template, str):
        raise RouteError(f"a route template is a str, got {type(template).__qualname__}")
    if not template.startswith("/"):
        raise RouteError(f"route template {template!r} must start with '/'")
    if template == "/":
        return ()
    if template.endswith("/"):
        raise RouteError(f"route template {template!r} ends with '/': write it without the trailing slash")
    segments: list[Segment] = []
    names: set[str] = set()
    raw_segments = template[1:].split("/")
    for position, raw in enumerate(raw_segments):
        if not raw:
            raise RouteError(f"route template {template!r} has an empty segment ('//')")
        if "{" not in raw and "}" not in raw:
            if _FORBIDDEN.search(raw):
                raise RouteError(
                    f"route template {template!r}: segment {raw!r} contains whitespace, '?', '#' or '%'"
                )
            segments.append(raw)
            continue
        match = _FIELD.fullmatch(raw)
        if match is None:
            raise RouteError(
                f"route template {template!r}: segment {raw!r} must be literal text or one whole field "
                "like {name} or {name:int}"
            )
        name, kind = match.group(1), match.group(2) or "str"
        if not name.isidentifier() or keyword.iskeyword(name):
            raise RouteError(f"route template {template!r}: field name {name!r} is not a Python identifier")
        if name in _RESERVED:
            raise RouteError(f"route template {template!r}: field name {name!r} is reserved")
        if name in names:
            raise RouteError(f"route template {template!r}: field {name!r} appears twice")
        if kind not in PRECEDENCE:
            raise RouteError(
                f"route template {template!r}: field {name!r} has unknown type {kind!r} "
                f"(known: {', '.join(KINDS)})"
            )
        if kind == "path" and position != len(raw_segments) - 1:
            raise RouteError(f"route template {template!r}: a path field like {{{name}:path}} must come last")
        names.add(name)
        segments.append(Field(name, kind))
    return tuple(segments)
