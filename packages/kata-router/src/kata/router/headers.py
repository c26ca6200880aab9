"""A case-insensitive, read-only view of HTTP headers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping


class Headers(Mapping[str, str]):
    """Header fields by case-insensitive name.

    ``headers["content-type"]`` and ``headers["Content-Type"]`` are the same entry. A name sent
    several times maps to its values joined with ``", "`` (HTTP's rule for combining fields);
    :meth:`get_all` returns them apart, which ``Set-Cookie`` needs.
    """

    __slots__ = ("_items", "_joined")

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._items = [(name, value) for name, value in items]
        joined: dict[str, str] = {}
        for name, value in self._items:
            key = name.lower()
            joined[key] = f"{joined[key]}, {value}" if key in joined else value
        self._joined = joined

    def __getitem__(self, name: str) -> str:
        return self._joined[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._joined

    def __iter__(self) -> Iterator[str]:
        return iter(self._joined)

    def __len__(self) -> int:
        return len(self._joined)

    def get_all(self, name: str) -> list[str]:
        """Every value sent under *name*, in order; empty if there is none."""
        key = name.lower()
        return [value for item, value in self._items if item.lower() == key]

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"
