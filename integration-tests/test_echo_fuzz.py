"""No request body a client sends can make a route that echoes it answer 500.

Arbitrary JSON and msgpack documents, hostile ones included (integers beyond 64 bits, 1e999,
lone surrogates, bytes map keys, ext and Timestamp values, bin values, deep nesting, random
bytes), are posted to an echo route of each response format. Every answer is either the echo
itself, decoded back to the same value, or a 400 naming the problem.
"""

from __future__ import annotations

import json
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kata.codec import from_json, from_msgpack
from kata.resource import Resource
from kata.router import Router
from kata.router.testing import Client


class Echo(Resource):
    def post(self, request: Any, response: Any) -> Any:
        return self.success(self.body(request))


@pytest.fixture(scope="module")
def client() -> Client:
    router = Router()
    router.add_route("/json", Echo, format="json")
    router.add_route("/msgpack", Echo, format="msgpack")
    return Client(router)


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text()
    | st.sampled_from(["\ud800", "a\udfffb", "\x00", "\u2028"])
)
_json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=16,
)


def _json_text(value: Any) -> bytes:
    # The standard library writes what a careless client would: NaN, Infinity, 1e999-sized
    # numbers, huge integers and lone surrogates as \\ud800 escapes.
    return json.dumps(value).encode()


def _nested(depth: int, opening: bytes, closing: bytes, leaf: bytes) -> bytes:
    return opening * depth + leaf + closing * depth


_json_documents = st.one_of(
    _json_values.map(_json_text),
    st.sampled_from(
        [b"1e999", b"[-1e400]", b"18446744073709551616", b'"\\ud800"', b"NaN", b"[1,]", b"\xef\xbb\xbf{}"]
    ),
    st.integers(min_value=1, max_value=1200).map(lambda depth: _nested(depth, b"[", b"]", b"")),
    st.integers(min_value=1, max_value=1200).map(lambda depth: _nested(depth, b'{"a":', b"}", b"1")),
    st.binary(max_size=64),
)

_msgpack_scalars = (
    _scalars
    | st.binary(max_size=8)
    | st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=4))
    | st.builds(msgpack.Timestamp, st.integers(0, 2**32), st.integers(0, 999_999_999))
)
_msgpack_values = st.recursive(
    _msgpack_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text() | st.binary(max_size=4) | st.integers(), inner, max_size=4)
    ),
    max_leaves=16,
)


def _packed(value: Any) -> bytes:
    try:
        return msgpack.packb(value, use_bin_type=True)
    except (OverflowError, ValueError, TypeError):  # an int beyond 64 bits, a lone surrogate
        return b"\xc1"  # never used in msgpack: a malformed document


_msgpack_documents = st.one_of(
    _msgpack_values.map(_packed),
    st.integers(min_value=1, max_value=6000).map(lambda depth: _nested(depth, b"\x91", b"", b"\xc0")),
    st.integers(min_value=1, max_value=1200).map(lambda depth: _nested(depth, b"\x81\xa1a", b"", b"\x01")),
    st.sampled_from([b"\xcb\x7f\xf0\x00\x00\x00\x00\x00\x00", b"\xca\x7f\xc0\x00\x00", b"\xa3\xed\xa0\x80"]),
    st.binary(max_size=64),
)

_READ = {"json": from_json, "msgpack": from_msgpack}


def _check(client: Client, route: str, body: bytes, content_type: str, decode: Any) -> None:
    response = client.post(f"/{route}", body=body, headers={"Content-Type": content_type})
    assert response.status in (200, 400), (response.status, body, response.body)
    answer = _READ[route](response.body)
    if response.status == 400:
        assert answer["message"], body
    else:
        assert answer == decode(body), body


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_json_documents, route=st.sampled_from(["json", "msgpack"]))
def test_json_bodies_echo_or_are_refused_with_400(client: Client, body: bytes, route: str) -> None:
    _check(client, route, body, "application/json", from_json)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_msgpack_documents, route=st.sampled_from(["json", "msgpack"]))
def test_msgpack_bodies_echo_or_are_refused_with_400(client: Client, body: bytes, route: str) -> None:
    _check(client, route, body, "application/msgpack", from_msgpack)


@pytest.mark.parametrize(
    ("route", "body", "content_type", "problem"),
    [
        ("json", b'["\\ud800"]', "application/json", "surrogate"),
        ("msgpack", b"[1e999]", "application/json", "infinity"),
        ("json", b"[18446744073709551616]", "application/json", "out of range"),
        ("json", b"[" * 1000 + b"]" * 1000, "application/json", "invalid JSON"),
        ("json", msgpack.packb({b"k": 1}), "application/msgpack", "map keys must be str"),
        ("msgpack", msgpack.packb([msgpack.Timestamp(1, 0)]), "application/msgpack", "Timestamp"),
        ("msgpack", msgpack.packb(msgpack.ExtType(3, b"")), "application/msgpack", "extension type 3"),
        ("json", msgpack.packb({"b": b"\x00"}, use_bin_type=True), "application/msgpack", "bin values"),
        ("msgpack", b"\x91" * 1000 + b"\xc0", "application/msgpack", "nest more than"),
    ],
)
def test_each_known_500_from_the_issue_is_a_400_naming_the_problem(
    client: Client, route: str, body: bytes, content_type: str, problem: str
) -> None:
    response = client.post(f"/{route}", body=body, headers={"Content-Type": content_type})
    assert response.status == 400
    assert problem in _READ[route](response.body)["message"]


def test_bin_values_echo_on_a_msgpack_route(client: Client) -> None:
    response = client.post("/msgpack", msgpack={"b": b"\x00\xff"})
    assert response.status == 200
    assert from_msgpack(response.body) == {"b": b"\x00\xff"}
