"""``kata check``: load a configuration and reach each server it names, one line per part.

Each line is ``PART  ok|FAILED  what``, e.g.::

    config    ok      config/dev.yaml
    database  ok      myproject, embedded in config/dev.pgdata: PostgreSQL 16.2, 35.8 ms
    cache     ok      memory (memory), 0.3 ms
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from kata.configfile import ConfigError, Settings, load


def check(path: Path, say: Callable[[str], None]) -> bool:
    """Check the configuration at *path*, its database and every cache; True when all are fine.

    Each part is tried on its own, so a database that is down does not hide a cache that is
    misconfigured. Everything opened here is closed again.
    """
    import kata.cache
    import kata.db

    try:
        settings = load(path)
    except ConfigError as exc:
        say(f"config    FAILED  {exc}")
        return False
    say(f"config    ok      {path}")
    healthy = True

    try:
        healthy &= _database(settings, say)
    finally:
        kata.db.close()

    types = {name: typed.type for name, typed in kata.cache.check(settings.cache).items()}
    for name, section in settings.cache.items():
        label = f"{name} ({types[name]})"
        try:
            started = time.perf_counter()
            kata.cache.initialize({name: section})
            kata.cache.caches()[name].ping()
            say(f"cache     ok      {label}, {(time.perf_counter() - started) * 1000:.1f} ms")
        except Exception as exc:
            say(f"cache     FAILED  {label}: {_one_line(exc)}")
            healthy = False
        finally:
            kata.cache.close()
    return healthy


def _database(settings: Settings, say: Callable[[str], None]) -> bool:
    import kata.db

    section = settings.database
    if settings.embedded is not None:
        from kata import embedded

        try:
            section = embedded.start(settings.embedded).section(settings.embedded)
        except embedded.EmbeddedError as exc:
            say(f"database  FAILED  {exc}")
            return False
        where = f"{section['name']}, embedded in {_shown(settings.embedded.data_dir)}"
    elif section is not None:
        where = f"{section['name']} on {section['host']}:{section.get('port', 5432)}"
    else:
        say("database  none    (no database: section)")
        return True
    started = time.perf_counter()
    try:
        kata.db.initialize(section)
        with kata.db.connection() as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except Exception as exc:
        say(f"database  FAILED  {where}: {_one_line(exc)}")
        return False
    elapsed = (time.perf_counter() - started) * 1000
    version = row[0] if row else "?"
    say(f"database  ok      {where}: PostgreSQL {version}, {elapsed:.1f} ms")
    return True


def _shown(path: Path) -> str:
    """*path* relative to the current folder when it is inside it (shorter to read)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _one_line(exc: Exception) -> str:
    # Driver messages may span lines (libpq adds hints on their own lines).
    return " ".join(str(exc).split())
