"""The metrics: and health: sections: Prometheus metrics and the liveness/readiness endpoints."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

import kata
import kata.cache
import kata.config
import kata.container
import kata.db
import kata.health
import kata.metrics
import kata.resource
import kata.router
from kata.router.testing import Client


@pytest.fixture(autouse=True)
def closed_afterwards():
    yield
    kata.config.close()


def write_config(tmp_path: Path, **sections: Any) -> Path:
    path = tmp_path / "config" / "dev.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(sections, indent=2))
    return path


def scrape(client: Client, path: str = "/metrics") -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get(path)
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_requests_latency_pool_caches_and_pulls_are_exported(tmp_path, database, redis_server, key_prefix):
    database.run("CREATE TABLE thing (id serial PRIMARY KEY, name text)")
    database.run("INSERT INTO thing (name) VALUES ('a'), ('b')")
    caches = {"redis": {"type": "redis", "host": redis_server.address, "prefix": key_prefix}}
    kata.initialize(
        write_config(tmp_path, database=database.section, cache=caches, metrics={"buckets": [0.5, 30]})
    )
    template = f"/m{uuid.uuid4().hex[:8]}/{{id}}"

    class Thing(kata.db.Object):
        __table__ = "thing"

    class Names(kata.container.Attribute):
        def cache(self) -> Any:
            return kata.cache.redis

        def key(self, item: int) -> str:
            return f"thing:{item}"

        def pull(self, items: list[int]) -> dict[int, str]:
            return {row.id: row.name for row in Thing.get_in("id", items)}

    class Resource(kata.resource.Resource):
        def get(self, request, response, id):
            return self.success(Names([int(id)]).get())

    kata.router.add_route(template, Resource)
    client = Client(kata.config.app())
    for item in (1, 1, 2):
        assert client.get(template.replace("{id}", str(item))).status == 200
    assert client.post(template.replace("{id}", "1")).status == 405
    assert client.request("TRACE", template.replace("{id}", "1")).status in (405, 501)

    found = scrape(client)
    route = (("route", template),)

    def requests(method: str, status: int) -> float:
        labels = tuple(sorted((*route, ("method", method), ("status", str(status)))))
        return found.get(("kata_http_requests_total", labels), 0)

    assert requests("GET", 200) == 3
    assert requests("POST", 405) == 1
    assert requests("other", 405) + requests("other", 501) == 1
    get = tuple(sorted((*route, ("method", "GET"))))
    assert found[("kata_http_request_duration_seconds_count", get)] == 3
    assert found[("kata_http_request_duration_seconds_bucket", tuple(sorted((*get, ("le", "+Inf")))))] == 3
    # Buckets are cumulative: everything took less than 30 s.
    assert found[("kata_http_request_duration_seconds_bucket", tuple(sorted((*get, ("le", "30.0")))))] == 3
    assert 0 < found[("kata_http_request_duration_seconds_sum", get)] < 90
    assert found[("kata_db_pool_size", (("server", "primary"),))] == 4
    assert found[("kata_db_pool_in_use", (("server", "primary"),))] == 0
    assert ("kata_db_pool_waits_total", (("server", "primary"),)) in found
    # Items 1 (twice) and 2: the second lookup of 1 is a hit, each miss was pulled.
    assert found[("kata_cache_hits_total", (("cache", "redis"),))] == kata.cache.redis.stats.hits == 1
    assert found[("kata_cache_misses_total", (("cache", "redis"),))] == 2
    assert found[("kata_cache_errors_total", (("cache", "redis"),))] == 0
    container = (("container", f"{__name__}.{Names.__qualname__}"),)
    pulls = kata.container.pulls()[container[0][1]]
    assert found[("kata_container_pulls_total", container)] == pulls.calls
    assert found[("kata_container_pulled_keys_total", container)] == pulls.keys
    # The scrape itself bypasses the router and is not counted.
    assert not any(
        name == "kata_http_requests_total" and dict(labels)["route"] == "/metrics" for name, labels in found
    )


def test_unmatched_requests_share_one_route_label(tmp_path):
    kata.initialize(write_config(tmp_path, metrics={}))
    client = Client(kata.config.app())
    labels = (("method", "GET"), ("route", "(unmatched)"), ("status", "404"))
    before = scrape(client).get(("kata_http_requests_total", labels), 0)
    for n in range(3):
        assert client.get(f"/nothing-here/{uuid.uuid4().hex}/{n}").status == 404
    assert scrape(client)[("kata_http_requests_total", labels)] == before + 3


def test_metrics_settings_are_checked_and_name_the_key(tmp_path):
    with pytest.raises(kata.config.ConfigError) as caught:
        kata.initialize(write_config(tmp_path, metrics={"buckets": [1, 0.5]}))
    assert caught.value.key == "metrics.buckets"
    assert "increasing" in caught.value.problem
    with pytest.raises(kata.config.ConfigError) as caught:
        kata.initialize(write_config(tmp_path, metrics={"flush_interval": "soon"}))
    assert caught.value.key == "metrics.flush_interval"
    with pytest.raises(kata.config.ConfigError) as caught:
        kata.initialize(write_config(tmp_path, metrics={"pth": "/m"}))
    assert caught.value.key == "metrics.pth"
    # Strings from ${VAR} are converted by the key's type.
    assert kata.metrics.check({"flush_interval": "0.5", "path": "/m"}).flush_interval == 0.5


def test_liveness_and_readiness_with_everything_up(
    tmp_path, database, redis_server, memcached_servers, key_prefix
):
    caches = {
        "redis": {"type": "redis", "host": redis_server.address, "prefix": key_prefix},
        "memcached": {
            "type": "memcached",
            "hosts": [m.address for m in memcached_servers],
            "prefix": key_prefix,
        },
    }
    kata.initialize(write_config(tmp_path, database=database.section, cache=caches, health={}))
    client = Client(kata.config.app())
    live = client.get("/healthz")
    assert (live.status, live.json()) == (200, {"status": "ok"})
    before = {name: repr(cache.stats) for name, cache in kata.cache.caches().items()}
    ready = client.get("/readyz")
    assert ready.status == 200
    # ping() reads no key: the readiness check leaves the cache statistics alone.
    assert {name: repr(cache.stats) for name, cache in kata.cache.caches().items()} == before
    assert ready.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache redis": "ok", "cache memcached": "ok"},
    }


def test_readiness_answers_503_naming_what_failed(tmp_path, database, own_server, key_prefix):
    redis = own_server("redis")
    postgres = own_server("postgres")
    section = {
        **database.section,
        "host": postgres.host,
        "port": postgres.port,
        "name": "postgres",
        "user": "kata",
    }
    section["password"] = ""
    caches = {"redis": {"type": "redis", "host": redis.address, "prefix": key_prefix}}
    kata.initialize(
        write_config(tmp_path, database=section, cache=caches, health={"ready": "/ready", "timeout": 2})
    )
    client = Client(kata.config.app())
    assert client.get("/ready").status == 200
    redis.kill()
    answer = client.get("/ready")
    assert answer.status == 503
    body = answer.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["cache redis"].startswith("CacheError")
    postgres.kill()
    body = client.get("/ready").json()
    assert body["checks"]["database"] != "ok"
    assert client.get("/healthz").status == 200  # alive all the same


def test_health_settings_are_checked(tmp_path):
    with pytest.raises(kata.config.ConfigError) as caught:
        kata.initialize(write_config(tmp_path, health={"live": "healthz"}))
    assert caught.value.key == "health.live"
    with pytest.raises(kata.config.ConfigError) as caught:
        kata.initialize(write_config(tmp_path, health={"timeout": 0}))
    assert caught.value.key == "health.timeout"


def test_the_example_config_s_commented_sections_are_valid():
    from ruamel.yaml import YAML

    from kata.configfile import EXAMPLE

    lines = EXAMPLE.read_text().splitlines()
    start = lines.index("# metrics:                            # Prometheus metrics; needs kata[metrics]")
    block = [line[2:] for line in lines[start:] if line.startswith("# ") or line == "#"]
    sections = YAML(typ="safe").load("\n".join(block))
    assert kata.metrics.check(sections["metrics"]).buckets[-1] == 10
    assert kata.health.check(sections["health"]).ready == "/readyz"
