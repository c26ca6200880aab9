"""tools/bench/tfb.py's apps answer every TechEmpower test type by its rules (the check step)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools", "bench")
)

import tfb


@pytest.fixture
def apps(database: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    tfb.create_tables(database.dsn)
    monkeypatch.setenv("TFB_DSN", database.dsn)
    monkeypatch.setenv("TFB_POOL_SIZE", "2")
    try:
        yield {name: tfb.make_app(name) for name in tfb.APPS}
    finally:
        tfb.close()


def test_every_app_passes_the_check(apps: dict[str, Any], database: Any) -> None:
    tfb.check(apps, database.dsn)
    assert database.run("SELECT count(*) FROM world") == [(tfb.WORLD_ROWS,)]
    assert database.run("SELECT count(*) FROM fortune WHERE message LIKE '%<script>%'") == [(1,)]


def test_the_check_catches_an_unescaped_fortune(apps: dict[str, Any], database: Any) -> None:
    def unescaping(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = b"".join(apps["falcon"](environ, start_response))
        return [body.replace(b"&lt;script&gt;", b"<script>")]

    with pytest.raises(tfb.CheckFailed, match="falcon /fortunes: markup not escaped"):
        tfb.check({"falcon": unescaping}, database.dsn)


def test_the_check_catches_a_wrong_clamp(apps: dict[str, Any], database: Any) -> None:
    def unclamped(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["QUERY_STRING"] == "queries=501":
            environ = dict(environ, QUERY_STRING="queries=499")
        return apps["kata"](environ, start_response)

    with pytest.raises(tfb.CheckFailed, match=r"kata /queries\?queries=501: 499 rows for 500"):
        tfb.check({"kata": unclamped}, database.dsn)
