"""Error handlers chosen by the exception's class hierarchy, duck-typed 4xx errors, observers."""

from __future__ import annotations

import logging

import pytest

import kata.router
from kata.resource import Resource
from kata.router import HTTPError, Result, Router
from kata.router.testing import Client


class NotFoundError(LookupError):
    pass


class BadValue(ValueError):
    """Like kata.db's bad-value error: carries the status a client mistake deserves."""

    http_status = 400


class Gone(Exception):
    http_status = 410


class Thrower(Resource):
    def get(self, request, response, kind):
        errors: dict[str, Exception] = {
            "lookup": LookupError("lookup"),
            "key": KeyError("key"),
            "notfound": NotFoundError("item 7 does not exist"),
            "bad": BadValue("column 'name': text with a NUL byte"),
            "gone": Gone("moved away"),
            "crash": RuntimeError("secret detail"),
            "http": HTTPError(418, "teapot"),
        }
        raise errors[kind]


def make(format: str = "json") -> Router:
    router = Router()
    router.add_route("/t/{kind}", Thrower, format=format)
    return router


def test_the_handler_of_the_nearest_class_in_the_mro_answers():
    router = make()
    router.add_error_handler(LookupError, lambda req, resp, exc: Result(404, b"lookup", "text/plain"))
    router.add_error_handler(
        NotFoundError, lambda req, resp, exc: Result(404, str(exc).encode(), "text/plain")
    )
    c = Client(router)
    # KeyError has no handler of its own: LookupError's, the next class in its MRO, answers.
    assert c.get("/t/key").text == "lookup"
    assert c.get("/t/lookup").text == "lookup"
    # NotFoundError's own handler is more specific than LookupError's.
    notfound = c.get("/t/notfound")
    assert (notfound.status, notfound.text, notfound.content_type) == (
        404,
        "item 7 does not exist",
        "text/plain",
    )
    # Unrelated errors keep their usual answers.
    assert c.get("/t/crash").status == 500
    assert c.get("/t/http").status == 418


def test_a_handler_may_set_the_response_raise_http_error_or_handle_http_error():
    router = make()

    def via_response(request, response, exc):
        response.status = 409
        response.body = b"conflict"
        response.content_type = "text/plain"
        response.set_header("X-Handled", type(exc).__name__)

    def via_raise(request, response, exc):
        raise HTTPError(503, "try later", {"Retry-After": "3"})

    def page(request, response, exc):
        return Result(exc.status, f"<h1>{exc.status}</h1>".encode(), "text/html; charset=utf-8")

    router.add_error_handler(KeyError, via_response)
    router.add_error_handler(Gone, via_raise)
    router.add_error_handler(HTTPError, page)
    c = Client(router)
    r = c.get("/t/key")
    assert (r.status, r.body, r.headers["X-Handled"]) == (409, b"conflict", "KeyError")
    r = c.get("/t/gone")
    assert (r.status, r.headers["Retry-After"], r.json()["message"]) == (503, "3", "try later")
    assert c.get("/t/http").text == "<h1>418</h1>"
    # A 404 of the router itself is an HTTPError as well.
    assert c.get("/nothing/here").text == "<h1>404</h1>"


def test_a_failing_handler_is_a_500_with_one_traceback(caplog):
    router = make()

    def broken(request, response, exc):
        raise RuntimeError("handler bug")

    router.add_error_handler(LookupError, broken)
    with caplog.at_level(logging.ERROR, "kata.router"):
        r = Client(router).get("/t/lookup")
    assert r.status == 500 and b"handler bug" not in r.body
    assert len([rec for rec in caplog.records if rec.exc_info]) == 1
    assert "the error handler for LookupError failed" in caplog.text
    # The original exception is in the same record, as the handler's context.
    assert "LookupError: lookup" in caplog.text and "RuntimeError: handler bug" in caplog.text


def test_handlers_are_checked_at_registration():
    router = make()
    with pytest.raises(TypeError, match="Exception subclass"):
        router.add_error_handler("KeyError", lambda *a: None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callable"):
        router.add_error_handler(KeyError, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("format", ["json", "msgpack", "html"])
def test_an_exception_with_a_4xx_http_status_is_answered_in_the_route_format(format):
    c = Client(make(format))
    r = c.get("/t/bad")
    assert r.status == 400
    message = "column 'name': text with a NUL byte"
    if format == "json":
        assert r.json() == {"status": 400, "error": "Bad Request", "message": message}
    elif format == "msgpack":
        assert r.msgpack()["message"] == message
    else:
        assert "column &#x27;name&#x27;: text with a NUL byte" in r.text
    assert c.get("/t/gone").status == 410


def test_an_http_status_outside_4xx_is_not_trusted(caplog):
    class Weird(Exception):
        http_status = 302

    class NotInt(Exception):
        http_status = "400"

    class Raiser(Resource):
        def get(self, request, response, kind):
            raise Weird("w") if kind == "weird" else NotInt("n")

    router = Router()
    router.add_route("/r/{kind}", Raiser)
    c = Client(router)
    with caplog.at_level(logging.ERROR, "kata.router"):
        assert c.get("/r/weird").status == 500
        assert c.get("/r/notint").status == 500
    assert caplog.text.count("Traceback") == 2


def test_a_500_logs_one_escaped_traceback_once(caplog):
    c = Client(make())
    with caplog.at_level(logging.DEBUG):
        r = c.get("/t/crash%0d%0aINFO forged%22line?x=%0a")
    # The path is not a route (the CR/LF makes it a str field value that exists): crash it.
    assert r.status == 500 and b"secret" not in r.body
    assert caplog.text.count("Traceback") == 1
    errors = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert len(errors) == 1
    line = errors[0].getMessage()
    assert "\n" not in line and "\r" not in line
    assert line == "GET /t/crash\\x0d\\x0aINFO forged\\x22line?x=%0a failed"


def test_observers_see_every_completed_request_with_the_final_status(caplog):
    router = make()
    router.add_route("/ok", Ok)
    seen: list[tuple[str, str | None, int, bool]] = []

    def observe(request, response, seconds):
        route = request.route.template if request.route else None
        seen.append((request.method, route, response.status, seconds >= 0))

    def failing(request, response, seconds):
        raise RuntimeError("observer bug")

    router.add_observer(observe)
    router.add_observer(failing)
    c = Client(router)
    with caplog.at_level(logging.ERROR, "kata.router"):
        assert c.get("/ok").status == 200
        assert c.get("/missing").status == 404
        assert c.delete("/ok").status == 405
        assert c.get("/t/crash").status == 500
        assert c.head("/ok").status == 200
    assert seen == [
        ("GET", "/ok", 200, True),
        ("GET", None, 404, True),
        ("DELETE", "/ok", 405, True),
        ("GET", "/t/{kind}", 500, True),
        ("HEAD", "/ok", 200, True),
    ]
    # The failing observer is logged each time and never changes the answer.
    assert caplog.text.count("request observer") == 5


def test_without_observers_nothing_is_called():
    router = make()
    assert router._instrument is None
    router.add_observer(lambda *a: None)
    assert router._instrument is not None
    with pytest.raises(TypeError):
        router.add_observer(42)  # type: ignore[arg-type]


class Ok(Resource):
    def get(self, request, response):
        return self.success({"ok": True})


def test_module_level_functions_use_the_default_router():
    default = kata.router.default_router()
    seen = []
    before = (default._error_handlers.find(ZeroDivisionError), default._observers)
    try:
        kata.router.add_error_handler(
            ZeroDivisionError, lambda req, resp, exc: Result(422, b"zero", "text/plain")
        )
        kata.router.add_observer(lambda req, resp, s: seen.append(resp.status))

        class Divide(Resource):
            def get(self, request, response):
                return self.success(1 / 0)

        kata.router.add_route("/__test_divide", Divide)
        r = Client(kata.router.app()).get("/__test_divide")
        assert (r.status, r.body) == (422, b"zero")
        assert seen == [422]
    finally:
        assert before[0] is None
        default._error_handlers = type(default._error_handlers)()
        default._observers = before[1]
        default._instrument = default._make_instrument()
