"""config.yaml.example and the packages' option tables, checked against the schemas.

The schemas (kata.db.Settings, kata.cache's per-type settings, kata.router.Settings) are the
one place each section is declared: the example must show every key of each, and every
package README's table of keys must list exactly the schema's keys, so neither can drift.
"""

import dataclasses
import re
import zipfile
from pathlib import Path

import msgspec
import pytest

import kata.cache
import kata.config
import kata.db
import kata.router
from kata.configfile import EXAMPLE

PACKAGES = Path(__file__).resolve().parents[2]


def keys(schema: type) -> set[str]:
    """The keys a section schema declares (a msgspec Struct, or a dataclass)."""
    if dataclasses.is_dataclass(schema):
        return {f.name for f in dataclasses.fields(schema)}
    return {f.name for f in msgspec.structs.fields(schema)}


CACHE_SCHEMAS = {
    "memory": kata.cache.MemorySettings,
    "redis": kata.cache.RedisSettings,
    "memcached": kata.cache.MemcachedSettings,
}


def shown(block: str, indent: int) -> set[str]:
    """Keys written at *indent* in a block of the example, live or commented out."""
    return set(re.findall(rf"^ {{{indent}}}(?:# )?([a-z_]+):", block, re.M))


def block_of(text: str, start: str, indent: int) -> str:
    """The lines of *text* from the line *start* to the next one indented at most *indent*."""
    lines = text.splitlines()
    first = lines.index(start)
    out = []
    for line in lines[first + 1 :]:
        if line.strip() and len(line) - len(line.lstrip()) <= indent and not line.lstrip().startswith("#"):
            break
        out.append(line)
    return "\n".join(out)


@pytest.fixture(autouse=True)
def closed_afterwards():
    yield
    kata.config.close()


@pytest.fixture
def servers(monkeypatch, database, redis_server, memcached_servers):
    """The example's variables pointed at the test servers."""
    section = database.section
    for name, value in {
        "DB_NAME": section["name"],
        "DB_HOST": section["host"],
        "DB_PORT": str(section["port"]),
        "DB_USER": section["user"],
        "DB_PASSWORD": section["password"] or "",
        "REDIS_HOST": redis_server.address,
        "MEMCACHED_HOST_1": memcached_servers[0].address,
        "MEMCACHED_HOST_2": memcached_servers[1].address,
    }.items():
        monkeypatch.setenv(name, value)
    return database


def test_the_example_sets_up_a_working_app(tmp_path, servers, key_prefix):
    # Only the prefix changes, so that tests sharing these servers never collide.
    config = tmp_path / "dev.yaml"
    config.write_text(EXAMPLE.read_text().replace("'myproject:'", f"'{key_prefix}'"))
    kata.config.initialize(config)

    assert kata.config.app() is not None
    assert kata.db.settings().name == servers.name
    with kata.db.connection() as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (servers.name,)
    for name in ("memory", "redis", "memcached"):
        cache = getattr(kata.cache, name)
        cache.set("example", {"works": name})
        assert cache.get("example") == {"works": name}


def test_the_example_shows_every_key_of_every_schema():
    text = EXAMPLE.read_text()
    assert shown(block_of(text, "database:", 0), 2) == keys(kata.db.Settings)
    for name, schema in CACHE_SCHEMAS.items():
        assert shown(block_of(text, f"  {name}:", 2), 4) == keys(schema), name
    assert shown(block_of(text, "web:", 0), 2) == keys(kata.router.Settings)
    cors = block_of(text, "  # cors:", 2)
    assert shown(cors, 4) | set(re.findall(r"^  #   ([a-z_]+):", cors, re.M)) == keys(
        kata.router.settings.Cors
    )


def table_keys(readme: Path) -> list[set[str]]:
    """The first column of every table in *readme* whose header starts with ``| key |``."""
    tables = re.findall(r"^\| key \|.*\n\|[-| ]+\|\n((?:\|.*\n)+)", readme.read_text(), re.M)
    return [set(re.findall(r"^\| `([a-z_]+)`", rows, re.M)) for rows in tables]


@pytest.mark.parametrize(
    ("package", "schemas"),
    [
        ("kata-orm", [kata.db.Settings]),
        ("kata-cache", list(CACHE_SCHEMAS.values())),
        ("kata-router", [kata.router.Settings]),
    ],
)
def test_each_readme_lists_exactly_the_schemas_keys(package, schemas):
    tables = table_keys(PACKAGES / package / "README.md")
    assert sorted(map(sorted, tables)) == sorted(sorted(keys(s)) for s in schemas)


def test_the_commented_embedded_database_is_valid_too(tmp_path):
    lines = EXAMPLE.read_text().splitlines()
    start = lines.index("#   database:")
    block = []
    for line in lines[start:]:
        if not line.startswith("#   "):
            break
        block.append(line[4:])
    config = tmp_path / "embedded.yaml"
    config.write_text("\n".join(block) + "\n")
    settings = kata.config.load(config)
    assert settings.embedded is not None
    assert (settings.embedded.name, settings.embedded.options) == ("myproject", {"pool_size": 4})
    assert settings.embedded.data_dir == tmp_path / "embedded.pgdata"


def test_the_example_is_in_the_wheel(wheelhouse):
    with zipfile.ZipFile(wheelhouse["kata"]) as wheel:
        shipped = wheel.read("kata/config.yaml.example").decode()
    assert shipped == EXAMPLE.read_text()
