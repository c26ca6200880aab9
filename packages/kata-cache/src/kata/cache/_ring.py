"""Consistent hashing of stored keys onto memcached nodes: ketama, as libketama computes it.

Each node owns 160 points on a 32-bit circle: for i in 0..39, the MD5 digest of
``"<host:port>-<i>"`` gives four points, its bytes 0-3, 4-7, 8-11 and 12-15 read as
little-endian unsigned ints. A key belongs to the node owning the first point at or after the
key's hash (wrapping to the first point), the hash being the first four bytes of the key's
MD5, little-endian. This is the published ketama algorithm (last.fm's libketama), so any
client that computes it with the same server names maps every key to the same server; it
depends on nothing of the process (no Python ``hash``), so every process on every host agrees.
Removing a node moves only that node's keys, spread over the others; adding one moves about
1/N of the keys, all to it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from hashlib import md5
from typing import Generic, TypeVar

POINTS_PER_NODE = 160

N = TypeVar("N")


def key_hash(key: str) -> int:
    """The point of a stored key on the circle."""
    return int.from_bytes(md5(key.encode(), usedforsecurity=False).digest()[:4], "little")


class Ring(Generic[N]):
    """Maps stored keys to one of *nodes*, each identified by its address."""

    def __init__(self, nodes: Sequence[tuple[str, N]]) -> None:
        points: list[tuple[int, N]] = []
        for address, node in nodes:
            for i in range(POINTS_PER_NODE // 4):
                digest = md5(f"{address}-{i}".encode(), usedforsecurity=False).digest()
                points.extend((int.from_bytes(digest[j : j + 4], "little"), node) for j in range(0, 16, 4))
        points.sort(key=lambda point: point[0])
        self._points = [point for point, _ in points]
        self._nodes = [node for _, node in points]
        self._first = self._nodes[0] if points else None
        self._single = len(nodes) == 1

    def __bool__(self) -> bool:
        return self._first is not None

    def group(self, keys: Sequence[str]) -> dict[N, list[str]]:
        """Split *keys* (stored keys: ASCII) into one list per node, keeping their order."""
        if self._single:
            return {self._first: list(keys)}  # type: ignore[dict-item]
        points, nodes, first, count = self._points, self._nodes, self._first, len(self._nodes)
        groups: dict[N, list[str]] = {}
        for key in keys:
            index = bisect_left(points, key_hash(key))
            node = nodes[index] if index < count else first
            found = groups.get(node)  # type: ignore[arg-type]
            if found is None:
                groups[node] = [key]  # type: ignore[index]
            else:
                found.append(key)
        return groups

    def node(self, key: str) -> N:
        """The node that holds *key*. The ring must not be empty."""
        if self._single:
            return self._first  # type: ignore[return-value]
        index = bisect_left(self._points, key_hash(key))
        return self._nodes[index] if index < len(self._nodes) else self._first  # type: ignore[return-value]
