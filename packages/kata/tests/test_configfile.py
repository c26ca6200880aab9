"""Reading and checking configuration files: the guide's sections, variables, and every mistake."""

from pathlib import Path

import pytest

from kata.config import ConfigError, load

GUIDE = """
database:
  name: YOUR_DATABASE_NAME
  host: localhost
  password: YOUR_DATABASE_PASSWORD
  pool_size: 10
  port: 5432
  user: YOUR_DATABASE_USER

cache:
  memcached:
    type: memcached
    prefix: YOUR_KEY_PREFIX
    hosts:
      - 'localhost:11211'
      - 'localhost:11212'
  memory:
    type: memory
  redis:
    type: redis
    db: 0
    host: 'localhost:6379'
    prefix: YOUR_KEY_PREFIX
"""


def write(tmp_path: Path, text: str, name: str = "dev.yaml") -> Path:
    path = tmp_path / "config" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def error(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load(path, environ or {})
    assert str(caught.value).startswith(f"{path}: "), "every error names the file first"
    return caught.value


def test_the_guides_sections_are_handed_on_as_written(tmp_path):
    settings = load(write(tmp_path, GUIDE), {})
    assert settings.database == {
        "name": "YOUR_DATABASE_NAME",
        "host": "localhost",
        "password": "YOUR_DATABASE_PASSWORD",
        "pool_size": 10,
        "port": 5432,
        "user": "YOUR_DATABASE_USER",
    }
    assert settings.embedded is None
    assert settings.cache["memcached"] == {
        "type": "memcached",
        "prefix": "YOUR_KEY_PREFIX",
        "hosts": ["localhost:11211", "localhost:11212"],
    }
    assert settings.cache["memory"] == {"type": "memory"}
    assert settings.cache["redis"] == {
        "type": "redis",
        "db": 0,
        "host": "localhost:6379",
        "prefix": "YOUR_KEY_PREFIX",
    }


def test_variables_come_from_the_environment_with_defaults(tmp_path):
    text = """
database:
  name: ${DB_NAME}
  host: ${DB_HOST:-localhost}
  port: ${DB_PORT:-5432}
  user: app_${USER_SUFFIX:-x}
  password: ${DB_PASSWORD:-}
cache:
  redis:
    type: redis
    host: ${REDIS:-localhost:6379}
    prefix: "literal $${NOT_A_VARIABLE} and $5"
"""
    settings = load(write(tmp_path, text), {"DB_NAME": "shop", "DB_PORT": "6543", "USER_SUFFIX": ""})
    assert settings.database == {
        "name": "shop",
        "host": "localhost",
        "port": 6543,  # a number again, although variables are strings
        "user": "app_x",  # an empty variable takes the default, as in the shell
        "password": "",
    }
    assert settings.cache["redis"]["host"] == "localhost:6379"
    assert settings.cache["redis"]["prefix"] == "literal ${NOT_A_VARIABLE} and $5"


def test_an_unset_variable_names_the_key_and_the_variable(tmp_path):
    found = error(tmp_path, "cache:\n  redis:\n    type: redis\n    hosts: ['${MEMCACHED_HOST}']\n")
    assert found.key == "cache.redis.hosts[0]"
    assert "MEMCACHED_HOST is not set" in str(found)


def test_a_malformed_variable_is_an_error(tmp_path):
    found = error(tmp_path, "database:\n  embedded: true\n  name: ${not closed\n")
    assert found.key == "database.name"
    assert "malformed variable" in str(found)


def test_embedded_keeps_its_data_beside_the_config(tmp_path):
    settings = load(write(tmp_path, "database:\n  embedded: true\n"), {})
    assert settings.database is None
    assert settings.embedded is not None
    assert settings.embedded.data_dir == (tmp_path / "config" / "dev.pgdata").resolve()
    assert settings.embedded.name == "kata"

    settings = load(write(tmp_path, "database:\n  embedded: ../data/pg\n  name: shop\n  pool_size: 3\n"), {})
    assert settings.embedded is not None
    assert settings.embedded.data_dir == (tmp_path / "data" / "pg").resolve()
    assert (settings.embedded.name, settings.embedded.pool_size) == ("shop", 3)


def test_without_a_cache_section_there_is_one_memory_cache(tmp_path):
    settings = load(write(tmp_path, "database:\n  embedded: true\n"), {})
    assert settings.cache == {"memory": {"type": "memory"}}
    # A cache without a type is a memory cache.
    assert load(write(tmp_path, "cache:\n  local: {}\n"), {}).cache == {"local": {"type": "memory"}}


def test_other_sections_are_kept_for_the_application(tmp_path):
    settings = load(write(tmp_path, "mail:\n  sender: a@example.com\n"), {})
    assert settings.extra == {"mail": {"sender": "a@example.com"}}
    assert settings.database is None


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("databse:\n  name: x\n", "databse", "did you mean 'database'"),
        ("- database\n", "", "expected a mapping of sections"),
        ("database: localhost\n", "database", "expected a mapping"),
        ("database:\n  host: localhost\n", "database", "missing name, user"),
        (
            "database:\n  name: a\n  host: h\n  user: u\n  port: http\n",
            "database.port",
            "integer from 1 to 65535",
        ),
        (
            "database:\n  name: a\n  host: h\n  user: u\n  port: 0\n",
            "database.port",
            "integer from 1 to 65535",
        ),
        ("database:\n  name: a\n  host: h\n  user: u\n  pool_size: true\n", "database.pool_size", "integer"),
        ("database:\n  name: ''\n  host: h\n  user: u\n", "database.name", "non-empty string"),
        ("database:\n  name: [a]\n  host: h\n  user: u\n", "database.name", "expected a string"),
        ("database:\n  embedded: 3\n", "database.embedded", "expected true or a data folder"),
        (
            "database:\n  embedded: true\n  host: localhost\n",
            "database.host",
            "not used with an embedded database",
        ),
        ("cache: [memory]\n", "cache", "expected a mapping of cache names"),
        ("cache:\n  main:\n    type: disk\n", "cache.main.type", "expected one of memory, redis, memcached"),
        ("cache:\n  main: memory\n", "cache.main", "expected a mapping with a 'type'"),
        ("cache:\n  my-cache:\n    type: memory\n", "cache.my-cache", "Python identifier"),
        ("cache:\n  r:\n    type: redis\n    db: first\n", "cache.r.db", "integer"),
    ],
)
def test_mistakes_name_the_key_path_and_what_was_expected(tmp_path, text, key, expected):
    found = error(tmp_path, text)
    assert found.key == key
    assert expected in str(found)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="no such file") as caught:
        load(tmp_path / "nope.yaml")
    assert caught.value.path == str(tmp_path / "nope.yaml")


def test_yaml_errors_give_the_line(tmp_path):
    found = error(tmp_path, "database:\n  name: [a\n  host: b\n")
    assert "not valid YAML" in str(found)
    assert "line" in str(found)


def test_duplicate_keys_are_refused(tmp_path):
    assert "duplicate key" in str(error(tmp_path, "cache:\n  a: {}\ncache:\n  b: {}\n"))


def test_loading_is_safe(tmp_path):
    # A tag that would build a Python object (and run code) is refused, not obeyed.
    found = error(tmp_path, "database: !!python/object/apply:os.system ['touch hacked']\n")
    assert "not valid YAML" in str(found)
    assert not (tmp_path / "hacked").exists()
