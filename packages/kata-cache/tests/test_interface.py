"""The operations every cache type shares, run against each type on real servers."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

import kata.cache


def test_set_get_delete(cache: kata.cache.Cache) -> None:
    assert cache.get("foo") is None
    cache.set("foo", "bar")
    assert cache.get("foo") == "bar"
    cache.set("foo", "baz")
    assert cache.get("foo") == "baz"
    cache.delete("foo")
    cache.delete("foo")  # deleting a missing key is fine
    assert cache.get("foo") is None


def test_get_multi_returns_the_keys_found(cache: kata.cache.Cache) -> None:
    cache.set_multi({f"k{i}": i for i in range(300)})
    keys = [f"k{i}" for i in range(0, 400, 2)]
    assert cache.get_multi(keys) == {f"k{i}": i for i in range(0, 300, 2)}
    assert cache.get_multi(iter(["k1", "k1", "nope"])) == {"k1": 1}


def test_delete_multi(cache: kata.cache.Cache) -> None:
    cache.set_multi({f"k{i}": i for i in range(10)})
    cache.delete_multi([f"k{i}" for i in range(5)] + ["missing", "k0"])
    assert cache.get_multi([f"k{i}" for i in range(10)]) == {f"k{i}": i for i in range(5, 10)}


def test_empty_inputs(cache: kata.cache.Cache) -> None:
    assert cache.get_multi([]) == {}
    cache.set_multi({})
    cache.set_multi({}, expire=5)
    cache.delete_multi([])


def test_expiry(cache: kata.cache.Cache) -> None:
    cache.set("one", 1, expire=1)
    cache.set_multi({"two": 2, "three": 3}, expire=1)
    assert cache.add("four", 4, expire=1.5)
    cache.set("kept", 5, expire=3600)
    cache.set("forever", 6)
    assert cache.get_multi(["one", "two", "three", "four"]) == {"one": 1, "two": 2, "three": 3, "four": 4}
    time.sleep(2.2)  # memcached counts whole seconds
    assert cache.get_multi(["one", "two", "three", "four", "kept", "forever"]) == {"kept": 5, "forever": 6}
    assert cache.add("four", 44)


@pytest.mark.parametrize("expire", [0, -1, math.nan, math.inf, True, "10", [10]])
def test_bad_expire_is_a_value_error_and_writes_nothing(cache: kata.cache.Cache, expire: Any) -> None:
    with pytest.raises(ValueError, match="expire"):
        cache.set("a", 1, expire=expire)
    with pytest.raises(ValueError, match="expire"):
        cache.set_multi({"b": 1}, expire=expire)
    with pytest.raises(ValueError, match="expire"):
        cache.add("c", 1, expire=expire)
    assert cache.get_multi(["a", "b", "c"]) == {}


def test_add_stores_only_when_absent(cache: kata.cache.Cache) -> None:
    assert cache.add("lock", "first")
    assert not cache.add("lock", "second")
    assert cache.get("lock") == "first"
    cache.set("none", None)
    assert not cache.add("none", 1)  # a stored None is a value
    cache.delete("lock")
    assert cache.add("lock", "third", expire=60)
    assert cache.get("lock") == "third"


UNSAFE_KEYS = [
    "",
    "with space",
    "tab\there",
    "new\nline",
    "\x00nul",
    "\x7fdel",
    "naïve",
    "日本語",
    "emoji 🎉",
    "tilde~key",
    "x" * 250,
    "y" * 10_000,
    "lone \ud800 surrogate",
]


def test_any_str_is_a_key(cache: kata.cache.Cache) -> None:
    values = {key: i for i, key in enumerate(UNSAFE_KEYS)}
    # Near-misses of each other must stay distinct entries.
    values.update({"with_space": "u", "withspace": "v", "x" * 249: "w", "tilde": "t"})
    cache.set_multi(values)
    assert cache.get_multi(list(values)) == values
    for key, value in values.items():
        assert cache.get(key) == value
    cache.delete_multi(UNSAFE_KEYS[:6])
    cache.delete(UNSAFE_KEYS[6])
    assert set(cache.get_multi(list(values))) == set(values) - set(UNSAFE_KEYS[:7])


@pytest.mark.parametrize("key", [1, b"bytes", None, ("t",)])
def test_a_key_must_be_a_str(cache: kata.cache.Cache, key: Any) -> None:
    with pytest.raises(TypeError, match="cache keys are str"):
        cache.set(key, 1)
    with pytest.raises(TypeError, match="cache keys are str"):
        cache.get_multi(["ok", key])


def test_prefix_namespaces_keys(make_cache: Any, key_prefix: str) -> None:
    one = make_cache(prefix=key_prefix + "one:")
    two = make_cache(prefix=key_prefix + "two:")
    one.set("k", 1)
    two.set("k", 2)
    assert (one.get("k"), two.get("k")) == (1, 2)
    one.delete_multi(["k"])
    assert (one.get("k"), two.get("k")) == (None, 2)


@pytest.mark.parametrize("prefix", ["has space", "é", "x" * 201, 5])
def test_bad_prefix_is_refused(make_cache: Any, prefix: Any) -> None:
    with pytest.raises(ValueError, match="prefix"):
        make_cache(prefix=prefix)


def test_stats_count_hits_misses(cache: kata.cache.Cache) -> None:
    cache.set_multi({"a": 1, "b": None})
    cache.get("a")
    cache.get("zzz")
    cache.get_multi(["a", "b", "c", "d"])
    assert (cache.stats.hits, cache.stats.misses, cache.stats.errors) == (3, 3, 0)
    assert "hits=3" in repr(cache.stats)


def test_ping(cache: kata.cache.Cache) -> None:
    cache.ping()


def test_close_then_use_again(cache: kata.cache.Cache, cache_type: str) -> None:
    cache.set("k", 1)
    cache.close()
    # Server types reconnect; the memory type's close drops its entries.
    assert cache.get("k") == (None if cache_type == "memory" else 1)
