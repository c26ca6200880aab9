"""Jinja2 templates for HTML routes, and the plain-text format."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import kata.resource
from kata.router import HTTPError, Router
from kata.router.testing import Client

FORTUNES = """<!DOCTYPE html>
<html><head><title>Fortunes</title></head><body><table>
<tr><th>id</th><th>message</th></tr>
{% for fortune in fortunes %}<tr><td>{{ fortune.id }}</td><td>{{ fortune.message }}</td></tr>
{% endfor %}</table></body></html>
"""


class Fortunes(kata.resource.Resource):
    def get(self, request, response):
        rows = [{"id": 11, "message": '<script>alert("This should not be displayed");</script>'}]
        rows.append({"id": 12, "message": "フレームワークのベンチマーク"})
        return self.render("fortunes.html", fortunes=rows)


class Missing(kata.resource.Resource):
    def get(self, request, response):
        return self.render("missing.html")


class Undefined(kata.resource.Resource):
    def get(self, request, response):
        return self.render("fortunes.html")


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    (tmp_path / "fortunes.html").write_text(FORTUNES)
    return tmp_path


def test_render_escapes_and_sends_html(templates):
    router = Router(templates=templates)
    router.add_route("/fortunes", Fortunes, format="html")
    response = Client(router).get("/fortunes")
    assert response.status == 200
    assert response.content_type == "text/html; charset=utf-8"
    assert (
        "<td>&lt;script&gt;alert(&#34;This should not be displayed&#34;);&lt;/script&gt;</td>"
        in response.text
    )
    assert "<td>フレームワークのベンチマーク</td>" in response.text


def test_templates_are_loaded_once(templates):
    router = Router()
    router.configure(templates=str(templates))
    router.add_route("/fortunes", Fortunes, format="html")
    client = Client(router)
    assert "Fortunes" in client.get("/fortunes").text
    (templates / "fortunes.html").write_text("changed")
    assert "Fortunes" in client.get("/fortunes").text
    # Another folder starts afresh.
    other = templates / "other"
    other.mkdir()
    (other / "fortunes.html").write_text("other")
    router.configure(templates=other)
    assert client.get("/fortunes").text == "other"


def test_template_mistakes_are_500s_with_the_reason_logged(templates, caplog):
    router = Router(templates=templates)
    router.add_route("/missing", Missing, format="html")
    router.add_route("/undefined", Undefined, format="html")
    router.add_route("/fortunes", Fortunes, format="html")
    client = Client(router)
    with caplog.at_level(logging.ERROR, "kata.router"):
        assert client.get("/missing").status == 500
        assert client.get("/undefined").status == 500
    assert "TemplateNotFound: 'missing.html' not found" in caplog.text
    assert "'fortunes' is undefined" in caplog.text

    unconfigured = Router()
    unconfigured.add_route("/fortunes", Fortunes, format="html")
    with caplog.at_level(logging.ERROR, "kata.router"):
        assert Client(unconfigured).get("/fortunes").status == 500
    assert "no templates folder" in caplog.text


def test_a_template_missing_at_first_is_found_once_it_is_there(templates):
    router = Router(templates=templates)
    router.add_route("/missing", Missing, format="html")
    client = Client(router)
    assert client.get("/missing").status == 500
    (templates / "missing.html").write_text("here now")
    assert client.get("/missing").text == "here now"


def test_a_missing_templates_folder_is_refused(tmp_path):
    with pytest.raises(ValueError, match="is not a directory"):
        Router(templates=tmp_path / "nope")


class Plain(kata.resource.Resource):
    def get(self, request, response):
        return self.success("Hello, World!")

    def post(self, request, response):
        raise HTTPError(409, "already there")


def test_text_routes():
    router = Router()
    info = router.add_route("/plaintext", Plain, format="text")
    assert info.format == "text"
    client = Client(router)
    response = client.get("/plaintext")
    assert response.status == 200 and response.body == b"Hello, World!"
    assert response.content_type == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == "13"
    error = client.post("/plaintext")
    assert error.status == 409 and error.text == "409 Conflict: already there\n"
    assert error.content_type == "text/plain; charset=utf-8"


def test_a_text_route_refuses_non_str(caplog):
    class Wrong(kata.resource.Resource):
        def get(self, request, response):
            return self.success({"a": 1})

    router = Router()
    router.add_route("/wrong", Wrong, format="text")
    assert Client(router).get("/wrong").status == 500
    assert "format='text' sends a str, not dict" in caplog.text
