"""Per-route and per-resource hooks, route groups, and URL reversing."""

from __future__ import annotations

import re
import uuid

import pytest

import kata.router
from kata.resource import Resource
from kata.router import HTTPError, RouteError, Router
from kata.router.testing import Client


def require_token(request, response):
    if request.header("authorization") != "Bearer t":
        raise HTTPError(401, "missing or bad token", {"WWW-Authenticate": "Bearer"})


def tag(label):
    def hook(request, response):
        request.context.__dict__.setdefault("trail", []).append(label)

    hook.__name__ = f"tag_{label}"
    return hook


def stamp(label):
    def hook(request, response):
        response.add_header("X-Trail", label)

    return hook


class Public(Resource):
    def get(self, request, response):
        return self.success({"trail": getattr(request.context, "trail", [])})


class Admin(Resource):
    before_hooks = (tag("resource"),)
    after_hooks = (stamp("resource"),)

    def get(self, request, response, id):
        return self.success({"id": id, "trail": request.context.trail})

    def delete(self, request, response, id):
        response.status = 204


def test_route_hooks_apply_to_that_route_only():
    router = Router()
    router.add_route("/public", Public)
    router.add_route("/private", Public, name="private", before=[require_token], after=[stamp("route")])
    c = Client(router)
    assert c.get("/public").status == 200 and "X-Trail" not in c.get("/public").headers
    denied = c.get("/private")
    assert denied.status == 401 and denied.headers["WWW-Authenticate"] == "Bearer"
    ok = c.get("/private", headers={"Authorization": "Bearer t"})
    assert ok.status == 200 and ok.headers["X-Trail"] == "route"


def test_order_router_group_route_resource_then_back_out():
    router = Router()
    router.before_request(tag("router"))
    router.after_request(stamp("router"))
    api = router.group("/api", before=[tag("group")], after=[stamp("group")])
    api.add_route("/admin/{id:int}", Admin, before=[tag("route")], after=[stamp("route")])
    r = Client(router).get("/api/admin/7")
    assert r.json() == {"id": 7, "trail": ["router", "group", "route", "resource"]}
    assert r.headers.get_all("X-Trail") == ["resource", "route", "group", "router"]
    # A method that sets the response instead of returning a result works the same way.
    deleted = Client(router).delete("/api/admin/7")
    assert deleted.status == 204 and deleted.headers.get_all("X-Trail") == [
        "resource",
        "route",
        "group",
        "router",
    ]


def test_a_before_hook_may_answer_and_after_hooks_still_run():
    def short_circuit(request, response):
        response.status = 202
        response.body = b"early"
        response.content_type = "text/plain"
        return response

    router = Router()
    router.add_route("/x/{id:int}", Admin, before=[short_circuit], after=[stamp("route")])
    r = Client(router).get("/x/1")
    assert (r.status, r.body) == (202, b"early")
    assert r.headers.get_all("X-Trail") == ["resource", "route"]


def test_an_error_in_the_method_skips_route_after_hooks():
    class Boom(Resource):
        def get(self, request, response):
            raise HTTPError(409, "conflict")

    router = Router()
    router.add_route("/boom", Boom, after=[stamp("route")])
    r = Client(router).get("/boom")
    assert r.status == 409 and "X-Trail" not in r.headers


def test_automatic_options_and_405_do_not_run_route_hooks():
    router = Router()
    router.add_route("/private", Public, before=[require_token])
    c = Client(router)
    assert c.options("/private").status == 204
    assert c.post("/private").status == 405


def test_hooks_are_checked_at_registration():
    router = Router()
    with pytest.raises(TypeError, match="list of hooks"):
        router.add_route("/a", Public, before=require_token)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not callable"):
        router.add_route("/a", Public, after=["nope"])  # type: ignore[list-item]

    class Bad(Resource):
        before_hooks = (42,)

        def get(self, request, response):
            return self.success(1)

    with pytest.raises(TypeError, match="before_hooks"):
        router.add_route("/b", Bad)


def test_groups_nest_and_check_their_prefix():
    router = Router()
    v1 = router.group("/api/v1")
    v1.add_route("/", Public, name="root")
    admin = v1.group("/admin", before=[require_token])
    admin.add_route("/users/{id:int}", Admin, name="admin-user")
    assert [info.template for info in router.routes()] == ["/api/v1", "/api/v1/admin/users/{id:int}"]
    c = Client(router)
    assert c.get("/api/v1").status == 200
    assert c.get("/api/v1/admin/users/3").status == 401
    assert c.get("/api/v1/admin/users/3", headers={"Authorization": "Bearer t"}).json()["id"] == 3
    for bad in ["api", "/api/", "/a//b", "/{x"]:
        with pytest.raises(RouteError):
            router.group(bad)


class User(Resource):
    def get(self, request, response, **fields):
        return self.success({k: str(v) for k, v in fields.items()})


def reversing_router() -> Router:
    router = Router()
    router.add_route("/users/{id:int}", User, name="user")
    router.add_route("/users/{id:int}/files/{rest:path}", User, name="file")
    router.add_route("/tags/{name}", User, name="tag")
    router.add_route("/points/{x:float}", User, name="point")
    router.add_route("/things/{u:uuid}", User, name="thing")
    router.add_route("/static", Public)
    return router


def test_url_for_by_name_and_by_class_round_trips():
    router = reversing_router()
    c = Client(router)
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    cases = [
        (("user",), {"id": 42}, "/users/42"),
        (("user",), {"id": -(2**63)}, "/users/-9223372036854775808"),
        (("file",), {"id": 1, "rest": "a b/c.txt"}, "/users/1/files/a%20b/c.txt"),
        (("tag",), {"name": "caf\u00e9 & co?"}, "/tags/caf%C3%A9%20&%20co%3F"),
        (("tag",), {"name": 5}, "/tags/5"),
        (("point",), {"x": 1.5}, "/points/1.5"),
        (("thing",), {"u": u}, f"/things/{u}"),
        (("thing",), {"u": str(u)}, f"/things/{u}"),
        ((Public,), {}, "/static"),
    ]
    for (target,), fields, expected in cases:
        path = router.url_for(target, **fields)
        assert path == expected, (target, fields)
        assert c.get(path).status == 200, path
    # The path reaches the route with the same field values.
    assert c.get(router.url_for("tag", name="caf\u00e9 & co?")).json() == {"name": "caf\u00e9 & co?"}
    # By class: the route whose fields are the ones given.
    assert router.url_for(User, id=3) == "/users/3"
    assert router.url_for(User, name="x") == "/tags/x"


@pytest.mark.parametrize(
    ("target", "fields", "message"),
    [
        ("user", {"id": 2**63}, "field 'id' ({id:int}) would not match 9223372036854775808"),
        ("user", {"id": "12a"}, "field 'id' ({id:int}) would not match '12a'"),
        ("user", {"id": True}, "field 'id' ({id:int}) would not match True"),
        ("user", {"id": 1.0}, "field 'id' ({id:int}) would not match 1.0"),
        ("tag", {"name": "a/b"}, "field 'name' ({name:str}) would not match 'a/b'"),
        ("tag", {"name": ""}, "field 'name' ({name:str}) would not match ''"),
        ("tag", {"name": "a\x00"}, "field 'name' ({name:str}) would not match 'a\\x00'"),
        ("point", {"x": float("nan")}, "field 'x' ({x:float}) would not match nan"),
        ("thing", {"u": "not-a-uuid"}, "field 'u' ({u:uuid}) would not match 'not-a-uuid'"),
        ("file", {"id": 1, "rest": ""}, "field 'rest' ({rest:path}) would not match ''"),
        ("user", {}, "route '/users/{id:int}': missing id"),
        ("user", {"id": 1, "extra": 2}, "route '/users/{id:int}': unexpected extra"),
        ("nobody", {}, "no route is named 'nobody'"),
        (Admin, {}, "no route serves 'Admin'"),
        (User, {"zzz": 1}, "User: no route takes the fields ['zzz']"),
    ],
)
def test_url_for_refuses_what_would_not_match(target, fields, message):
    with pytest.raises(RouteError) as caught:
        reversing_router().url_for(target, **fields)
    assert message in str(caught.value)


def test_route_names_are_unique():
    router = reversing_router()
    with pytest.raises(RouteError, match=re.escape("the name 'user' is already taken by '/users/{id:int}'")):
        router.add_route("/other", Public, name="user")
    # The refused route was not added.
    assert Client(router).get("/other").status == 404


def test_several_routes_with_the_same_fields_need_a_name():
    router = Router()
    router.add_route("/a/{id:int}", User)
    router.add_route("/b/{id:int}", User)
    with pytest.raises(RouteError, match="several routes take the fields"):
        router.url_for(User, id=1)


def test_module_level_group_and_url_for():
    group = kata.router.group("/__test_group")
    group.add_route("/{slug}", User, name="__test_group_slug")
    assert kata.router.url_for("__test_group_slug", slug="x y") == "/__test_group/x%20y"
    assert Client(kata.router.app()).get("/__test_group/x%20y").json() == {"slug": "x y"}
