"""Templates, converters, precedence, conflicts and the default router."""

from __future__ import annotations

import uuid

import pytest

import kata.router
from kata.resource import Resource
from kata.router import RouteError, Router
from kata.router.testing import Client


class Echo(Resource):
    """Answers with the fields it received and their types."""

    def get(self, request, response, **fields):
        return self.success({name: [str(value), type(value).__name__] for name, value in fields.items()})


def make(*templates: str) -> Client:
    router = Router()
    for template in templates:
        router.add_route(template, Echo)
    return Client(router)


def fields(client: Client, path: str) -> dict:
    response = client.get(path)
    assert response.status == 200, response
    return response.json()


def test_the_guide_route_passes_its_field_as_a_keyword_argument():
    class Bar(Resource):
        def get(self, request, response, baz):
            return self.success({"baz": baz, "something": "else"})

    router = Router()
    router.add_route("/foo/bar/{baz}", Bar)
    response = Client(router).get("/foo/bar/123")
    assert response.status == 200
    assert response.json() == {"baz": "123", "something": "else"}
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("/items/{id:int}", "/items/42", {"id": ["42", "int"]}),
        ("/items/{id:int}", "/items/-7", {"id": ["-7", "int"]}),
        ("/at/{x:float}", "/at/1.5", {"x": ["1.5", "float"]}),
        ("/at/{x:float}", "/at/-2e3", {"x": ["-2000.0", "float"]}),
        ("/at/{x:float}", "/at/3", {"x": ["3.0", "float"]}),
        (
            "/u/{u:uuid}",
            "/u/12345678-1234-5678-1234-567812345678",
            {"u": ["12345678-1234-5678-1234-567812345678", "UUID"]},
        ),
        ("/files/{rest:path}", "/files/a/b/c.txt", {"rest": ["a/b/c.txt", "str"]}),
        ("/files/{rest:path}", "/files/x", {"rest": ["x", "str"]}),
        ("/s/{name}", "/s/caf%C3%A9", {"name": ["café", "str"]}),
        ("/s/{name}", "/s/a%20b", {"name": ["a b", "str"]}),
    ],
)
def test_fields_are_converted_by_type(template, path, expected):
    assert fields(make(template), path) == expected


@pytest.mark.parametrize(
    ("template", "path"),
    [
        ("/items/{id:int}", "/items/abc"),
        ("/items/{id:int}", "/items/1.5"),
        ("/items/{id:int}", "/items/+1"),
        ("/items/{id:int}", "/items/1_000"),
        ("/items/{id:int}", "/items/%D9%A1"),  # an Arabic-Indic digit: int() would accept it
        ("/items/{id:int}", "/items/" + "9" * 40),
        ("/at/{x:float}", "/at/nan"),
        ("/at/{x:float}", "/at/inf"),
        ("/at/{x:float}", "/at/1e999"),
        ("/u/{u:uuid}", "/u/not-a-uuid"),
        ("/u/{u:uuid}", "/u/{12345678-1234-5678-1234-567812345678}"),
        ("/s/{name}", "/s/"),
        ("/s/{name}", "/s"),
        ("/files/{rest:path}", "/files/"),
        ("/foo/bar", "/foo/bar/"),
        ("/foo/bar", "/foo//bar"),
        ("/foo/bar", "/FOO/bar"),
    ],
)
def test_a_value_that_does_not_convert_or_fit_is_a_404(template, path):
    response = make(template).get(path)
    assert response.status == 404
    assert response.json()["error"] == "Not Found"


def test_literals_win_over_fields_and_typed_fields_over_str():
    client = make("/users/me", "/users/{id:int}", "/users/{u:uuid}", "/users/{name}", "/users/{rest:path}")
    uid = str(uuid.uuid4())
    assert client.get("/users/me").json() == {}
    assert fields(client, "/users/12") == {"id": ["12", "int"]}
    assert fields(client, f"/users/{uid}") == {"u": [uid, "UUID"]}
    assert fields(client, "/users/bob") == {"name": ["bob", "str"]}
    assert fields(client, "/users/bob/extra") == {"rest": ["bob/extra", "str"]}


def test_a_failed_branch_falls_back_to_the_next_candidate():
    client = make("/users/me/settings", "/users/{id}/posts", "/users/{id:int}/likes")
    assert client.get("/users/me/settings").json() == {}
    # "me" matches the literal first, whose subtree has no "posts": the field route answers.
    assert fields(client, "/users/me/posts") == {"id": ["me", "str"]}
    # "5" converts to int, whose subtree has no "posts": the str field answers.
    assert fields(client, "/users/5/posts") == {"id": ["5", "str"]}
    assert fields(client, "/users/5/likes") == {"id": ["5", "int"]}
    assert client.get("/users/x/likes").status == 404


def test_field_names_may_differ_between_routes_sharing_a_position():
    client = make("/a/{x}", "/a/{y}/b")
    assert fields(client, "/a/1") == {"x": ["1", "str"]}
    assert fields(client, "/a/1/b") == {"y": ["1", "str"]}


def test_root_and_deep_templates():
    depth = 40
    deep = "".join(f"/s{i}/{{f{i}}}" for i in range(depth))
    client = make("/", deep)
    assert client.get("/").json() == {}
    path = "".join(f"/s{i}/{i}" for i in range(depth))
    got = fields(client, path)
    assert got == {f"f{i}": [str(i), "str"] for i in range(depth)}


def test_a_wide_table_resolves_every_route():
    router = Router()
    templates = [f"/r{i}/{{a}}/items/{{b:int}}" for i in range(300)] + [f"/static/{i}" for i in range(300)]
    for template in templates:
        router.add_route(template, Echo)
    client = Client(router)
    for i in range(0, 300, 7):
        assert fields(client, f"/r{i}/x/items/{i}") == {"a": ["x", "str"], "b": [str(i), "int"]}
        assert client.get(f"/static/{i}").status == 200
    assert client.get("/r300/x/items/1").status == 404
    assert "def find(path):" in router._table.source


@pytest.mark.parametrize(
    ("template", "fault"),
    [
        ("foo", "must start with '/'"),
        ("", "must start with '/'"),
        ("/foo/", "trailing slash"),
        ("/foo//bar", "empty segment"),
        ("/foo/{bar", "whole field"),
        ("/foo/bar}", "whole field"),
        ("/foo/x{bar}", "whole field"),
        ("/foo/{bar}.json", "whole field"),
        ("/foo/{}", "not a Python identifier"),
        ("/foo/{1x}", "not a Python identifier"),
        ("/foo/{class}", "not a Python identifier"),
        ("/foo/{request}", "reserved"),
        ("/foo/{a}/{a}", "appears twice"),
        ("/foo/{a:date}", "unknown type 'date'"),
        ("/foo/{a:path}/b", "must come last"),
        ("/foo bar", "whitespace"),
        ("/foo?x=1", "whitespace, '?'"),
        ("/foo%20bar", "'%'"),
    ],
)
def test_malformed_templates_fail_at_registration(template, fault):
    with pytest.raises(RouteError) as info:
        Router().add_route(template, Echo)
    assert fault in str(info.value)
    assert repr(template) in str(info.value)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("/foo/bar", "/foo/bar"),
        ("/foo/{a}", "/foo/{b}"),
        ("/foo/{a:int}/x", "/foo/{b:int}/x"),
        ("/f/{a:path}", "/f/{b:path}"),
    ],
)
def test_conflicting_routes_fail_at_registration(first, second):
    router = Router()
    router.add_route(first, Echo)
    with pytest.raises(RouteError, match="conflicts with") as info:
        router.add_route(second, Echo)
    assert repr(first) in str(info.value) and repr(second) in str(info.value)
    # The table is unchanged: the first route still answers.
    assert (
        Client(router).get(first.replace("{a}", "1").replace("{a:int}", "1").replace("{a:path}", "p")).status
        == 200
    )


def test_bad_resources_and_formats_fail_at_registration():
    class Nothing(Resource):
        pass

    class WrongField(Resource):
        def get(self, request, response, other):
            return self.success(other)

    class NeedsArgs(Resource):
        def __init__(self, required):
            self.required = required

        def get(self, request, response):
            return self.success(None)

    router = Router()
    with pytest.raises(RouteError, match="defines none of get, post, put, patch, delete"):
        router.add_route("/a", Nothing)
    with pytest.raises(RouteError, match=r"WrongField.get.*cannot take the template's fields \(baz\)"):
        router.add_route("/a/{baz}", WrongField)
    with pytest.raises(RouteError, match="NeedsArgs"):
        router.add_route("/a", NeedsArgs)
    with pytest.raises(RouteError, match="unknown format 'xml'"):
        router.add_route("/a", Echo, format="xml")
    with pytest.raises(RouteError, match=r"subclass of kata\.resource\.Resource"):
        router.add_route("/a", Echo())  # type: ignore[arg-type]
    with pytest.raises(RouteError, match=r"subclass of kata\.resource\.Resource"):
        router.add_route("/a", dict)  # type: ignore[arg-type]
    assert router.routes() == []


def test_routes_lists_template_class_format_and_methods():
    class Many(Resource):
        def get(self, request, response):
            return self.success(1)

        def delete(self, request, response):
            return self.success(1)

        def post(self, request, response):
            return self.success(1)

    class PostOnly(Resource):
        def post(self, request, response, id):
            return self.success(id)

    router = Router()
    router.add_route("/many", Many, format="msgpack")
    router.add_route("/p/{id:int}", PostOnly, name="post-only")
    assert [tuple(route) for route in router.routes()] == [
        ("/many", Many, "msgpack", ("GET", "HEAD", "POST", "DELETE", "OPTIONS"), None),
        ("/p/{id:int}", PostOnly, "json", ("POST", "OPTIONS"), "post-only"),
    ]
    assert router.routes()[0].template == "/many"


def test_routes_added_after_the_app_was_created_and_after_serving_are_served():
    router = Router()
    client = Client(router)
    assert client.get("/late").status == 404
    router.add_route("/late", Echo)
    assert client.get("/late").status == 200
    router.add_route("/later/{x:int}", Echo)
    assert fields(client, "/later/3") == {"x": ["3", "int"]}


def test_the_default_router_behind_the_module_functions():
    router = kata.router.default_router()
    app = kata.router.app()
    assert app is router and callable(app)
    template = f"/default-router-test/{uuid.uuid4().hex}/{{n:int}}"
    info = kata.router.add_route(template, Echo, format="msgpack")
    assert info in kata.router.routes()
    assert info.format == "msgpack" and info.resource is Echo
    response = Client(app).get(template.replace("{n:int}", "9"))
    assert response.status == 200
    assert response.headers["content-type"] == "application/msgpack"
    assert response.msgpack() == {"n": ["9", "int"]}


def test_non_ascii_literals_match_the_decoded_path():
    client = make("/caf\u00e9/{x}")
    assert fields(client, "/caf%C3%A9/1") == {"x": ["1", "str"]}
