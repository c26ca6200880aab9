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
    assert "\n" not in str(caught.value), "every error is one line"
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
  password: "literal $${NOT_A_VARIABLE} and $5${DB_PASSWORD:-}"
cache:
  redis:
    type: redis
    host: ${REDIS:-localhost:6379}
"""
    settings = load(write(tmp_path, text), {"DB_NAME": "shop", "DB_PORT": "6543", "USER_SUFFIX": ""})
    assert settings.database == {
        "name": "shop",
        "host": "localhost",
        "port": 6543,  # a number again, although variables are strings
        "user": "app_x",  # an empty variable takes the default, as in the shell
        "password": "literal ${NOT_A_VARIABLE} and $5",
    }
    assert settings.cache["redis"]["host"] == "localhost:6379"


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
        ("cache:\n  r:\n    type: redis\n    host: h:1\n    db: first\n", "cache.r.db", "integer"),
        # A typo in a key.
        (
            "database:\n  name: a\n  hots: h\n  user: u\n",
            "database.hots",
            "unknown key; did you mean 'host'? (known: name, host, port, user, password, pool_size, protected",
        ),
        ("database:\n  embedded: true\n  nmae: a\n", "database.nmae", "did you mean 'name'?"),
        ("cahce:\n  main: {}\n", "cahce", "did you mean 'cache'?"),
        ("cache:\n  m:\n    type: memcache\n", "cache.m.type", "did you mean 'memcached'?"),
        # A list where a mapping belongs.
        ("database:\n  - name: a\n", "database", "expected a mapping, got a list"),
        ("cache:\n  r:\n    - type: redis\n", "cache.r", "expected a mapping with a 'type', got a list"),
        # A port as text, also through a variable.
        ("database:\n  name: a\n  host: h\n  user: u\n  port: '54x'\n", "database.port", "got '54x'"),
        # The keys a cache cannot do without.
        ("cache:\n  m:\n    type: memcached\n", "cache.m.hosts", "expected a list of 'host:port' strings"),
        (
            "cache:\n  r:\n    type: redis\n",
            "cache.r",
            "a redis cache needs exactly one of host ('host:port') or url",
        ),
        # What only kata.cache knows about a type, before anything is applied.
        ("cache:\n  m:\n    type: memcached\n    hosts: ['h:99999']\n", "cache.m.hosts[0]", "99999"),
        ("cache:\n  r:\n    type: redis\n    host: h\n    hots: 1\n", "cache.r.hots", "not an option"),
    ],
)
def test_mistakes_name_the_key_path_and_what_was_expected(tmp_path, text, key, expected):
    found = error(tmp_path, text)
    assert found.key == key
    assert expected in str(found)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("database:\n  name: [a\n  host: b\n", "line 3, column 7: expected ',' or ']', but got ':'"),
        ("database:\n  name: a\n   host: b\n", "line 3, column 8: mapping values are not allowed here"),
        ("database:\n\tname: a\n", "line 2, column 1: found character '\\t'"),
        ("cache:\n  a: {}\ncache:\n  b: {}\n", "line 3, column 1: duplicate key 'cache'"),
        ('{"database": ', "line 1, column 14: expected the node content"),
        ("\x00", "character 1: special characters are not allowed"),
    ],
)
def test_a_file_that_is_not_yaml_is_one_line_saying_where(tmp_path, text, expected):
    found = error(tmp_path, text)
    assert found.key == ""
    assert f": is not valid YAML: {expected}" in str(found)
    assert "\n" not in str(found)


def test_a_file_of_plain_text_is_not_a_configuration(tmp_path):
    found = error(tmp_path, "hello\n")
    assert str(found).endswith("expected a mapping of sections (database, cache), got 'hello'")


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing here yet\n"])
def test_an_empty_file_is_an_error_pointing_to_the_example(tmp_path, text):
    found = error(tmp_path, text)
    assert "is empty: expected the sections database: and cache:" in str(found)
    assert "config.yaml.example" in str(found)


def test_a_file_that_is_not_text_is_named(tmp_path):
    path = write(tmp_path, "")
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="is not a text file in UTF-8"):
        load(path)
    with pytest.raises(ConfigError, match="is a folder, expected a YAML file"):
        load(tmp_path)


def test_the_guides_path_with_dotdot_is_named_plainly(tmp_path):
    path = write(tmp_path, "databse: {}\n")
    (tmp_path / "myproject").mkdir()
    with pytest.raises(ConfigError) as caught:
        load(f"{tmp_path}/myproject/../config/dev.yaml", {})
    assert caught.value.path == str(path.resolve())
    assert str(caught.value).startswith(f"{path.resolve()}: databse: ")


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="no such file") as caught:
        load(tmp_path / "nope.yaml")
    assert caught.value.path == str(tmp_path / "nope.yaml")


def test_loading_is_safe(tmp_path):
    # A tag that would build a Python object (and run code) is refused, not obeyed.
    found = error(tmp_path, "database: !!python/object/apply:os.system ['touch hacked']\n")
    assert "not valid YAML" in str(found)
    assert not (tmp_path / "hacked").exists()
