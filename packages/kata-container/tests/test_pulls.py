"""kata.container.pulls(): how often each container class pulled, counted where the pull happens."""

from __future__ import annotations

from typing import Any

import kata.cache
import kata.container


def test_pulls_count_calls_and_keys_per_container_class(cache: kata.cache.Cache) -> None:
    class Squares(kata.container.Attribute):
        def cache(self) -> Any:
            return cache

        def expire(self) -> int:
            return 600

        def key(self, item: int) -> str:
            return f"square:{item}"

        def pull(self, items: list[int]) -> dict[int, int]:
            return {item: item * item for item in items}

    class Answer(kata.container.Simple):
        def cache(self) -> Any:
            return cache

        def key(self) -> str:
            return "answer"

        def pull(self) -> int:
            return 42

    squares = f"{__name__}.{Squares.__qualname__}"
    answer = f"{__name__}.{Answer.__qualname__}"
    # Each cache type runs this test with classes of the same names: count from here.
    before = kata.container.pulls()
    zero = kata.container.Pulls(0, 0)
    assert Squares([1, 2, 3]).get() == {1: 1, 2: 4, 3: 9}
    assert Squares([2, 3, 4, 5]).get() == {2: 4, 3: 9, 4: 16, 5: 25}  # pulls 4 and 5 only
    assert Answer().get() == 42
    assert Answer().get() == 42  # from the cache
    found = kata.container.pulls()
    was = before.get(squares, zero)
    assert (found[squares].calls - was.calls, found[squares].keys - was.keys) == (2, 5)
    was = before.get(answer, zero)
    assert (found[answer].calls - was.calls, found[answer].keys - was.keys) == (1, 1)
