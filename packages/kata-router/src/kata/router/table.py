"""The route table: templates compiled at registration into a dict and a segment tree."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from kata.router.errors import RouteError
from kata.router.template import CONVERTERS, PRECEDENCE, Converter, Field, Segment, parse


class RouteInfo(NamedTuple):
    """A registered route, as ``routes()`` lists it."""

    template: str
    resource: type
    format: str
    methods: tuple[str, ...]
    """The methods the route answers, ``Allow`` header order (HEAD and OPTIONS included)."""


class Route:
    """A route compiled for dispatch: what the request path needs, precomputed."""

    __slots__ = ("allow", "content_type", "format", "handlers", "info", "names", "resource")

    def __init__(
        self,
        info: RouteInfo,
        resource: Any,
        names: tuple[str, ...],
        handlers: dict[str, Callable[..., Any]],
        content_type: str,
    ) -> None:
        self.info = info
        self.format = info.format
        self.resource = resource
        self.names = names
        self.handlers = handlers
        self.allow = ", ".join(info.methods)
        self.content_type = content_type


class _Node:
    """One level of the segment tree.

    Literal children are a dict, so the cost of a level does not grow with the number of
    routes below it; field children are few (one per converter kind) and tried in order.
    """

    __slots__ = ("fields", "literals", "rest", "route")

    def __init__(self) -> None:
        self.literals: dict[str, _Node] = {}
        self.fields: list[tuple[str, Converter | None, _Node]] = []
        self.rest: Route | None = None
        self.route: Route | None = None

    def child(self, segment: Segment) -> _Node:
        if isinstance(segment, str):
            node = self.literals.get(segment)
            if node is None:
                node = self.literals[segment] = _Node()
            return node
        for kind, _, node in self.fields:
            if kind == segment.kind:
                return node
        node = _Node()
        self.fields.append((segment.kind, CONVERTERS[segment.kind], node))
        self.fields.sort(key=lambda entry: PRECEDENCE[entry[0]])
        return node


Match = tuple[Route, list[Any]]


def _search(node: _Node, parts: list[str], index: int, values: list[Any]) -> Route | None:
    """Find the route for ``parts[index:]`` below *node*, appending field values to *values*.

    Literal children are tried before fields and fields in precedence order; a branch that
    fails further down gives way to the next candidate, so ``/users/me`` and
    ``/users/{id}/posts`` both work for ``/users/me/posts``.
    """
    if index == len(parts):
        return node.route
    part = parts[index]
    child = node.literals.get(part)
    if child is not None:
        found = _search(child, parts, index + 1, values)
        if found is not None:
            return found
    if part:
        for _, convert, child in node.fields:
            if convert is None:
                value: Any = part
            else:
                value = convert(part)
                if value is None:
                    continue
            values.append(value)
            found = _search(child, parts, index + 1, values)
            if found is not None:
                return found
            values.pop()
    if node.rest is not None:
        rest = "/".join(parts[index:])
        if rest:
            values.append(rest)
            return node.rest
    return None


class RouteTable:
    """Templates compiled into a lookup structure whose cost does not grow with its size.

    Templates without fields go into a dict keyed by the whole path: one lookup. The others
    go into a tree with one level per path segment; matching walks the request's segments,
    so its cost depends on the depth of the path, not on the number of routes.
    """

    def __init__(self) -> None:
        self._static: dict[str, Route] = {}
        self._root = _Node()
        # Template shapes (fields reduced to their kind) already taken, for conflict checks.
        self._shapes: dict[tuple[str, ...], str] = {}
        self._routes: list[RouteInfo] = []
        self._lock = threading.Lock()

    def add(self, template: str, make_route: Callable[[tuple[Segment, ...]], Route]) -> Route:
        """Parse *template*, build its route with *make_route* and insert it.

        Raises:
            RouteError: the template is malformed or matches exactly the paths of a route
                already registered.
        """
        segments = parse(template)
        shape = tuple(seg if isinstance(seg, str) else seg.shape for seg in segments)
        route = make_route(segments)
        # Registration may race with requests on other threads: readers never take the
        # lock, and each insertion below is a single dict or attribute store.
        with self._lock:
            taken = self._shapes.get(shape)
            if taken is not None:
                raise RouteError(
                    f"route template {template!r} conflicts with {taken!r}, which is already "
                    "registered: they match the same paths"
                )
            self._insert(template, segments, route)
            self._shapes[shape] = template
            self._routes.append(route.info)
        return route

    def _insert(self, template: str, segments: tuple[Segment, ...], route: Route) -> None:
        if all(isinstance(seg, str) for seg in segments):
            self._static["/" + "/".join(segments)] = route  # type: ignore[arg-type]
            return
        node = self._root
        for seg in segments:
            if isinstance(seg, Field) and seg.kind == "path":
                node.rest = route
                return
            node = node.child(seg)
        node.route = route

    def find(self, path: str) -> Match | None:
        """Return the route matching the decoded *path* and its converted field values."""
        route = self._static.get(path)
        if route is not None:
            return route, []
        values: list[Any] = []
        route = _search(self._root, path.split("/"), 1, values)
        if route is None:
            return None
        return route, values

    def routes(self) -> list[RouteInfo]:
        """The registered routes, in registration order."""
        return list(self._routes)
