"""Memory of a gunicorn worker receiving a 50 MB upload through ``Resource.body``.

Starts gunicorn (1 sync worker) on a free port with a resource that reads a multipart form
and hashes the uploaded file, warms the worker up with a small upload, then sends a 50 MB file
(with Content-Length, then chunked) and reads the worker's peak resident set (VmHWM, reset
before each upload through /proc/<pid>/clear_refs) against its resident set before the upload.

    tools/hatch run bench:python tools/bench/upload.py
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

SIZE = 50 * 1000 * 1000
BOUNDARY = "kataUploadBoundary"

APP = textwrap.dedent(
    """
    import hashlib

    import kata.resource
    from kata.router import Router

    app = Router(max_upload_size=64 * 1024 * 1024, max_part_size=64 * 1024 * 1024)


    class Upload(kata.resource.Resource):
        def post(self, request, response):
            upload = self.body(request)["file"]
            digest = hashlib.sha256()
            for block in iter(lambda: upload.stream.read(65536), b""):
                digest.update(block)
            return self.success({"size": upload.size, "sha256": digest.hexdigest()})


    app.add_route("/upload", Upload)
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def body(size: int) -> Iterator[bytes]:
    """A multipart body with one file of *size* pseudo-random bytes, produced in 1 MB pieces."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    block = hashlib.sha256(b"kata").digest() * (1000 * 1000 // 32)
    sent = 0
    while sent < size:
        piece = block[: min(len(block), size - sent)]
        sent += len(piece)
        yield piece
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def expected_sha256(size: int) -> str:
    digest = hashlib.sha256()
    for piece in list(body(size))[1:-1]:
        digest.update(piece)
    return digest.hexdigest()


def upload(port: int, size: int, chunked: bool) -> dict[str, object]:
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    if not chunked:
        headers["Content-Length"] = str(sum(len(piece) for piece in body(size)))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("POST", "/upload", body=body(size), headers=headers, encode_chunked=chunked)
        response = connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"upload failed: {response.status} {data[:200]!r}")
        result: dict[str, object] = json.loads(data)
        return result
    finally:
        connection.close()


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="kata-upload-"))
    (root / "uploadapp.py").write_text(APP)
    port = free_port()
    master = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "--chdir", str(root), "--bind", f"127.0.0.1:{port}"),
            *("--workers", "1", "-k", "sync", "--timeout", "120", "uploadapp:app"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if master.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.1)
        children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
        worker = int(children[0])
        upload(port, 2 * 1000 * 1000, chunked=False)  # warm up: imports, parser, temp files
        expected = expected_sha256(SIZE)
        print(
            f"gunicorn 1 sync worker, {SIZE / 1e6:.0f} MB file in a multipart form; load: {os.getloadavg()}"
        )
        print("| upload | RSS before (MiB) | peak RSS during (MiB) | growth (MiB) | file intact |")
        print("|---|---|---|---|---|")
        for chunked in (False, True):
            before = status_kb(worker, "VmRSS")
            Path(f"/proc/{worker}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
            result = upload(port, SIZE, chunked)
            peak = status_kb(worker, "VmHWM")
            intact = result == {"size": SIZE, "sha256": expected}
            label = "chunked" if chunked else "Content-Length"
            print(
                f"| {label} | {before / 1024:.1f} | {peak / 1024:.1f} | {(peak - before) / 1024:.1f} | {intact} |"
            )
    finally:
        master.terminate()
        master.wait(timeout=30)


if __name__ == "__main__":
    main()
