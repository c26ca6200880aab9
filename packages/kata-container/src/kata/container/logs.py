"""Rate-limited warnings: a cache that is down logs once a minute, not once per request."""

from __future__ import annotations

import logging
import threading
import time
import weakref

log = logging.getLogger("kata.container")

INTERVAL = 60.0
"""Seconds during which further warnings about the same source and topic are counted, not logged."""


class _State:
    __slots__ = ("last", "suppressed")

    def __init__(self, last: float) -> None:
        self.last = last
        self.suppressed = 0


_lock = threading.Lock()
_states: weakref.WeakKeyDictionary[object, dict[str, _State]] = weakref.WeakKeyDictionary()


def warn(source: object, topic: str, message: str, *args: object) -> None:
    """Log *message* unless *source* (a cache, a container class) warned about *topic* lately.

    The next warning that does get through says how many were held back.
    """
    now = time.monotonic()
    with _lock:
        topics = _states.setdefault(source, {})
        state = topics.get(topic)
        if state is not None and now - state.last < INTERVAL:
            state.suppressed += 1
            return
        suppressed = state.suppressed if state is not None else 0
        topics[topic] = _State(now)
    if suppressed:
        message += " (%d more like this since the last one were not logged)"
        args += (suppressed,)
    log.warning(message, *args)
