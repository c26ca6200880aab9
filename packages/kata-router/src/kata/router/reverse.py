"""URL reversing: a path built from a route name or a resource class and the route's fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote
from uuid import UUID

from kata.router.errors import RouteError
from kata.router.template import CONVERTERS, Field, Segment

# Characters a path segment may carry unescaped (RFC 3986 pchar without '%').
_SEGMENT_SAFE = "!$&'()*+,;=:@~"


class Reverser:
    """The templates of a router by route name and by resource class."""

    def __init__(self) -> None:
        self._by_name: dict[str, tuple[str, tuple[Segment, ...]]] = {}
        self._by_class: dict[type, list[tuple[str, tuple[Segment, ...]]]] = {}

    def check_name(self, template: str, name: str | None) -> None:
        """Raise RouteError when *name* is not a non-empty str or is taken already."""
        if name is None:
            return
        if not isinstance(name, str) or not name:
            raise RouteError(f"route {template!r}: a route name is a non-empty str, got {name!r}")
        if name in self._by_name:
            raise RouteError(
                f"route {template!r}: the name {name!r} is already taken by {self._by_name[name][0]!r}"
            )

    def add(self, template: str, segments: tuple[Segment, ...], cls: type, name: str | None) -> None:
        """Record a registered route (after :meth:`check_name` and the table accepted it)."""
        if name is not None:
            self._by_name[name] = (template, segments)
        self._by_class.setdefault(cls, []).append((template, segments))

    def path(self, target: str | type, fields: Mapping[str, Any]) -> str:
        """The path of route *target* (a name or a resource class) with *fields* filled in.

        Raises:
            RouteError: an unknown name or class, a class with several routes taking these
                fields, a missing or unexpected field, or a value its field would not match.
        """
        if isinstance(target, str):
            entry = self._by_name.get(target)
            if entry is None:
                raise RouteError(f"no route is named {target!r}")
            return _build(*entry, fields)
        routes = self._by_class.get(target, [])
        if not routes:
            raise RouteError(f"no route serves {getattr(target, '__qualname__', target)!r}")
        wanted = set(fields)
        fitting = [r for r in routes if {s.name for s in r[1] if isinstance(s, Field)} == wanted]
        if len(fitting) == 1:
            return _build(*fitting[0], fields)
        if not fitting and len(routes) == 1:
            return _build(*routes[0], fields)  # reports the missing or unexpected fields
        templates = ", ".join(repr(template) for template, _ in (fitting or routes))
        problem = "several routes take" if fitting else "no route takes"
        raise RouteError(
            f"{target.__qualname__}: {problem} the fields {sorted(wanted)} ({templates}); name the route"
        )


def _build(template: str, segments: tuple[Segment, ...], fields: Mapping[str, Any]) -> str:
    names = [seg.name for seg in segments if isinstance(seg, Field)]
    missing = [name for name in names if name not in fields]
    unexpected = sorted(set(fields) - set(names))
    if missing or unexpected:
        parts = [
            f"missing {', '.join(missing)}" if missing else "",
            f"unexpected {', '.join(unexpected)}" if unexpected else "",
        ]
        raise RouteError(f"route {template!r}: {'; '.join(p for p in parts if p)}")
    texts = [
        quote(seg, safe=_SEGMENT_SAFE)
        if isinstance(seg, str)
        else _field_text(template, seg, fields[seg.name])
        for seg in segments
    ]
    return "/" + "/".join(texts)


def _field_text(template: str, field: Field, value: Any) -> str:
    """The URL text of one field value, refused unless the route's converter takes it back."""
    kind = field.kind
    text: str | None = None
    if type(value) is bool:
        text = None
    elif kind == "uuid" and isinstance(value, UUID):
        text = str(value)
    elif kind == "float" and isinstance(value, (int, float)):
        text = repr(float(value))
    elif isinstance(value, int) and kind in ("int", "str", "path"):
        text = str(value)
    elif isinstance(value, str):
        text = value
    if text is not None and "\x00" not in text:
        convert = CONVERTERS.get(kind)
        if kind == "path":
            return quote(text, safe="/" + _SEGMENT_SAFE) if text else _refuse(template, field, value)
        if text and "/" not in text and (convert is None or convert(text) is not None):
            return quote(text, safe=_SEGMENT_SAFE)
    return _refuse(template, field, value)


def _refuse(template: str, field: Field, value: Any) -> str:
    raise RouteError(
        f"route {template!r}: field {field.name!r} ({{{field.name}:{field.kind}}}) would not match {value!r}"
    )
