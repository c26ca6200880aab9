"""How often each container class pulled values from its source, for monitoring."""

from __future__ import annotations

import threading
from typing import NamedTuple


class Pulls(NamedTuple):
    """A container class's pulls since the process started."""

    calls: int
    """Calls of its ``pull`` (one per lookup that missed, whatever the number of keys)."""
    keys: int
    """Keys asked for in those calls."""


_lock = threading.Lock()
_counts: dict[str, Pulls] = {}


def record(owner: type, keys: int) -> None:
    """Count one pull of *keys* keys by the container class *owner*."""
    name = f"{owner.__module__}.{owner.__qualname__}"
    with _lock:
        calls, total = _counts.get(name, (0, 0))
        _counts[name] = Pulls(calls + 1, total + keys)


def pulls() -> dict[str, Pulls]:
    """``{"module.Class": Pulls(calls, keys)}`` for every container class that pulled."""
    with _lock:
        return dict(_counts)
