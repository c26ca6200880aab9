"""memcached key-to-server mapping: ketama, the same in every process, about 1/N of the keys move."""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import sys
from typing import Any

import pymemcache

import kata.cache
from kata.cache._ring import Ring

SERVERS = ["10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211", "10.0.0.4:11211"]
KEYS = [f"user:{i}:profile" for i in range(20_000)]


class Libketama:
    """The ketama continuum as last.fm's libketama describes it, written out plainly for comparison.

    For each server (equal weights: 40 digests each), the MD5 of ``"<server>-<k>"`` for k in
    0..39 yields four 32-bit points, each read from 4 digest bytes with the lowest-addressed
    byte least significant. A key's hash is its MD5's first 4 bytes read the same way; its server
    owns the smallest point >= the hash, or the smallest point of all when none is.
    """

    def __init__(self, servers: list[str]) -> None:
        points = []
        for server in servers:
            for k in range(40):
                digest = hashlib.md5(f"{server}-{k}".encode()).digest()
                for h in range(4):
                    (point,) = struct.unpack("<I", digest[h * 4 : h * 4 + 4])
                    points.append((point, server))
        self.points = sorted(points)

    def server(self, key: str) -> str:
        (h,) = struct.unpack("<I", hashlib.md5(key.encode()).digest()[:4])
        for point, server in self.points:
            if point >= h:
                return server
        return self.points[0][1]


def test_the_mapping_is_libketama_s() -> None:
    for servers in (SERVERS[:3], SERVERS):
        reference = Libketama(servers)
        ring = Ring([(server, server) for server in servers])
        sample = KEYS[:3000]
        assert [ring.node(key) for key in sample] == [reference.server(key) for key in sample]
        grouped = ring.group(sample)
        assert {key: server for server, keys in grouped.items() for key in keys} == {
            key: reference.server(key) for key in sample
        }


def _moved(before: Ring[str], after: Ring[str]) -> tuple[float, set[tuple[str, str]]]:
    changes = {(before.node(key), after.node(key)) for key in KEYS}
    moved = sum(before.node(key) != after.node(key) for key in KEYS)
    return moved / len(KEYS), {(a, b) for a, b in changes if a != b}


def test_adding_or_removing_a_node_moves_about_one_nth_of_the_keys() -> None:
    three = Ring([(s, s) for s in SERVERS[:3]])
    four = Ring([(s, s) for s in SERVERS])

    fraction, moves = _moved(three, four)  # a 4th node added: N = 4
    assert 0.15 < fraction <= 2 / 4, fraction
    assert {to for _, to in moves} == {SERVERS[3]}  # keys move only to the new node

    fraction, moves = _moved(four, three)  # the 4th removed: only its keys move
    assert 0.15 < fraction <= 2 / 4, fraction
    assert {frm for frm, _ in moves} == {SERVERS[3]}

    two = Ring([(s, s) for s in SERVERS[:2]])
    fraction, moves = _moved(three, two)  # N = 3: a third node removed
    assert 0.2 < fraction <= 2 / 3, fraction
    assert {frm for frm, _ in moves} == {SERVERS[2]}


_CHILD = """
import json, sys
import kata.cache
cache = kata.cache.MemcachedCache(hosts=sys.argv[1].split(","), prefix="app:")
print(json.dumps([cache.server_for(f"user:{i}:profile") for i in range(2000)]))
"""


def test_every_process_maps_keys_the_same_way() -> None:
    """Two interpreters with different hash seeds (as two hosts would have) agree on every key."""
    hosts = ",".join(SERVERS[:3])
    answers = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", _CHILD, hosts], env=env, capture_output=True, check=True)
        answers.append(out.stdout)
    assert answers[0] == answers[1]
    here = kata.cache.MemcachedCache(hosts=SERVERS[:3], prefix="app:")
    import json

    mine = [here.server_for(f"user:{i}:profile") for i in range(2000)]
    assert json.loads(answers[0]) == mine
    assert set(mine) == set(SERVERS[:3])
    # The prefix is part of the stored key, and so of the hash.
    assert mine == [Libketama(SERVERS[:3]).server(f"app:user:{i}:profile") for i in range(2000)]


def test_values_are_stored_on_the_server_the_mapping_names(memcached_servers: Any, key_prefix: str) -> None:
    hosts = [server.address for server in memcached_servers]
    cache = kata.cache.MemcachedCache(hosts=hosts, prefix=key_prefix)
    keys = [f"k{i}" for i in range(50)]
    cache.set_multi({key: key for key in keys})
    reference = Libketama(hosts)
    for server in memcached_servers:
        raw = pymemcache.Client((server.host, server.port))
        held = set(raw.get_many([f"{key_prefix}{key}" for key in keys]))
        raw.close()
        expected = {
            f"{key_prefix}{key}" for key in keys if reference.server(f"{key_prefix}{key}") == server.address
        }
        assert held == expected
        assert {cache.server_for(key) for key in keys if f"{key_prefix}{key}" in held} <= {server.address}
    cache.close()
