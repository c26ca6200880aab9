"""``kata serve``: a development server that restarts the app when a source file changes.

The watching process never imports the app. It runs the app in a child process and starts a
new child when a ``.py``, ``.yaml``, ``.yml`` or ``.sql`` file under the project folder changes,
so every reload begins from a clean interpreter. Changes come from the operating system's file
events (inotify on Linux, through watchfiles), so an idle project costs nothing. Virtual
environments (any folder holding ``pyvenv.cfg``, whatever its name), dot-folders, ``static/``,
``node_modules/``, ``__pycache__/`` and the embedded database's ``*.pgdata/`` are not watched.

The watching process also holds the embedded database (if the configuration has one) for the
whole session, so reloads do not restart PostgreSQL. SIGTERM or Ctrl-C stops the child and
then the database, and the command exits.

The project's ``static/`` folder is served at ``/static/`` as the guide's nginx serves it in
production (kata.router's static-files app: nginx's content types, ETag, ranges). The server
is the standard library's WSGI server, one thread per request: fine for development, not for
production (use gunicorn; the banner says how).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socketserver
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

WATCHED = (".py", ".yaml", ".yml", ".sql")
SKIPPED = ("node_modules", "static", "__pycache__")
# How long a stopping child gets before it is killed: the whole command stays within 2 s.
STOP_SECONDS = 1.0
# How often the watcher wakes without events, to notice a child that stopped by itself.
WAKE_MS = 500


def run(module: str, attribute: str, config: Path | None, host: str, port: int, reload: bool) -> int:
    """Serve ``module:attribute`` on *host*:*port* until Ctrl-C or SIGTERM; returns the exit status."""
    if config is not None:
        os.environ["CONFIG"] = str(Path(config).resolve())
    config_file = Path(os.environ.get("CONFIG") or "config/dev.yaml")
    print(f"kata serve: {module}:{attribute} on http://{host}:{port}/ (config {config_file})", flush=True)
    print(
        f"  {'reloads when a file changes; ' if reload else ''}Ctrl-C stops. For production, from this folder:"
    )
    print(f"      gunicorn --bind {host}:{port} --workers 4 {module}:{attribute}", flush=True)
    if not reload:
        return serve(module, attribute, host, port)
    exit_cleanly_on_signals()
    try:
        _hold_embedded_database(config_file)
        return _watch(module, attribute, host, port, config_file)
    except KeyboardInterrupt:
        return 0
    finally:
        _release_embedded_database()


def serve(module: str, attribute: str, host: str, port: int) -> int:
    """Import the app and serve it in this process until SIGINT or SIGTERM."""
    import importlib

    from kata.configfile import ConfigError

    exit_cleanly_on_signals()
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        app = getattr(importlib.import_module(module), attribute)
    except ConfigError as exc:
        # The file is the user's mistake, not kata's: one line, no traceback.
        print(f"kata serve: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 0
    if Path("static").is_dir():
        # What nginx serves in production (the guide's location /static/ { alias ...; }).
        from kata.router.static import StaticFiles

        app = StaticFiles("static", "/static/", app=app)
    with make_server(host, port, app, server_class=_ThreadingServer, handler_class=_Handler) as server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            # From here on this process is leaving; a second signal must not cut short the
            # exit handlers that let go of the embedded database.
            ignore_signals()
    return 0


def exit_cleanly_on_signals() -> None:
    """Make SIGINT and SIGTERM raise KeyboardInterrupt, so ``finally`` blocks and atexit run.

    SIGINT is set explicitly because a shell starts background jobs with it ignored.
    """

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def ignore_signals() -> None:
    """Ignore SIGINT and SIGTERM from here on (the process is already shutting down)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Handler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


_held: Path | None = None


def _hold_embedded_database(config_file: Path) -> None:
    """Start the configured embedded database in this process, once, if the file is usable now."""
    global _held
    from kata.configfile import ConfigError, load

    try:
        settings = load(config_file)
    except ConfigError:
        return  # the child reports it, and is restarted once the file is fixed
    if settings.embedded is None or settings.embedded.data_dir == _held:
        return
    from kata import embedded

    with contextlib.suppress(embedded.EmbeddedError):
        embedded.start(settings.embedded)
        _release_embedded_database()
        _held = settings.embedded.data_dir


def _release_embedded_database() -> None:
    global _held
    if _held is not None:
        from kata import embedded

        ignore_signals()  # stopping PostgreSQL must not be cut short by a second Ctrl-C
        embedded.stop(_held)
        _held = None
        exit_cleanly_on_signals()


def _watch(module: str, attribute: str, host: str, port: int, config_file: Path) -> int:
    import watchfiles

    root = Path.cwd()
    command = [sys.executable, "-m", "kata.devserver", module, attribute, host, str(port)]
    child = subprocess.Popen(command)
    reported = False
    try:
        for changes in watchfiles.watch(
            *watched_paths(root),
            watch_filter=_Filter(root),
            debounce=200,
            rust_timeout=WAKE_MS,
            yield_on_timeout=True,
            raise_interrupt=True,
        ):
            if child.poll() is not None and not reported:
                print(
                    f"kata serve: the app stopped (exit status {child.returncode}); "
                    "it starts again when a file changes",
                    flush=True,
                )
                reported = True
            if not changes:
                continue
            changed = sorted({_shown(root, path) for _, path in changes})
            print(f"kata serve: {', '.join(changed[:3])} changed, restarting", flush=True)
            _stop(child)
            _hold_embedded_database(config_file)
            child = subprocess.Popen(command)
            reported = False
    except KeyboardInterrupt:
        pass
    finally:
        ignore_signals()
        _stop(child)
        exit_cleanly_on_signals()
    return 0


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def watched_paths(root: Path) -> list[Path]:
    """What to watch under *root*: each folder not skipped (recursively), and the source files
    directly in it. Virtual environments are left out whatever their name, so their thousands
    of folders get no inotify watch."""
    paths = []
    with os.scandir(root) as entries:
        for entry in entries:
            path = Path(entry.path)
            if entry.is_dir():
                if not _skipped(path):
                    paths.append(path)
            elif entry.name.endswith(WATCHED):
                paths.append(path)
    return sorted(paths)


def _skipped(folder: Path) -> bool:
    name = folder.name
    return (
        name.startswith(".")
        or name in SKIPPED
        or name.endswith(".pgdata")
        or (folder / "pyvenv.cfg").exists()
        or (folder / "conda-meta").is_dir()
    )


class _Filter:
    """Source files only, and nothing inside a skipped folder below the watched ones."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(self, change: object, path: str) -> bool:
        if not path.endswith(WATCHED):
            return False
        return not any(_skipped(folder) for folder in _folders(self.root, Path(path)))


def _folders(root: Path, path: Path) -> Iterator[Path]:
    for parent in path.parents:
        if parent == root or root not in parent.parents:
            return
        yield parent


def _shown(root: Path, path: str) -> str:
    with contextlib.suppress(ValueError):
        return str(Path(path).relative_to(root))
    return path


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
