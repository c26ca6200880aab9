"""The static-files app: nginx's content types and headers, ranges, and no way out of the folder.

The comparison tests run a real nginx (``alias`` as in the guide's site config) on the same
folder and check that both answer the same requests with the same status and headers.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import kata.resource
from kata.router import Router
from kata.router.nginx_types import DEFAULT_TYPE, TYPES
from kata.router.static import StaticFiles
from kata.router.testing import Client
from kata_harness.servers import free_port

FILES = {
    "hello.txt": b"hello, world\n",
    "index.html": b"<!doctype html><title>home</title>\n",
    "site.css": b"body { color: red }\n",
    "app.js": b"console.log(1)\n",
    "logo.PNG": b"\x89PNG\r\n\x1a\n" + bytes(200),
    "data.json": b'{"a": 1}\n',
    "archive.tar.gz": bytes(range(256)) * 8,
    "README": b"no extension\n",
    ".hidden": b"dot file\n",
    "space name.txt": b"spaces\n",
    "été.txt": b"accents\n",
    "docs/index.html": b"<p>docs</p>\n",
    "docs/guide.svg": b"<svg/>\n",
    "empty/.keep": b"",
    "large.bin": os.urandom(300_000),
}


@pytest.fixture(scope="module")
def site() -> Iterator[Path]:
    """A folder to serve, and a secret beside it; world-readable for nginx's workers."""
    root = Path(tempfile.mkdtemp(prefix="kata-static-"))
    root.chmod(0o755)
    static = root / "static"
    for name, data in FILES.items():
        path = static / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (static / "empty" / ".keep").unlink()
    (root / "secret.txt").write_bytes(b"secret\n")
    (static / "outside.txt").symlink_to(root / "secret.txt")
    (static / "outside-dir").symlink_to(root)
    (static / "inside.txt").symlink_to(static / "hello.txt")
    for path in [static, *static.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    yield static
    shutil.rmtree(root, ignore_errors=True)


class Api(kata.resource.Resource):
    def get(self, request, response):
        return self.success({"api": True})


@pytest.fixture(scope="module")
def client(site: Path) -> Client:
    router = Router()
    router.add_route("/api", Api)
    return Client(StaticFiles(site, "/static/", app=router))


def test_files_with_nginx_types_and_headers(client, site):
    response = client.get("/static/hello.txt")
    assert response.status == 200 and response.body == FILES["hello.txt"]
    assert response.content_type == "text/plain"  # no charset: nginx adds none by default
    stat = (site / "hello.txt").stat()
    assert response.headers["etag"] == f'"{int(stat.st_mtime):x}-{stat.st_size:x}"'
    assert response.headers["accept-ranges"] == "bytes"
    assert "last-modified" in response.headers and "cache-control" not in response.headers
    for name, kind in [
        ("site.css", "text/css"),
        ("app.js", "application/javascript"),
        ("logo.PNG", "image/png"),
        ("data.json", "application/json"),
        ("archive.tar.gz", "application/octet-stream"),
        ("README", DEFAULT_TYPE),
        ("docs/guide.svg", "image/svg+xml"),
        ("space%20name.txt", "text/plain"),
        ("%C3%A9t%C3%A9.txt", "text/plain"),
        ("inside.txt", "text/plain"),
    ]:
        assert client.get(f"/static/{name}").content_type == kind, name


def test_other_paths_go_to_the_app(client, site):
    assert client.get("/api").json() == {"api": True}
    assert client.get("/static").status == 404  # "/static" is not under "/static/": the app's 404
    alone = Client(StaticFiles(site, "/static/"))
    assert alone.get("/api").status == 404


@pytest.mark.parametrize(
    "path",
    [
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/%2E%2E/secret.txt",
        "/static/docs/../../secret.txt",
        "/static/docs/%2e%2e/%2e%2e/secret.txt",
        "/static/outside.txt",
        "/static/outside-dir/secret.txt",
        "/static/outside-dir/",
        "/static/hello.txt%00.png",
        "/static/nothing.txt",
        "/static/hello.txt/",
    ],
)
def test_paths_that_leave_the_folder_or_name_nothing_are_404s(client, path):
    response = client.get(path)
    assert response.status == 404, response
    assert b"secret" not in response.body


def test_directories_as_nginx_answers_them(client):
    response = client.get("/static/docs?x=1")
    assert response.status == 301 and response.headers["location"] == "/static/docs/?x=1"
    assert client.get("/static/docs/").body == FILES["docs/index.html"]
    assert client.get("/static/").body == FILES["index.html"]
    assert client.get("/static/empty/").status == 403


def test_methods(client):
    response = client.post("/static/hello.txt", body=b"x")
    assert response.status == 405 and response.headers["allow"] == "GET, HEAD"
    head = client.head("/static/hello.txt")
    assert (
        head.status == 200
        and head.body == b""
        and head.headers["content-length"] == str(len(FILES["hello.txt"]))
    )


def test_ranges_and_revalidation(client):
    response = client.get("/static/large.bin", headers={"Range": "bytes=1000-1999"})
    assert response.status == 206 and response.body == FILES["large.bin"][1000:2000]
    assert response.headers["content-range"] == f"bytes 1000-1999/{len(FILES['large.bin'])}"
    full = client.get("/static/large.bin")
    again = client.get("/static/large.bin", headers={"If-None-Match": full.headers["etag"]})
    assert again.status == 304 and again.body == b""
    since = client.get("/static/large.bin", headers={"If-Modified-Since": full.headers["last-modified"]})
    assert since.status == 304


def test_bad_settings():
    with pytest.raises(ValueError, match="is not a directory"):
        StaticFiles("/nonexistent-folder")
    with pytest.raises(ValueError, match="must start and end with '/'"):
        StaticFiles(tempfile.gettempdir(), "/static")


def test_the_type_table_is_nginxs_mime_types():
    text = Path("/etc/nginx/mime.types").read_text()
    body = text[text.index("{") + 1 : text.rindex("}")]
    expected = {}
    for statement in body.split(";"):
        words = statement.split()
        for extension in words[1:]:
            expected[extension.lower()] = words[0]
    assert expected == TYPES


# -- side by side with a real nginx ------------------------------------------------------------

NGINX_CONF = """
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location /static/ {{
            alias {root}/;
            autoindex off;
        }}
    }}
}}
"""


@pytest.fixture(scope="module")
def nginx(site: Path) -> Iterator[int]:
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if binary is None:
        pytest.fail("nginx not found: install it (apt-get install nginx, brew install nginx)")
    prefix = Path(tempfile.mkdtemp(prefix="kata-nginx-"))
    port = free_port()
    (prefix / "nginx.conf").write_text(NGINX_CONF.format(prefix=prefix, port=port, root=site))
    process = subprocess.Popen(
        [binary, "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (prefix / "error.log").read_text() if (prefix / "error.log").exists() else ""
                    pytest.fail(f"nginx did not start: {log}")
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)
        shutil.rmtree(prefix, ignore_errors=True)


COMPARED = ("content-type", "content-length", "etag", "last-modified", "accept-ranges", "content-range")
ABSENT = ("cache-control", "expires")


def from_nginx(
    port: int, method: str, path: str, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


REQUESTS = [
    *[
        ("GET", f"/static/{name}", {})
        for name in FILES
        if name.isascii() and " " not in name and "/" not in name
    ],
    ("GET", "/static/space%20name.txt", {}),
    ("GET", "/static/%C3%A9t%C3%A9.txt", {}),
    ("HEAD", "/static/site.css", {}),
    ("GET", "/static/large.bin", {"Range": "bytes=0-99"}),
    ("GET", "/static/large.bin", {"Range": "bytes=299000-"}),
    ("GET", "/static/large.bin", {"Range": "bytes=-10"}),
    ("GET", "/static/large.bin", {"Range": "bytes=400000-"}),
    ("GET", "/static/nothing.txt", {}),
    ("GET", "/static/docs/guide.svg", {}),
    ("GET", "/static/", {}),
    ("GET", "/static/docs/", {}),
    ("GET", "/static/empty/", {}),
]


@pytest.mark.parametrize(
    ("method", "path", "headers"), REQUESTS, ids=[f"{m} {p} {h}" for m, p, h in REQUESTS]
)
def test_same_answers_as_nginx(client, nginx, method, path, headers):
    status, theirs, body = from_nginx(nginx, method, path, headers)
    ours = client.request(method, path, headers=headers)
    assert ours.status == status
    # Error pages differ in their HTML (and so in type and length); the rest must be the same.
    compared = COMPARED if status < 400 else COMPARED[2:]
    assert {name: ours.headers.get(name) for name in compared} == {
        name: theirs.get(name) for name in compared
    }
    if status < 400:
        assert ours.body == body
    for name in ABSENT:
        assert name not in ours.headers and name not in theirs


def test_same_revalidation_as_nginx(client, nginx):
    _, first, _ = from_nginx(nginx, "GET", "/static/hello.txt", {})
    for headers in ({"If-None-Match": first["etag"]}, {"If-Modified-Since": first["last-modified"]}):
        status, theirs, _ = from_nginx(nginx, "GET", "/static/hello.txt", headers)
        ours = client.get("/static/hello.txt", headers=headers)
        assert ours.status == status == 304
        assert {name: ours.headers.get(name) for name in COMPARED} == {
            name: theirs.get(name) for name in COMPARED
        }


def test_same_directory_redirect_as_nginx(client, nginx):
    status, theirs, _ = from_nginx(nginx, "GET", "/static/docs", {})
    ours = client.get("/static/docs")
    assert ours.status == status == 301
    # nginx sends an absolute URL; ours is the same path, relative to the host.
    assert theirs["location"].endswith(ours.headers["location"])
