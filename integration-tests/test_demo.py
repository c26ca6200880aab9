"""tools/demo's example project: set up, seeded, serving what it prints, stopped by Ctrl-C.

tools/demo itself only bootstraps the environment this test already runs in, then executes
tools/demo_project/run.py, which is what runs here (with its data in a temporary folder).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgpack

ROOT = Path(__file__).resolve().parent.parent


def test_demo_serves_what_it_prints_and_stops_on_ctrl_c(fetch):
    home = Path(tempfile.mkdtemp(prefix="kata-demo-"))  # not under pytest's 0700 tmp (see test_kata_command)
    home.chmod(0o755)
    config = home / "demo.yaml"
    shutil.copy(ROOT / "tools" / "demo_project" / "config" / "demo.yaml", config)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = home / "demo.log"
    demo = subprocess.Popen(
        [sys.executable, str(ROOT / "tools" / "demo_project" / "run.py"), "--port", str(port)],
        env={**os.environ, "CONFIG": str(config)},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while "serving on" not in log.read_text() and demo.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        output = log.read_text()
        assert "applied migration 1-books" in output and "seeded 5 books" in output, output
        assert f"curl http://127.0.0.1:{port}/books/1" in output

        assert json.loads(fetch(port, "GET", "/hello/world").body) == {"hello": "world"}
        books = json.loads(fetch(port, "GET", "/books").body)
        assert [b["title"] for b in books][:2] == ["The Left Hand of Darkness", "The Dispossessed"]
        assert json.loads(fetch(port, "GET", "/books/3").body)["title"] == "Kindred"
        assert fetch(port, "GET", "/books/99").status == 404
        assert json.loads(fetch(port, "GET", "/stats").body)["Ursula K. Le Guin"] == 2
        assert msgpack.unpackb(fetch(port, "GET", "/books.msgpack").body)[0]["title"] == books[0]["title"]
        page = fetch(port, "GET", "/books.html")
        assert page.headers["content-type"].startswith("text/html") and b"<td>Solaris</td>" in page.body
        new = {"title": "Ubik", "author": "Philip K. Dick", "year": 1969, "price": 7.5}
        created = fetch(
            port, "POST", "/books", json.dumps(new).encode(), {"Content-Type": "application/json"}
        )
        assert created.status == 200 and json.loads(created.body)[0]["price"] == "7.50"
        assert json.loads(fetch(port, "GET", "/stats").body)["Philip K. Dick"] == 1, (
            "creating a book dirties the stats"
        )
        assert (
            fetch(port, "POST", "/books", b'{"title": 1}', {"Content-Type": "application/json"}).status == 400
        )
        assert fetch(port, "DELETE", "/books").status == 405

        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=30) == 0
        assert not (home / "demo.pgdata" / "postmaster.pid").exists(), "Ctrl-C stopped the database too"
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        shutil.rmtree(home, ignore_errors=True)
