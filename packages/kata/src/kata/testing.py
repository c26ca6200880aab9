"""pytest fixtures for testing a kata project (a ``pytest11`` plugin, active once kata is installed).

Tell the plugin which module sets up the app, in ``pytest.ini`` (``kata new`` writes this)::

    [pytest]
    kata_app = myproject
    kata_config = config/test.yaml     # optional: CONFIG for the tests (default: the module's own)
    kata_schema = schema               # optional: the migrations folder (this is the default)

Then, in a test::

    def test_bar(kata_client):
        response = kata_client.get('/foo/bar/123')
        assert response.status == 200

Fixtures (all start with ``kata_``):

* ``kata_app``: the configured WSGI app, after importing the ``kata_app`` module once.
* ``kata_database``: a new database on the configured server (for ``embedded: true``, on the
  embedded one) with the project's migrations applied; ``kata.db`` points at it during the test,
  and it is dropped afterwards. Its ``.name`` and ``.section`` say where it is. The migrations
  run once per test run, into a template database that each test's database is copied from.
* ``kata_caches``: every configured cache replaced by an empty memory cache of the same name
  for the test; returns ``kata.cache.caches()``.
* ``kata_client``: ``kata.router.testing.Client`` of the app, with ``kata_database`` (when a
  database is configured) and ``kata_caches`` in place, so tests never touch development data.

The plugin imports nothing from kata until a test asks for one of these fixtures.
"""

from __future__ import annotations

import importlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("kata_app", "module whose import configures the kata app (e.g. myproject)", default="")
    parser.addini(
        "kata_config", "configuration file for the tests, set as CONFIG before kata_app is imported"
    )
    parser.addini(
        "kata_schema", "folder of the project's migrations, relative to the rootdir", default="schema"
    )


@dataclass(frozen=True)
class TestDatabase:
    """The database of one test: its ``name`` and the ``section`` kata.db was initialized with."""

    __test__ = False  # not a test class, despite the name

    name: str
    section: dict[str, Any]


@pytest.fixture(scope="session")
def kata_app(pytestconfig: pytest.Config) -> Any:
    """The configured WSGI app; imports the ``kata_app`` module (from pytest.ini) first."""
    import kata.config

    module = str(pytestconfig.getini("kata_app")).strip()
    if module:
        config = str(pytestconfig.getini("kata_config") or "").strip()
        if config and "CONFIG" not in os.environ:
            os.environ["CONFIG"] = str(pytestconfig.rootpath / config)
        problem = None
        try:
            importlib.import_module(module)
        except kata.config.ConfigError as exc:
            problem = f"kata_app: importing {module}: {exc}"
        if problem is not None:  # failed outside the except block: one line, no chained causes
            pytest.fail(problem, pytrace=False)
    try:
        return kata.config.app()
    except RuntimeError as exc:
        pytest.fail(f"{exc} (or set kata_app = YOUR_PACKAGE in pytest.ini)", pytrace=False)


@dataclass(frozen=True)
class _Template:
    """The database the project's migrations were applied to, once per run, to clone per test."""

    name: str


@pytest.fixture(scope="session")
def _kata_template(pytestconfig: pytest.Config, kata_app: Any) -> Iterator[_Template]:
    import kata.config
    import kata.db
    import kata.schema

    configured = kata.config.database()
    if configured is None:
        pytest.fail("kata_database: the configuration has no database: section", pytrace=False)
    name = f"{configured['name']}_template_{uuid.uuid4().hex[:12]}"[:63]
    section = {**configured, "name": name, "pool_size": 1}
    _admin(configured, "CREATE DATABASE {}", name)
    try:
        kata.db.initialize(section)
        try:
            schema = pytestconfig.rootpath / str(pytestconfig.getini("kata_schema"))
            if schema.is_dir():
                kata.schema.apply(str(schema))
        finally:
            # A template must have no connections while it is copied.
            kata.db.initialize(configured)
        yield _Template(name=name)
    finally:
        _admin(configured, "DROP DATABASE IF EXISTS {} WITH (FORCE)", name)


@pytest.fixture
def kata_database(_kata_template: _Template) -> Iterator[TestDatabase]:
    """A fresh database with the project's migrations applied, used by kata.db for this test.

    The migrations run once per test run, into a template database; each test gets a copy of
    it (``CREATE DATABASE ... TEMPLATE``), so a test costs the same with 1 migration or 300.
    """
    import kata.config
    import kata.db

    configured = kata.config.database()
    assert configured is not None  # _kata_template refused a configuration without one
    name = f"{configured['name']}_test_{uuid.uuid4().hex[:12]}"[:63]
    _admin(configured, "CREATE DATABASE {} TEMPLATE {}", name, _kata_template.name)
    section = {**configured, "name": name, "pool_size": min(kata.db.settings().pool_size, 4)}
    try:
        kata.db.initialize(section)
        yield TestDatabase(name=name, section=section)
    finally:
        kata.db.initialize(configured)
        _admin(configured, "DROP DATABASE IF EXISTS {} WITH (FORCE)", name)


def _admin(section: dict[str, Any], statement: str, *names: str) -> None:
    """Run *statement* with the database *names* filled in, on the server's postgres database."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    conninfo = make_conninfo(
        dbname="postgres",
        host=section.get("host"),
        port=section.get("port"),
        user=section.get("user"),
        password=section.get("password") or None,
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL(statement).format(*map(sql.Identifier, names)))


@pytest.fixture
def kata_caches(kata_app: Any) -> Iterator[dict[str, Any]]:
    """Every configured cache replaced by an empty memory cache of the same name."""
    import kata.cache
    import kata.config

    configured = kata.config.settings().cache
    kata.cache.initialize({name: {"type": "memory"} for name in configured})
    try:
        yield kata.cache.caches()
    finally:
        kata.cache.initialize(configured)


@pytest.fixture
def kata_client(request: pytest.FixtureRequest, kata_app: Any, kata_caches: dict[str, Any]) -> Any:
    """A test client of the app, on a fresh database and empty memory caches."""
    import kata.config
    from kata.router.testing import Client

    if kata.config.database() is not None:
        request.getfixturevalue("kata_database")
    return Client(kata_app)
