"""Reading and checking a kata YAML configuration file, before anything is set up from it.

The file is parsed with ruamel.yaml's safe loader (no tags that build Python objects),
``${VAR}`` and ``${VAR:-default}`` are replaced from the environment in every string, and each
section is handed to its package's schema, the only place it is checked: ``database:`` to
``kata.db.check``, ``cache:`` to ``kata.cache.check``, ``web:`` to ``kata.router.check``. The
packages convert strings by each key's type, so a variable works for every key. The one key
kata itself reads is ``database.embedded`` (see :mod:`kata.embedded`). Every problem raises
:class:`ConfigError` naming the file, the key path and what was expected, and for a value that
came from variables, their names and the text they gave.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

SECTIONS = ("database", "cache", "web")
EXAMPLE = Path(__file__).with_name("config.yaml.example")  # every section and key, commented

# Keys of an embedded database section that kata sets itself, to reach the server it starts.
_EMBEDDED_SETS = ("host", "port", "user", "password")

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
    """``database: {embedded: ...}``: a PostgreSQL kept in *data_dir*, started on demand.

    *options* are the section's other keys (``pool_size``, ``statement_timeout``, ...), checked
    by kata.db and handed to it with where the server runs.
    """

    data_dir: Path
    name: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    """A configuration file, read and checked.

    ``database`` is the section for ``kata.db.initialize`` (None when the file has no
    ``database:``), unless ``embedded`` is set, in which case the section is made once the
    embedded server runs. ``cache`` is the section for ``kata.cache.initialize``, ``web`` the
    one for ``kata.router.initialize`` (None without a ``web:`` section). ``extra`` holds any
    other top-level keys, for the application's own use.
    """

    path: Path
    database: dict[str, Any] | None
    embedded: EmbeddedDatabase | None
    cache: dict[str, Any]
    web: dict[str, Any] | None = None
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
            file, "", f"is empty: expected the sections database:, cache: and web: (an example: {EXAMPLE})"
        )
    if not isinstance(raw, dict):
        raise ConfigError(
            file, "", f"expected a mapping of sections (database, cache, web), got {_kind(raw)}"
        )
    sources: dict[str, tuple[list[str], str]] = {}
    data = _substitute(file, raw, "", os.environ if environ is None else environ, sources)
    extra = {}
    for key in data:
        if key in SECTIONS:
            continue
        close = difflib.get_close_matches(str(key), SECTIONS, n=1, cutoff=0.6)
        if close:
            raise ConfigError(file, str(key), f"unknown section; did you mean '{close[0]}'?")
        extra[str(key)] = data[key]
    with _named(file, sources):
        database, embedded = _database(file, data.get("database"))
        cache = _cache(data.get("cache"))
        web = _web(file, data.get("web"))
    return Settings(path=file, database=database, embedded=embedded, cache=cache, web=web, extra=extra)


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


def _substitute(
    file: Path, value: Any, key: str, environ: Mapping[str, str], sources: dict[str, tuple[list[str], str]]
) -> Any:
    """*value* with its variables replaced; *sources* gets, per key path that held any, the
    variables' names and the text that resulted (to name them when the text is refused)."""
    if isinstance(value, dict):
        return {k: _substitute(file, v, _join(key, k), environ, sources) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(file, v, f"{key}[{i}]", environ, sources) for i, v in enumerate(value)]
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

    result = _VARIABLE.sub(replace, value)
    names = [m.group(1) for m in _VARIABLE.finditer(value) if m.group(1)]
    if names:
        sources[key] = (names, result)
    return result


def _database(file: Path, section: Any) -> tuple[dict[str, Any] | None, EmbeddedDatabase | None]:

    if section is None:
        return None, None
    if not isinstance(section, dict) or section.get("embedded", False) is False:
        # A database server: the section is kata.db's alone.
        if isinstance(section, dict):
            section = {str(k): v for k, v in section.items() if k != "embedded"}
        return _check_database(section), None
    embedded = section["embedded"]
    if embedded is True or (isinstance(embedded, str) and embedded.strip().lower() == "true"):
        data_dir = file.parent / f"{file.stem}.pgdata"
    elif isinstance(embedded, str) and embedded:
        data_dir = file.parent / embedded
    else:
        raise ConfigError(
            file, "database.embedded", f"expected true or a data folder (a path), got {embedded!r}"
        )
    for key in _EMBEDDED_SETS:
        if key in section:
            raise ConfigError(
                file,
                f"database.{key}",
                "not used with an embedded database (kata sets host, port, user and password to "
                "reach the server it starts; remove 'embedded' to use a server of your own)",
            )
    options = {str(k): v for k, v in section.items() if k not in ("embedded", "name")}
    name = section.get("name", "kata")
    # kata.db checks the other keys as for any server; host and user stand for what kata sets.
    checked = _check_database({**options, "name": name, "host": "/embedded", "user": "postgres"})
    options = {k: checked[k] for k in options}
    return None, EmbeddedDatabase(data_dir=data_dir.resolve(), name=str(checked["name"]), options=options)


def _check_database(section: Any) -> dict[str, Any]:
    """*section* checked by kata.db, as the section to hand to ``kata.db.initialize``."""
    import kata.db

    kata.db.check(section)
    return dict(section)


def _cache(section: Any) -> dict[str, Any]:
    import kata.cache

    if section is None:
        # No cache section: one memory cache, so kata.cache.memory exists in every project.
        return {"memory": {"type": "memory"}}
    kata.cache.check(section)
    return dict(section)


def _web(file: Path, section: Any) -> dict[str, Any] | None:
    import kata.router

    if section is None:
        return None
    if isinstance(section, dict) and isinstance(section.get("templates"), str):
        # A folder named in the file is relative to the file, as the embedded database's is,
        # so the app finds it whatever folder it is started from.
        section = {**section, "templates": str((file.parent / section["templates"]).resolve())}
    kata.router.check(section)
    return dict(section)


@contextlib.contextmanager
def _named(file: Path, sources: dict[str, tuple[list[str], str]]) -> Iterator[None]:
    """Turn a package's configuration error into a ConfigError naming the file (and the
    variables, when the refused value came from them)."""
    try:
        yield
    except ConfigError:
        raise
    except ValueError as exc:
        section = next((s for s in SECTIONS if str(exc).startswith(s)), "")
        if not section:
            raise
        raise library_error(file, section, exc, sources) from exc


def library_error(
    file: Path, section: str, exc: Exception, sources: Mapping[str, tuple[list[str], str]] | None = None
) -> ConfigError:
    """A ConfigError for *file* from a package's error about its *section*.

    The package names the key inside its section as ``exc.key`` and the problem as
    ``exc.problem`` (its message is ``"<section>.<key>: <problem>"``); the file comes from here.
    """
    key = getattr(exc, "key", None) or ""
    problem = getattr(exc, "problem", None)
    if not isinstance(problem, str):
        problem = str(exc)
        prefix = f"{section}.{key}: " if key else f"{section}: "
        problem = problem.removeprefix(prefix)
    where = f"{section}.{key}" if key else section
    if sources and where in sources:
        names, text = sources[where]
        variables = ", ".join(f"${{{n}}}" for n in names)
        problem += f" (the value came from {variables}, which gave {text!r})"
    return ConfigError(file, where, problem)


def _join(prefix: str, key: Any) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{value!r}"
