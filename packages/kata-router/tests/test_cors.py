"""CORS, case by case against the Fetch standard (https://fetch.spec.whatwg.org/, "CORS protocol").

Each test's docstring names the rule it checks. A browser applies these rules to what the
router answers; the tests check the router's answers against them.
"""

from __future__ import annotations

from kata.resource import Resource
from kata.router import HTTPError, Router
from kata.router.testing import Client

A = "https://a.example"
B = "https://b.example"


class Things(Resource):
    def get(self, request, response):
        response.set_header("X-Total", "3")
        return self.success(["x"])

    def post(self, request, response):
        return self.success(self.body(request), status=201)


class Fail(Resource):
    def get(self, request, response):
        raise HTTPError(409, "conflict")


def make(**cors) -> Client:
    router = Router(cors=cors)
    router.add_route("/things", Things)
    router.add_route("/fail", Fail)

    @router.before_request
    def authenticate(request, response):
        if request.path == "/things" and request.header("authorization") != "Bearer t":
            raise HTTPError(401, "no token")

    return Client(router)


def preflight(c: Client, origin: str, method: str, headers: str | None = None, path: str = "/things"):
    sent = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        sent["Access-Control-Request-Headers"] = headers
    return c.options(path, headers=sent)


def cors_headers(response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name.startswith("access-control-")}


def test_preflight_allowed():
    """Fetch 3.2.2/4.8 (CORS-preflight fetch): a preflight is an OPTIONS request with `Origin` and
    `Access-Control-Request-Method`; it succeeds when the response has an ok status (200-299),
    passes the CORS check (Access-Control-Allow-Origin matches) and lists the method and the
    requested headers. It is answered before authentication: a preflight carries no credentials."""
    c = make(allow_origins=[A], allow_headers=["Authorization", "Content-Type"], max_age=600)
    r = preflight(c, A, "POST", "authorization,content-type")
    assert r.status == 204
    assert cors_headers(r) == {
        "access-control-allow-origin": A,
        "access-control-allow-methods": "POST",
        "access-control-allow-headers": "authorization, content-type",
        "access-control-max-age": "600",
    }
    assert r.headers["Vary"] == "Origin"


def test_preflight_from_a_disallowed_origin_gets_no_cors_headers():
    """Fetch 4.9 (CORS check): without an Access-Control-Allow-Origin that is `*` or equal to the
    request's origin the check fails; the router adds no CORS header for such an origin, so the
    browser refuses the request."""
    c = make(allow_origins=[A])
    r = preflight(c, B, "GET")
    assert cors_headers(r) == {}
    assert r.headers["Allow"].startswith("GET")  # the route's ordinary OPTIONS answer


def test_preflight_for_a_method_not_allowed_fails():
    """Fetch 4.8 step 7.5: the requested method must be in Access-Control-Allow-Methods (or be a
    CORS-safelisted method); an unlisted method, or one the route does not answer, gets no
    CORS headers."""
    c = make(allow_origins=[A], allow_methods=["GET", "POST"])
    assert cors_headers(preflight(c, A, "DELETE")) == {}
    c = make(allow_origins=[A], allow_methods=["*"])
    assert cors_headers(preflight(c, A, "DELETE")) == {}  # Things has no delete
    assert cors_headers(preflight(c, A, "POST"))["access-control-allow-methods"] == "POST"


def test_preflight_for_a_header_not_allowed_fails():
    """Fetch 4.8 step 7.6: every name in Access-Control-Request-Headers must be in
    Access-Control-Allow-Headers; one missing name fails the whole preflight."""
    c = make(allow_origins=[A], allow_headers=["X-Token"])
    assert cors_headers(preflight(c, A, "POST", "x-token, x-other")) == {}
    assert cors_headers(preflight(c, A, "POST", "x-token"))["access-control-allow-headers"] == "x-token"


def test_wildcard_headers_never_cover_authorization():
    """Fetch 3.2.3 (HTTP responses): `*` in Access-Control-Allow-Headers does not include
    `Authorization`, which must be listed by name."""
    c = make(allow_origins=["*"], allow_headers=["*"])
    assert cors_headers(preflight(c, A, "POST", "x-anything"))["access-control-allow-headers"] == "x-anything"
    assert cors_headers(preflight(c, A, "POST", "authorization")) == {}
    c = make(allow_origins=["*"], allow_headers=["*", "Authorization"])
    assert preflight(c, A, "POST", "authorization, x-a").status == 204


def test_preflight_without_a_route_is_not_answered():
    """A preflight for a path the router does not serve gets the 404 and no CORS headers: nothing
    there to share (Fetch 4.8: a non-ok status fails the preflight)."""
    c = make(allow_origins=[A])
    r = preflight(c, A, "GET", path="/nothing")
    assert r.status == 404 and cors_headers(r) == {}


def test_actual_response_for_an_allowed_origin():
    """Fetch 3.2.3 and 4.9: the actual response carries Access-Control-Allow-Origin for the
    request's origin, and Access-Control-Expose-Headers lists the non-safelisted response
    headers scripts may read; error responses carry them too, so scripts can read errors."""
    c = make(allow_origins=[A, B], expose_headers=["X-Total"])
    r = c.get("/things", headers={"Origin": B, "Authorization": "Bearer t"})
    assert r.status == 200
    assert cors_headers(r) == {"access-control-allow-origin": B, "access-control-expose-headers": "X-Total"}
    error = c.get("/fail", headers={"Origin": A})
    assert error.status == 409 and error.headers["access-control-allow-origin"] == A
    unauthenticated = c.get("/things", headers={"Origin": A})
    assert unauthenticated.status == 401 and unauthenticated.headers["access-control-allow-origin"] == A


def test_actual_response_for_a_disallowed_origin_has_no_cors_headers():
    """Fetch 4.9 (CORS check): no Access-Control-Allow-Origin, no sharing."""
    c = make(allow_origins=[A], expose_headers=["X-Total"], allow_credentials=True)
    r = c.get("/fail", headers={"Origin": B})
    assert r.status == 409 and cors_headers(r) == {}


def test_vary_origin_when_the_answer_depends_on_the_origin():
    """Fetch 3.2.5 (CORS protocol and HTTP caches): when Access-Control-Allow-Origin is set to the
    request's origin rather than `*`, the response must say `Vary: Origin`, on every response
    of the resource, including those to requests without Origin or from refused origins."""
    listed = make(allow_origins=[A])
    for headers in ({"Origin": A}, {"Origin": B}, {}):
        assert listed.get("/fail", headers=headers).headers.get("Vary") == "Origin", headers
    wildcard = make(allow_origins=["*"])
    r = wildcard.get("/fail", headers={"Origin": A})
    assert r.headers["Access-Control-Allow-Origin"] == "*" and "Vary" not in r.headers


def test_credentials_are_never_combined_with_a_wildcard():
    """Fetch 3.2.5 and 4.9: for a request whose credentials mode is "include", `*` in
    Access-Control-Allow-Origin fails the CORS check and Access-Control-Allow-Credentials must
    be `true`; the router sends the exact origin with credentials, and refuses the wildcard
    with credentials at configuration time (see test_settings)."""
    c = make(allow_origins=[A], allow_credentials=True, allow_headers=["Content-Type"])
    r = preflight(c, A, "POST", "content-type")
    assert cors_headers(r) == {
        "access-control-allow-origin": A,
        "access-control-allow-methods": "POST",
        "access-control-allow-headers": "content-type",
        "access-control-allow-credentials": "true",
    }
    actual = c.post("/things", json={"a": 1}, headers={"Origin": A, "Authorization": "Bearer t"})
    assert actual.status == 201
    assert actual.headers["Access-Control-Allow-Origin"] == A
    assert actual.headers["Access-Control-Allow-Credentials"] == "true"


def test_wildcard_origin_without_credentials():
    """Fetch 3.2.3: `*` in Access-Control-Allow-Origin lets any origin read a response fetched
    without credentials."""
    c = make(allow_origins=["*"])
    r = preflight(c, "http://127.0.0.1:9999", "GET")
    assert r.status == 204 and r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in r.headers


def test_plain_options_and_same_origin_requests_are_untouched():
    """Fetch 3.2.2: an OPTIONS without Access-Control-Request-Method is not a preflight, and a
    request without Origin is not a CORS request: the router answers them as without CORS."""
    c = make(allow_origins=["*"])
    r = c.options("/things", headers={"Authorization": "Bearer t"})
    assert r.status == 204 and r.headers["Allow"] and cors_headers(r) == {}
    plain = c.get("/fail")
    assert cors_headers(plain) == {}


def test_origins_compare_exactly():
    """Fetch 4.9 step 5: the CORS check compares the serialized origin byte for byte: another
    scheme, port or a suffix is another origin."""
    c = make(allow_origins=[A])
    for other in ["http://a.example", "https://a.example:8443", "https://a.example.evil.net", "null"]:
        assert cors_headers(c.get("/fail", headers={"Origin": other})) == {}, other
