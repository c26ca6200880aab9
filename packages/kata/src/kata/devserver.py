"""``kata serve``: a development server that restarts the app when a source file changes.

The watching process never imports the app. It runs the app in a child process and starts a
new child when a ``.py``, ``.yaml`` or ``.sql`` file under the project folder changes, so
every reload begins from a clean interpreter. It also holds the embedded database (if the
configuration has one) for the whole session, so reloads do not restart PostgreSQL.

The server is the standard library's WSGI server, one thread per request: fine for
development, not for production (use gunicorn; the banner says how).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socketserver
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

WATCHED = (".py", ".yaml", ".yml", ".sql")
SKIPPED = ("venv", "node_modules", "static", "__pycache__")
POLL_SECONDS = 0.5


def run(module: str, attribute: str, config: Path | None, host: str, port: int, reload: bool) -> int:
    """Serve ``module:attribute`` on *host*:*port* until Ctrl-C; returns the exit status."""
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
    _hold_embedded_database(config_file)
    return _watch(module, attribute, host, port, config_file)


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
    with make_server(host, port, app, server_class=_ThreadingServer, handler_class=_Handler) as server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            # From here on this process is leaving; a second signal must not cut short the
            # exit handlers that let go of the embedded database.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return 0


def exit_cleanly_on_signals() -> None:
    """Make SIGINT and SIGTERM raise KeyboardInterrupt, so exit handlers (atexit) run.

    SIGINT is set explicitly because a shell starts background jobs with it ignored.
    """

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Handler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def _hold_embedded_database(config_file: Path) -> None:
    """Start the configured embedded database in this process, once, if the file is usable now."""
    from kata.configfile import ConfigError, load

    try:
        settings = load(config_file)
    except ConfigError:
        return  # the child reports it, and is restarted once the file is fixed
    if settings.embedded is not None:
        from kata import embedded

        with contextlib.suppress(embedded.EmbeddedError):
            embedded.start(settings.embedded)


def _watch(module: str, attribute: str, host: str, port: int, config_file: Path) -> int:
    exit_cleanly_on_signals()
    root = Path.cwd()
    command = [sys.executable, "-m", "kata.devserver", module, attribute, host, str(port)]
    seen = _snapshot(root)
    child = subprocess.Popen(command)
    reported = False
    try:
        while True:
            time.sleep(POLL_SECONDS)
            if child.poll() is not None and not reported:
                print(
                    f"kata serve: the app stopped (exit status {child.returncode}); "
                    "it starts again when a file changes",
                    flush=True,
                )
                reported = True
            now = _snapshot(root)
            if now != seen:
                changed = sorted(
                    str(p.relative_to(root)) for p in set(now) ^ set(seen) | _modified(seen, now)
                )
                print(f"kata serve: {', '.join(changed[:3])} changed, restarting", flush=True)
                seen = now
                _stop(child)
                _hold_embedded_database(config_file)
                child = subprocess.Popen(command)
                reported = False
    except KeyboardInterrupt:
        # Ctrl-C in a terminal reaches the child too: give it a moment to finish on its own.
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _stop(child)


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _snapshot(root: Path) -> dict[Path, float]:
    found = {}
    for path in _sources(root):
        with contextlib.suppress(OSError):
            found[path] = path.stat().st_mtime
    return found


def _modified(before: dict[Path, float], after: dict[Path, float]) -> set[Path]:
    return {p for p in before.keys() & after.keys() if before[p] != after[p]}


def _sources(root: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = [
            d for d in dirs if not d.startswith(".") and d not in SKIPPED and not d.endswith(".pgdata")
        ]
        for name in files:
            if name.endswith(WATCHED):
                yield Path(folder, name)


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
