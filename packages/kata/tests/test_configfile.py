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
        "port": settings.database["port"],  # kata.db converts the text by the key's type
        "user": "app_x",  # an empty variable takes the default, as in the shell
        "password": "literal ${NOT_A_VARIABLE} and $5",
    }
    assert str(settings.database["port"]) == "6543"
    assert settings.cache["redis"]["host"] == "localhost:6379"


# A key of every type of each section, from a variable: each package converts the text.
EVERY_TYPE = """
database:
  name: shop
  host: localhost
  user: app
  port: ${PORT}
  pool_size: ${POOL}
  protected: ${PROTECTED}
  connect_timeout: ${CONNECT}
  statement_timeout: ${T:-5}
cache:
  redis:
    type: redis
    host: localhost:6379
    db: ${REDIS_DB}
    timeout: ${REDIS_TIMEOUT:-0.5}
    pickle: ${PICKLE}
web:
  max_body_size: ${MAX_BODY}
  allowed_hosts: ${HOSTS}
"""
EVERY_TYPE_ENV = {
    "PORT": "6543",
    "POOL": "3",
    "PROTECTED": "true",
    "CONNECT": "2.5",
    "REDIS_DB": "2",
    "PICKLE": "false",
    "MAX_BODY": "65536",
    "HOSTS": "example.com,.example.org",
}


def test_a_variable_works_for_every_key_of_every_type(tmp_path, database):
    import kata.cache
    import kata.config
    import kata.db
    import kata.router

    section = database.section
    text = EVERY_TYPE.replace("name: shop", f"name: {section['name']}").replace(
        "host: localhost\n  user: app", f"host: {section['host']}\n  user: {section['user']}"
    )
    text = text.replace("localhost:6379", "127.0.0.1:1")  # never contacted: no command is sent
    environ = {**EVERY_TYPE_ENV, "PORT": str(section["port"])}
    settings = load(write(tmp_path, text), environ)
    assert settings.database is not None
    kata.db.initialize({**settings.database, "password": section["password"]})
    try:
        db = kata.db.settings()
        assert (db.port, db.pool_size, db.protected, db.connect_timeout, db.statement_timeout) == (
            section["port"],
            3,
            True,
            2.5,
            5.0,
        )
    finally:
        kata.db.close()
    redis = kata.cache.check(settings.cache)["redis"]
    assert (redis.db, redis.timeout, redis.pickle) == (2, 0.5, False)
    web = kata.router.check(settings.web)
    assert (web.max_body_size, web.allowed_hosts) == (65536, ["example.com", ".example.org"])


@pytest.mark.parametrize(
    ("variable", "value", "key"),
    [
        ("PORT", "http", "database.port"),
        ("CONNECT", "soon", "database.connect_timeout"),
        ("PROTECTED", "maybe", "database.protected"),
        ("REDIS_DB", "first", "cache.redis.db"),
        ("MAX_BODY", "1MB", "web.max_body_size"),
    ],
)
def test_a_variable_that_does_not_convert_names_file_key_variable_and_text(tmp_path, variable, value, key):
    found = error(tmp_path, EVERY_TYPE, {**EVERY_TYPE_ENV, variable: value})
    assert found.key == key
    assert f"(the value came from ${{{variable}}}, which gave {value!r})" in str(found)


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

    text = "database:\n  embedded: ../data/pg\n  name: shop\n  pool_size: 3\n  statement_timeout: 5\n"
    settings = load(write(tmp_path, text), {})
    assert settings.embedded is not None
    assert settings.embedded.data_dir == (tmp_path / "data" / "pg").resolve()
    assert settings.embedded.name == "shop"
    assert settings.embedded.options == {"pool_size": 3, "statement_timeout": 5}


def test_without_a_cache_section_there_is_one_memory_cache(tmp_path):
    settings = load(write(tmp_path, "database:\n  embedded: true\n"), {})
    assert settings.cache == {"memory": {"type": "memory"}}


def test_other_sections_are_kept_for_the_application(tmp_path):
    settings = load(write(tmp_path, "mail:\n  sender: a@example.com\n"), {})
    assert settings.extra == {"mail": {"sender": "a@example.com"}}
    assert settings.database is None
    assert settings.web is None


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("databse:\n  name: x\n", "databse", "did you mean 'database'"),
        ("cahce:\n  main: {}\n", "cahce", "did you mean 'cache'?"),
        ("wbe:\n  allowed_hosts: []\n", "wbe", "did you mean 'web'?"),
        ("- database\n", "", "expected a mapping of sections"),
        ("database:\n  embedded: 3\n", "database.embedded", "expected true or a data folder"),
        ("database:\n  embedded: true\n  host: localhost\n", "database.host", "not used with an embedded"),
    ],
)
def test_what_kata_reads_itself_names_the_key(tmp_path, text, key, expected):
    found = error(tmp_path, text)
    assert found.key == key
    assert expected in str(found)


@pytest.mark.parametrize(
    ("section", "value"),
    [
        ("database", "localhost"),
        ("database", ["name"]),
        ("database", {"host": "localhost"}),
        ("database", {"name": "a", "host": "h", "user": "u", "port": 0}),
        ("database", {"name": "a", "hots": "h", "user": "u"}),
        ("cache", ["memory"]),
        ("cache", {"main": {"type": "disk"}}),
        ("cache", {"main": "memory"}),
        ("cache", {"my-cache": {"type": "memory"}}),
        ("cache", {"m": {"type": "memcached"}}),
        ("cache", {"r": {"type": "redis", "host": "h", "hots": 1}}),
        ("cache", {"m": {"type": "memcached", "hosts": ["h:99999"]}}),
        ("web", {"allowed_hosts": "exa mple.com"}),
        ("web", {"max_body_sise": 10}),
        ("web", {"cors": {"max_age": -1}}),
    ],
)
def test_a_section_mistake_is_the_packages_own_message_with_the_file(tmp_path, section, value):
    import json

    import kata.cache
    import kata.db
    import kata.router

    found = error(tmp_path, json.dumps({section: value}))
    assert isinstance(found.__cause__, ValueError), "the package's own error, kept as the cause"
    package = getattr({"database": kata.db, "cache": kata.cache, "web": kata.router}[section], "check", None)
    if package is None:
        return  # kata.db before its check(): its message is checked by the case list above
    with pytest.raises(ValueError) as library:
        package(value)
    key = f"{section}.{library.value.key}" if library.value.key else section
    assert found.key == key
    assert str(found) == f"{found.path}: {key}: {library.value.problem}"


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
    assert str(found).endswith("expected a mapping of sections (database, cache, web), got 'hello'")


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing here yet\n"])
def test_an_empty_file_is_an_error_pointing_to_the_example(tmp_path, text):
    found = error(tmp_path, text)
    assert "is empty: expected the sections database:, cache: and web:" in str(found)
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
