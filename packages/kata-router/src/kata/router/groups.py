"""Route groups: routes mounted under a common prefix, sharing hooks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from kata.router.errors import RouteError
from kata.router.hooks import Hook, hook_tuple
from kata.router.resource import Resource
from kata.router.table import RouteInfo
from kata.router.template import parse

if TYPE_CHECKING:
    from kata.router.app import Router


class RouteGroup:
    """Routes under *prefix* (e.g. ``/api/v1``), made by :meth:`Router.group`.

    Its ``before`` hooks run before those of each route added through it, its ``after`` hooks
    after them; a nested group adds its prefix and hooks inside the outer group's.
    """

    def __init__(
        self, router: Router, prefix: str, before: Iterable[Hook] = (), after: Iterable[Hook] = ()
    ) -> None:
        if not isinstance(prefix, str) or not prefix.startswith("/") or prefix.endswith("/"):
            raise RouteError(f"group prefix {prefix!r} must start with '/' and not end with one")
        parse(prefix)  # the same rules as a template: fail now, not at the first add_route
        self.router = router
        self.prefix = prefix
        self.before = hook_tuple(before, "before")
        self.after = hook_tuple(after, "after")

    def add_route(
        self,
        template: str,
        resource_class: type[Resource],
        format: str = "json",
        *,
        name: str | None = None,
        before: Iterable[Hook] = (),
        after: Iterable[Hook] = (),
    ) -> RouteInfo:
        """Add ``prefix + template`` to the router (``"/"`` is the prefix itself)."""
        full = self.prefix if template == "/" else self.prefix + template
        return self.router.add_route(
            full,
            resource_class,
            format,
            name=name,
            before=(*self.before, *hook_tuple(before, "before")),
            after=(*hook_tuple(after, "after"), *self.after),
        )

    def group(self, prefix: str, *, before: Iterable[Hook] = (), after: Iterable[Hook] = ()) -> RouteGroup:
        """A group inside this one: prefixes and hooks nest."""
        inner = RouteGroup(self.router, prefix, before, after)
        return RouteGroup(
            self.router, self.prefix + prefix, (*self.before, *inner.before), (*inner.after, *self.after)
        )
