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
    name: str | None = None
    """The name given to ``add_route`` for URL reversing, or None."""


class Route:
    """A route compiled for dispatch: what the request path needs, precomputed."""

    __slots__ = ("allow", "format", "handlers", "info", "names")

    def __init__(
        self, info: RouteInfo, names: tuple[str, ...], handlers: dict[str, Callable[..., Any]]
    ) -> None:
        self.info = info
        self.format = info.format
        self.names = names
        self.handlers = handlers
        self.allow = ", ".join(info.methods)


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


Match = tuple[Route, dict[str, Any]]
Finder = Callable[[str], "Match | None"]

# Literal children beyond this many are dispatched through a dict instead of a chain of
# comparisons, so that a level with hundreds of siblings costs one lookup.
_MAX_CHAIN = 6
# Generated code nests two blocks per path segment; deeper subtrees go into their own
# function well before the compiler's indentation limit.
_MAX_INDENT = 24


class _Compiler:
    """Turn a segment tree into the source of one matching function, plus helpers.

    The generated code compares the request's segments with nested ``if`` statements: a
    literal level is a string comparison (or a dict lookup for wide levels), a field level a
    converter call. A branch that fails falls through to the next candidate, which gives the
    precedence literal, uuid, int, float, str, path. Field values live in local variables
    and the matched route returns its keyword arguments as a dict literal.
    """

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {}
        self.functions: list[str] = []

    def constant(self, prefix: str, value: Any) -> str:
        name = f"{prefix}{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def function(self, node: _Node, depth: int, fields: list[tuple[str, str]]) -> str:
        """Emit a function that matches *node* at *depth*; return its name."""
        name = self.constant("_match", None)
        params = "".join(f", {var}" for var, _ in fields)
        lines = [f"def {name}(parts, n{params}):"]
        self.node(node, depth, fields, lines, 1)
        lines.append("    return None")
        self.functions.append("\n".join(lines))
        return name

    def call(self, function: str, fields: list[tuple[str, str]], lines: list[str], pad: str) -> None:
        args = "".join(f", {var}" for var, _ in fields)
        lines.append(f"{pad}found = {function}(parts, n{args})")
        lines.append(f"{pad}if found is not None:")
        lines.append(f"{pad}    return found")

    def enter(
        self, node: _Node, depth: int, fields: list[tuple[str, str]], lines: list[str], indent: int
    ) -> None:
        if indent > _MAX_INDENT:
            self.call(self.function(node, depth, fields), fields, lines, "    " * indent)
        else:
            self.node(node, depth, fields, lines, indent)

    def result(self, route: Route, fields: list[tuple[str, str]]) -> str:
        kwargs = ", ".join(f"{name!r}: {var}" for (var, _), name in zip(fields, route.names, strict=True))
        return f"{self.constant('_route', route)}, {{{kwargs}}}"

    def node(
        self, node: _Node, depth: int, fields: list[tuple[str, str]], lines: list[str], indent: int
    ) -> None:
        pad = "    " * indent
        if node.route is not None:
            lines.append(f"{pad}if n == {depth}:")
            lines.append(f"{pad}    return {self.result(node.route, fields)}")
        if not (node.literals or node.fields or node.rest):
            return
        lines.append(f"{pad}if n > {depth}:")
        pad += "    "
        segment = f"s{depth}"
        lines.append(f"{pad}{segment} = parts[{depth}]")
        if len(node.literals) <= _MAX_CHAIN:
            for literal, child in node.literals.items():
                lines.append(f"{pad}if {segment} == {literal!r}:")
                self.enter(child, depth + 1, fields, lines, indent + 2)
        else:
            table = {
                literal: self.function(child, depth + 1, fields) for literal, child in node.literals.items()
            }
            # Functions are defined by name in the namespace: resolve them once compiled.
            dispatch = self.constant("_literals", table)
            lines.append(f"{pad}branch = {dispatch}.get({segment})")
            lines.append(f"{pad}if branch is not None:")
            self.call("branch", fields, lines, pad + "    ")
        for kind, convert, child in node.fields:
            var = f"v{depth}"
            if convert is None:
                lines.append(f"{pad}if {segment}:")
                lines.append(f"{pad}    {var} = {segment}")
            else:
                lines.append(f"{pad}{var} = {self.constant('_' + kind, convert)}({segment})")
                lines.append(f"{pad}if {var} is not None:")
            self.enter(child, depth + 1, [*fields, (var, kind)], lines, indent + 2)
        if node.rest is not None:
            var = f"v{depth}"
            lines.append(f"{pad}{var} = '/'.join(parts[{depth}:])")
            lines.append(f"{pad}if {var}:")
            lines.append(f"{pad}    return {self.result(node.rest, [*fields, (var, 'path')])}")

    def compile(self, root: _Node, static: dict[str, Route]) -> tuple[Finder, str]:
        lines = [
            "def find(path):",
            f"    route = {self.constant('_static', static)}.get(path)",
            "    if route is not None:",
            "        return route, {}",
            "    parts = path.split('/')",
            "    n = len(parts)",
        ]
        self.node(root, 1, [], lines, 1)
        lines.append("    return None")
        source = "\n\n".join([*self.functions, "\n".join(lines)]) + "\n"
        namespace = dict(self.namespace)
        exec(compile(source, "<kata.router route table>", "exec"), namespace)
        for name, value in self.namespace.items():
            if name.startswith("_literals"):
                namespace[name] = {literal: namespace[function] for literal, function in value.items()}
        return namespace["find"], source


class RouteTable:
    """Templates compiled into a matcher whose cost does not grow with the number of routes.

    Templates without fields go into a dict keyed by the whole path: one lookup. The others
    go into a tree with one level per path segment, which is compiled into Python code (see
    :class:`_Compiler`): its cost depends on the depth of the path, not on the table's size.

    ``find(path)`` returns the matching route and its converted fields as keyword arguments,
    or None.
    """

    def __init__(self) -> None:
        self._static: dict[str, Route] = {}
        self._root = _Node()
        # Template shapes (fields reduced to their kind) already taken, for conflict checks.
        self._shapes: dict[tuple[str, ...], str] = {}
        self._routes: list[RouteInfo] = []
        self._lock = threading.Lock()
        self._source = ""
        self.find: Finder = self._compile_and_find

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
            # Compiling on every registration would make startup quadratic: the first
            # request after a change compiles the table once.
            self.find = self._compile_and_find
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

    def _compile_and_find(self, path: str) -> Match | None:
        """Compile the table, install the compiled finder as :attr:`find` and use it."""
        with self._lock:
            if self.find == self._compile_and_find:
                finder, self._source = _Compiler().compile(self._root, dict(self._static))
                self.find = finder
        return self.find(path)

    @property
    def source(self) -> str:
        """The Python source of the compiled matcher (empty before the first match)."""
        return self._source

    def routes(self) -> list[RouteInfo]:
        """The registered routes, in registration order."""
        return list(self._routes)
