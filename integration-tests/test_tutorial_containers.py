"""The tutorial's containers on each cache type of its config: memory, Redis and memcached.

One sync gunicorn worker serves the app, so the memory cache is one process's memory and a
value it cached is seen by the next request.
"""

import json

import psycopg
import pytest
import redis
from pymemcache.client.base import Client

JSON = {"Content-Type": "application/json"}
CACHES = ["memory", "redis", "memcached"]


@pytest.fixture(scope="module")
def port(serve_gunicorn) -> int:
    return serve_gunicorn("--workers", "1")


def stored(cache, key, tutorial, redis_server, memcached_servers) -> bool | None:
    """Whether the cache server holds *key* (None for the memory cache, which has no server)."""
    full = tutorial.prefix + key
    if cache == "redis":
        return bool(redis.Redis(redis_server.host, redis_server.port).exists(full))
    if cache == "memcached":
        # Asked of each server: which one holds a key is the cache's own business.
        found = False
        for server in memcached_servers:
            client = Client((server.host, server.port))
            try:
                found |= client.get(full) is not None
            finally:
                client.close()
        return found
    return None


@pytest.mark.parametrize("cache", CACHES)
def test_simple_container(cache, fetch, port, tutorial, redis_server, memcached_servers):
    bar = f"simple-{cache}"
    add = json.dumps({"qux": 1}).encode()
    assert fetch(port, "POST", f"/foos/{bar}", add, JSON).status == 200
    assert json.loads(fetch(port, "GET", f"/cached/{cache}/{bar}").body) == [1]
    assert stored(cache, f"foo:{bar}", tutorial, redis_server, memcached_servers) in (True, None)

    # A new row is not seen while the value is cached...
    assert fetch(port, "POST", f"/foos/{bar}", json.dumps({"qux": 2}).encode(), JSON).status == 200
    assert json.loads(fetch(port, "GET", f"/cached/{cache}/{bar}").body) == [1]

    # ...until the container is made dirty.
    assert fetch(port, "DELETE", f"/cached/{cache}/{bar}").status == 200
    assert stored(cache, f"foo:{bar}", tutorial, redis_server, memcached_servers) in (False, None)
    assert json.loads(fetch(port, "GET", f"/cached/{cache}/{bar}").body) == [1, 2]


@pytest.mark.parametrize("cache", CACHES)
def test_attribute_container(cache, fetch, port, tutorial):
    bar = f"attribute-{cache}"
    for qux in (10, 20):
        assert fetch(port, "POST", f"/foos/{bar}", json.dumps({"qux": qux}).encode(), JSON).status == 200
    rows = json.loads(fetch(port, "GET", f"/foos/{bar}").body)
    ids = [row["id"] for row in rows]

    reply = fetch(port, "GET", f"/cached/{cache}/ids/{ids[0]},{ids[1]},999999")
    assert reply.status == 200
    found = json.loads(reply.body)
    assert {k: v["qux"] for k, v in found.items()} == {str(ids[0]): 10, str(ids[1]): 20}, "999999 is absent"

    # Changed behind the container's back: the cached rows are still what it serves.
    with psycopg.connect(tutorial.dsn, autocommit=True) as conn:
        conn.execute("UPDATE foo SET qux = qux + 1 WHERE bar = %s", [bar])
    again = json.loads(fetch(port, "GET", f"/cached/{cache}/ids/{ids[0]},{ids[1]}").body)
    assert {k: v["qux"] for k, v in again.items()} == {str(ids[0]): 10, str(ids[1]): 20}

    assert fetch(port, "GET", f"/cached/{cache}/ids/one,two").status == 400
