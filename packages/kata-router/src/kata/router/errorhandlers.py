"""Error handlers: an exception class mapped to a function that answers for it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ErrorHandler = Callable[[Any, Any, Any], Any]
"""``handler(request, response, exc)``: returns like a resource method (a Result, or None /
the response after setting ``response.status`` and ``response.body``), or raises HTTPError."""


class ErrorHandlers:
    """Handlers by exception class; lookups follow the exception's MRO, most specific first.

    Registration replaces the mapping whole, so a request on another thread sees either the
    old or the new one, never a half-built one.
    """

    __slots__ = ("_by_type", "_resolved")

    def __init__(self) -> None:
        self._by_type: dict[type[BaseException], ErrorHandler] = {}
        # Per concrete exception class: the handler its MRO leads to (None: no handler).
        self._resolved: dict[type[BaseException], ErrorHandler | None] = {}

    def add(self, exc_type: type[BaseException], handler: ErrorHandler) -> None:
        """Map *exc_type* and its subclasses to *handler* (replacing an earlier one)."""
        if not isinstance(exc_type, type) or not issubclass(exc_type, Exception):
            raise TypeError(f"add_error_handler expects an Exception subclass, got {exc_type!r}")
        if not callable(handler):
            raise TypeError(f"add_error_handler expects a callable handler, got {handler!r}")
        self._by_type = {**self._by_type, exc_type: handler}
        self._resolved = {}

    def __bool__(self) -> bool:
        return bool(self._by_type)

    def find(self, exc_type: type[BaseException]) -> ErrorHandler | None:
        """The handler registered for the nearest class in *exc_type*'s MRO, or None."""
        resolved = self._resolved
        if exc_type in resolved:
            return resolved[exc_type]
        by_type = self._by_type
        handler = next((by_type[cls] for cls in exc_type.__mro__ if cls in by_type), None)
        resolved[exc_type] = handler
        return handler
