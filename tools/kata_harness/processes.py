"""Starting a real WSGI server for a test: gunicorn on a free loopback port, stopped afterwards."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from kata_harness.servers import free_port


@contextlib.contextmanager
def gunicorn(folder: Path, app: str, *options: str, log: str = "gunicorn.log") -> Iterator[int]:
    """Serve *app* (``module:attr``, importable from *folder*) with gunicorn and its *options*;
    yields the port once it accepts connections. Output goes to *folder*/*log*, which the error
    quotes when gunicorn exits or does not listen within 30 s."""
    port = free_port()
    log_path = folder / log
    with log_path.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--chdir",
                str(folder),
                "--bind",
                f"127.0.0.1:{port}",
                *options,
                app,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"gunicorn did not start: {log_path.read_text()}") from None
                    time.sleep(0.1)
            yield port
        finally:
            process.terminate()
            process.wait(timeout=30)
