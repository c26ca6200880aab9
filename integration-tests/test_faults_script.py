"""tools/faults.py keeps working: one short scenario, run as its quick mode does."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))

import faults


def test_a_short_redis_kill_scenario_prints_its_table(capsys: pytest.CaptureFixture[str]) -> None:
    rows = faults.main(["--seconds", "3", "--scenario", "redis-killed"])
    assert [(row.scenario, row.kind) for row in rows] == [
        ("redis-killed", "redis"),
        ("redis-killed", "memcached"),
        ("redis-killed", "db"),
    ]
    for row in rows:
        assert row.requests > 0 and row.before > 0
        assert row.wrong == 0, row
        # A killed Redis costs no request: its container falls through to the database.
        assert row.non_2xx == 0, row
    printed = capsys.readouterr().out
    assert "| redis-killed | redis |" in printed and "load:" in printed
