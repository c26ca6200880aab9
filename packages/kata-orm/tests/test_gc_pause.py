"""The collector pause while many rows are built: shared by threads, never left on or off wrongly."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import kata.db

MANY = "SELECT n FROM generate_series(1, 1500) n"


class Probe(kata.db.Object):
    """Notes whether the collector runs while each instance is built; can hold a build."""

    __table__ = "foo"
    seen: list[bool] = []
    # By thread name: the event that lets the thread go on building, and the one it sets
    # when it has started.
    holds: dict[str, tuple[threading.Event, threading.Event]] = {}

    def __setattr__(self, name: str, value: Any) -> None:
        Probe.seen.append(gc.isenabled())
        hold = Probe.holds.get(threading.current_thread().name)
        if hold is not None:
            hold[1].set()
            hold[0].wait()
        object.__setattr__(self, name, value)


def building(name: str) -> tuple[threading.Thread, threading.Event]:
    """A thread that fetches many rows and stops while building them, until the event is set."""
    go, started = threading.Event(), threading.Event()
    Probe.holds[name] = (go, started)
    thread = threading.Thread(target=lambda: kata.db.query(MANY, model=Probe), name=name, daemon=True)
    thread.start()
    assert started.wait(10)
    return thread, go


@pytest.fixture
def probe(db: Any) -> Iterator[None]:
    Probe.seen, Probe.holds = [], {}
    yield
    for go, _ in Probe.holds.values():  # a failed test leaves no thread waiting
        go.set()
    gc.enable()


def test_the_collector_is_paused_only_while_many_rows_are_built(probe: None) -> None:
    assert gc.isenabled()
    assert len(kata.db.query(MANY, model=Probe)) == 1500
    assert set(Probe.seen) == {False} and gc.isenabled()
    Probe.seen = []
    kata.db.query("SELECT n FROM generate_series(1, 10) n", model=Probe)
    assert set(Probe.seen) == {True}


def test_a_collector_turned_off_by_the_application_stays_off(probe: None) -> None:
    gc.disable()
    kata.db.query(MANY, model=Probe)
    assert not gc.isenabled()


def test_the_pause_lasts_until_the_last_thread_has_built_its_rows(probe: None) -> None:
    first, first_go = building("first")
    second, second_go = building("second")  # starts while the first holds the pause
    first_go.set()
    first.join()
    assert not gc.isenabled()  # the second thread is still building
    second_go.set()
    second.join()
    assert gc.isenabled() and set(Probe.seen) == {False}
