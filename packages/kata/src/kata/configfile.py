"""Reading and checking a kata YAML configuration file, before anything is set up from it.

The file is parsed with ruamel.yaml's safe loader (no tags that build Python objects),
``${VAR}`` and ``${VAR:-default}`` are replaced from the environment in every string, and each
section is checked for the mistakes that would otherwise surface later inside a request.
Every problem raises :class:`ConfigError` naming the file, the key path and what was expected.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

SECTIONS = ("database", "cache")
EXAMPLE = Path(__file__).with_name("config.yaml.example")  # every section and key, commented
CACHE_TYPES = ("memory", "redis", "memcached")

# Keys of the guide's database section that kata checks itself; the others kata.db knows
# (see kata.db.Settings) are handed to kata.db.initialize as they are, which checks them.
_SERVER_KEYS = ("name", "host", "port", "user", "password", "pool_size")
_EMBEDDED_KEYS = ("embedded", "name", "pool_size")

# ${VAR}, ${VAR:-default}; $${ stays a literal ${.
_VARIABLE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_BROKEN_VARIABLE = re.compile(r"\$\{(?![A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\})")


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the file and the key path."""

    def __init__(self, path: str | os.PathLike[str], key: str, problem: str) -> None:
        self.path = str(path)
        self.key = key
        self.problem = problem
        where = f"{self.path}: {key}: " if key else f"{self.path}: "
        super().__init__(where + problem)


@dataclass(frozen=True)
class EmbeddedDatabase:
    """``database: {embedded: ...}``: a PostgreSQL kept in *data_dir*, started on demand."""

    data_dir: Path
    name: str
    pool_size: int | None


@dataclass(frozen=True)
class Settings:
    """A checked configuration file.

    ``database`` is the section for ``kata.db.initialize`` (None when the file has no
    ``database:``), unless ``embedded`` is set, in which case the section is made once the
    embedded server runs. ``cache`` is the section for ``kata.cache.initialize``. ``extra``
    holds any other top-level keys, for the application's own use.
    """

    path: Path
    database: dict[str, Any] | None
    embedded: EmbeddedDatabase | None
    cache: dict[str, dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)


def load(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Settings:
    """Read, substitute and check the configuration file at *path*.

    *environ* defaults to ``os.environ``. Raises :class:`ConfigError`.
    """
    file = Path(path)
    if ".." in file.parts:
        # The guide builds the path as .../myproject/../config/dev.yaml; name the file plainly.
        file = file.resolve()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(file, "", "no such file") from None
    except IsADirectoryError:
        raise ConfigError(file, "", "is a folder, expected a YAML file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            file, "", f"is not a text file in UTF-8 ({exc.reason} at byte {exc.start})"
        ) from None
    except OSError as exc:
        raise ConfigError(file, "", f"cannot be read: {exc.strerror or exc}") from exc
    try:
        raw = YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise ConfigError(file, "", f"is not valid YAML: {_yaml_problem(exc)}") from exc
    if raw is None:
        raise ConfigError(
            file, "", f"is empty: expected the sections database: and cache: (an example: {EXAMPLE})"
        )
    if not isinstance(raw, dict):
        raise ConfigError(file, "", f"expected a mapping of sections (database, cache), got {_kind(raw)}")
    data = _substitute(file, raw, "", os.environ if environ is None else environ)
    extra = {}
    for key in data:
        if key in SECTIONS:
            continue
        close = difflib.get_close_matches(str(key), SECTIONS, n=1, cutoff=0.7)
        if close:
            raise ConfigError(file, str(key), f"unknown section; did you mean '{close[0]}'?")
        extra[str(key)] = data[key]
    database, embedded = _database(file, data.get("database"))
    return Settings(
        path=file, database=database, embedded=embedded, cache=_cache(file, data.get("cache")), extra=extra
    )


def _yaml_problem(exc: YAMLError) -> str:
    """The parser's complaint on one line, with where it is in the file."""
    if isinstance(exc, MarkedYAMLError) and exc.problem and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = str(exc.problem)
        if isinstance(exc, DuplicateKeyError):
            found = re.match(r'found duplicate key "(.*?)" with value', problem)
            problem = f"duplicate key '{found.group(1)}'" if found else "duplicate key"
        elif "'\\t'" in problem:
            problem += " (indent with spaces, not tabs)"
        elif problem == "mapping values are not allowed here":
            problem += " (check this line's indentation, or quote a value that holds ': ')"
        elif "constructor for the tag" in problem:
            problem += " (only plain YAML is read: tags that build Python objects are refused)"
        elif exc.context and exc.context_mark is not None and exc.context_mark.line != mark.line:
            problem += f" ({exc.context} started on line {exc.context_mark.line + 1})"
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    if isinstance(exc, ReaderError):
        return f"character {exc.position + 1}: {exc.reason}"
    return str(exc).strip().splitlines()[0]


def _substitute(file: Path, value: Any, key: str, environ: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(file, v, _join(key, k), environ) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(file, v, f"{key}[{i}]", environ) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value
    broken = _BROKEN_VARIABLE.search(value.replace("$${", ""))
    if broken:
        raise ConfigError(
            file, key, f"malformed variable in {value!r}: expected ${{NAME}} or ${{NAME:-default}}"
        )

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        found = environ.get(name)
        if found is not None and (found or default is None):
            return found
        if default is not None:
            return default
        raise ConfigError(
            file, key, f"environment variable {name} is not set (write ${{{name}:-default}} for a default)"
        )

    return _VARIABLE.sub(replace, value)


def _database(file: Path, section: Any) -> tuple[dict[str, Any] | None, EmbeddedDatabase | None]:
    if section is None:
        return None, None
    if not isinstance(section, dict):
        raise ConfigError(file, "database", f"expected a mapping, got {_kind(section)}")
    embedded = section.get("embedded", False)
    if embedded is not False:
        return None, _embedded(file, section, embedded)
    known = _database_keys()
    for key in section:
        if key not in known:
            raise ConfigError(
                file, _join("database", key), f"unknown key{_suggest(key, known)} (known: {', '.join(known)})"
            )
    missing = [k for k in ("name", "host", "user") if k not in section]
    if missing:
        raise ConfigError(
            file,
            "database",
            f"missing {', '.join(missing)}: a database server needs name, host, port, user, password "
            "and pool_size (or write 'embedded: true' for a PostgreSQL kept beside this file)",
        )
    out = {str(k): v for k, v in section.items() if k != "embedded"}
    for name in ("name", "host", "user"):
        out[name] = _string(file, f"database.{name}", out[name], allow_empty=False)
    if "password" in out:
        out["password"] = (
            "" if out["password"] is None else _string(file, "database.password", out["password"])
        )
    if "port" in out:
        out["port"] = _integer(file, "database.port", out["port"], 1, 65535)
    if "pool_size" in out:
        out["pool_size"] = _integer(file, "database.pool_size", out["pool_size"], 1, 10_000)
    return out, None


def _embedded(file: Path, section: dict[str, Any], embedded: Any) -> EmbeddedDatabase:
    if embedded is True:
        data_dir = file.parent / f"{file.stem}.pgdata"
    elif isinstance(embedded, str) and embedded:
        data_dir = file.parent / embedded
    else:
        raise ConfigError(
            file, "database.embedded", f"expected true or a data folder (a path), got {embedded!r}"
        )
    for key in section:
        if key not in _EMBEDDED_KEYS:
            raise ConfigError(
                file,
                _join("database", key),
                f"not used with an embedded database{_suggest(key, _EMBEDDED_KEYS)} "
                "(it takes only embedded, name and pool_size)",
            )
    name = _string(file, "database.name", section.get("name", "kata"), allow_empty=False)
    pool_size = None
    if "pool_size" in section:
        pool_size = _integer(file, "database.pool_size", section["pool_size"], 1, 10_000)
    return EmbeddedDatabase(data_dir=data_dir.resolve(), name=name, pool_size=pool_size)


def _cache(file: Path, section: Any) -> dict[str, dict[str, Any]]:
    if section is None:
        # No cache section: one memory cache, so kata.cache.memory exists in every project.
        return {"memory": {"type": "memory"}}
    if not isinstance(section, dict):
        raise ConfigError(
            file, "cache", f"expected a mapping of cache names to settings, got {_kind(section)}"
        )
    out = {}
    for name, settings in section.items():
        key = _join("cache", name)
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise ConfigError(
                file, key, "a cache name must be a Python identifier not starting with '_' (kata.cache.NAME)"
            )
        if settings is None:
            settings = {}
        if not isinstance(settings, dict):
            raise ConfigError(file, key, f"expected a mapping with a 'type', got {_kind(settings)}")
        settings = {str(k): v for k, v in settings.items()}
        kind = settings.setdefault("type", "memory")
        if kind not in CACHE_TYPES:
            raise ConfigError(
                file,
                f"{key}.type",
                f"expected one of {', '.join(CACHE_TYPES)}, got {kind!r}{_suggest(kind, CACHE_TYPES)}",
            )
        if kind == "redis" and "db" in settings:
            # ${VAR} substitution yields a string; the number it holds is what kata.cache takes.
            settings["db"] = _integer(file, f"{key}.db", settings["db"], 0, 1_000_000)
        out[name] = settings
    import kata.cache

    # kata.cache knows what each type needs; asking it here makes every mistake in the
    # section fail before anything of the new configuration is applied.
    try:
        kata.cache.check(out)
    except kata.cache.SectionError as exc:
        raise library_error(file, "cache", exc) from exc
    return out


def library_error(file: Path, section: str, exc: Exception) -> ConfigError:
    """A ConfigError for *file* from a library's error about its *section*.

    The library names the key inside its section, either as a "cache.main.host: ..." prefix
    or as ``exc.key``; the file comes from here.
    """
    message, key = str(exc), section
    prefix = re.match(rf"{section}(?:[.\[][^:\s]*)?(?=: )", message)
    if prefix:
        key, message = prefix.group(0), message[prefix.end() + 2 :]
    named = getattr(exc, "key", None)
    if key == section and isinstance(named, str) and named:
        key = f"{section}.{named}"
    return ConfigError(file, key, message)


def _database_keys() -> tuple[str, ...]:
    """Every key of a server database section: the guide's, then the others kata.db accepts."""
    import dataclasses

    import kata.db

    extra = [f.name for f in dataclasses.fields(kata.db.Settings) if f.name not in _SERVER_KEYS]
    return (*_SERVER_KEYS, *extra)


def _suggest(word: Any, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _string(file: Path, key: str, value: Any, allow_empty: bool = True) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigError(file, key, f"expected a string, got {_kind(value)}")
    text = str(value)
    if not text and not allow_empty:
        raise ConfigError(file, key, "expected a non-empty string")
    return text


def _integer(file: Path, key: str, value: Any, low: int, high: int) -> int:
    # Strings of digits are accepted because ${VAR} substitution always yields a string.
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(file, key, f"expected an integer from {low} to {high}, got {value!r}")
    return value


def _join(prefix: str, key: Any) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{value!r}"
