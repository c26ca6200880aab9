"""The marker stored for an item that the source does not have (negative caching)."""

from __future__ import annotations

from typing import Any

import kata.codec


class Absent:
    """Stands in the cache for an item the source lacked, so the next lookup need not ask again.

    ``until`` is the Unix time after which the marker no longer counts and the item is pulled
    again. It is checked when the marker is read because the cache entry itself may outlive it:
    one ``set_multi`` writes markers and values together, under the values' expiry.
    """

    __slots__ = ("until",)

    def __init__(self, until: float) -> None:
        self.until = until

    def to_dict(self) -> dict[str, Any]:
        return {"until": self.until}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Absent:
        return cls(float(data["until"]))


# A fixed name, not the module path, so markers written by one release still read in the next.
kata.codec.register(Absent, "kata.container.Absent")
