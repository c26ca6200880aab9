"""The guide's tutorial project, served by real gunicorn (sync and gthread workers) and behind nginx.

The project (integration-tests/myproject) is laid out file by file as the guide writes it; its
config/dev.yaml is the guide's, with the server addresses taken from environment variables.
"""

import json

import msgpack
import pytest

JSON = {"Content-Type": "application/json"}
MSGPACK = {"Content-Type": "application/msgpack"}


@pytest.fixture(scope="module", params=["gunicorn-sync", "gunicorn-gthread", "nginx"])
def port(request, tutorial, serve_gunicorn, serve_nginx) -> int:
    """Where the app answers: gunicorn's sync workers, its gthread workers, or nginx in front."""
    if request.param == "gunicorn-sync":
        return serve_gunicorn("--workers", "2")
    gthread = serve_gunicorn("--workers", "2", "--worker-class", "gthread", "--threads", "4")
    return gthread if request.param == "gunicorn-gthread" else serve_nginx(gthread)


def test_json(fetch, port):
    reply = fetch(port, "GET", "/foo/bar/123")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("application/json")
    assert json.loads(reply.body) == {"baz": "123", "something": "else"}


def test_msgpack(fetch, port):
    reply = fetch(port, "GET", "/foo/bar/123/msgpack")
    assert reply.status == 200
    assert "msgpack" in reply.headers["content-type"]
    assert msgpack.unpackb(reply.body) == {"baz": "123", "something": "else"}


def test_html(fetch, port):
    reply = fetch(port, "GET", "/foo/bar/x%20y/html")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/html")
    assert b"<h1>bar x y</h1>" in reply.body


def test_post_json_body(fetch, port):
    sent = {"a": [1, 2.5, None], "b": "é"}
    reply = fetch(port, "POST", "/foo/bar/7", json.dumps(sent).encode(), JSON)
    assert reply.status == 200
    assert json.loads(reply.body) == {"baz": "7", "received": sent}


def test_post_msgpack_body(fetch, port):
    sent = {"a": [1, 2.5, None], "b": "é"}
    reply = fetch(port, "POST", "/foo/bar/7", msgpack.packb(sent), MSGPACK)
    assert reply.status == 200
    assert json.loads(reply.body) == {"baz": "7", "received": sent}


def test_unknown_path_is_404(fetch, port):
    reply = fetch(port, "GET", "/no/such/page")
    assert reply.status == 404
    assert json.loads(reply.body)["status"] == 404


def test_method_the_resource_lacks_is_405(fetch, port):
    reply = fetch(port, "DELETE", "/foo/bar/1")
    assert reply.status == 405
    assert "GET" in reply.headers["allow"] and "POST" in reply.headers["allow"]


def test_malformed_body_is_400(fetch, port):
    reply = fetch(port, "POST", "/foo/bar/1", b'{"not": json', JSON)
    assert reply.status == 400
    assert json.loads(reply.body)["status"] == 400


def test_database_rows_through_the_model(fetch, port):
    bar = f"rows-{port}"
    for qux in (5, 3):
        assert fetch(port, "POST", f"/foos/{bar}", json.dumps({"qux": qux}).encode(), JSON).status == 200
    reply = fetch(port, "GET", f"/foos/{bar}")
    assert reply.status == 200
    assert [(row["bar"], row["qux"]) for row in json.loads(reply.body)] == [(bar, 3), (bar, 5)]


def test_static_files_come_from_nginx(fetch, request, port, tutorial):
    reply = fetch(port, "GET", "/static/style.css")
    if "nginx" in request.node.callspec.id:
        assert reply.status == 200
        assert reply.body == (tutorial.root / "static" / "style.css").read_bytes()
        assert reply.headers["content-type"].startswith("text/css")
    else:
        assert reply.status == 404, "the app itself serves no static files"
