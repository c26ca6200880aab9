"""The mapping from a caller's key to the key stored on the server.

Every cache type stores ``prefix + key`` when that is a key memcached can hold: at most 250
bytes, printable ASCII without spaces. Any other str (too long, spaces, control characters,
non-ASCII, or containing ``~``) is stored as ``prefix + head + '~' + digest``, where *head* is
the key's leading printable part, shortened to fit, and *digest* the 128-bit BLAKE2b of the
whole key. A plain stored key never contains ``~`` after the prefix, so no caller key can
collide with the mapped form of another one. Every type maps keys the same way, so a key
means the same entry whichever backend an application is configured with.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from hashlib import blake2b

MAX_KEY_BYTES = 250
"""memcached's limit on a key, prefix included."""

MAX_PREFIX_BYTES = 200
"""Leaves room after the prefix for a readable head and the digest of a mapped key."""

MEMO_SIZE = 16384
"""How many mapped keys each cache instance remembers."""

_DIGEST_BYTES = 16
_MARK = "~"
# '!' (0x21) to '}' (0x7d): printable ASCII without space and without the mark '~' (0x7e).
_PLAIN_CHARS = "[!-}]"
_plain_head = re.compile(_PLAIN_CHARS + "*").match


def check_prefix(prefix: object) -> str:
    """Return *prefix* if it can start every stored key; raise ValueError saying why not."""
    if not isinstance(prefix, str):
        raise ValueError(f"prefix must be a str, not {type(prefix).__qualname__}")
    if not re.fullmatch("[!-~]*", prefix):
        raise ValueError(f"prefix {prefix!r} must be printable ASCII without spaces")
    if len(prefix) > MAX_PREFIX_BYTES:
        raise ValueError(f"prefix is {len(prefix)} characters long; at most {MAX_PREFIX_BYTES} are allowed")
    return prefix


def key_mapper(prefix: str) -> Callable[[str], str]:
    """Return the function that maps a caller's key to the stored key under *prefix*.

    Raises TypeError for a key that is not a str.
    """
    # Mapping a key costs a regular expression match and a concatenation; hot keys are
    # mapped again and again, so the results are remembered, up to a bound.
    memo: dict[str, str] = {}
    room = MAX_KEY_BYTES - len(prefix)
    plain = re.compile(f"{_PLAIN_CHARS}{{1,{room}}}").fullmatch
    head_room = room - len(_MARK) - 2 * _DIGEST_BYTES

    def mapped(key: str) -> str:
        try:
            known = memo.get(key)
        except TypeError:  # unhashable: not a str, said below
            known = None
        if known is not None:
            return known
        try:
            if plain(key):
                stored = prefix + key
            else:
                found = _plain_head(key)  # always matches, possibly empty
                head = key[: min(found.end() if found else 0, head_room)]
                digest = blake2b(key.encode("utf-8", "surrogatepass"), digest_size=_DIGEST_BYTES).hexdigest()
                stored = f"{prefix}{head}{_MARK}{digest}"
        except TypeError:
            raise TypeError(f"cache keys are str, not {type(key).__qualname__}") from None
        if len(memo) >= MEMO_SIZE:
            memo.clear()
        memo[key] = stored
        return stored

    return mapped
