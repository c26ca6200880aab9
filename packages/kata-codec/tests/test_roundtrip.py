from collections import OrderedDict
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from enum import IntEnum
from uuid import UUID

import msgpack
import pytest

from kata.codec import DecodeError, dumps, loads, register


@register
class Point:
    def __init__(self, x: int, y: datetime) -> None:
        self.x, self.y = x, y

    def to_dict(self) -> dict:
        return {"x": self.x, "y": self.y}

    @classmethod
    def from_dict(cls, data: dict) -> "Point":
        return cls(**data)

    def __eq__(self, other: object) -> bool:
        return type(other) is Point and (self.x, self.y) == (other.x, other.y)


class Color(IntEnum):
    RED = 1


VALUES = [
    None,
    True,
    0,
    -(2**63),
    2**64 - 1,
    1.5,
    "",
    "ünïcode",
    b"\x00\xff",
    [],
    {},
    (),
    (1, (2, "x")),
    [1, [2, {"a": (3,)}]],
    {1: "int key", "s": None},
    datetime(2026, 1, 2, 3, 4, 5, 6),
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5))),
    date(1999, 12, 31),
    time(23, 59, 59, 999999),
    Decimal("3.14159265358979323846"),
    Decimal("-0E-10"),
    UUID("12345678-1234-5678-1234-567812345678"),
    Point(1, datetime(2020, 5, 6)),
    {"nested": [Point(2, datetime(2021, 1, 1))]},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_values_come_back_equal_and_of_the_same_type(value):
    back = loads(dumps(value))
    assert back == value
    assert type(back) is type(value)


def test_subclasses_of_builtins_come_back_as_their_base_type():
    assert loads(dumps(OrderedDict(a=1))) == {"a": 1}
    assert loads(dumps(Color.RED)) == 1


def test_unstorable_values_raise_type_error_naming_the_type():
    class Unregistered:
        def to_dict(self) -> dict:
            return {}

    with pytest.raises(TypeError, match=r"Unregistered.*register"):
        dumps({"a": Unregistered()})
    with pytest.raises(TypeError, match="set"):
        dumps({1, 2})
    with pytest.raises(TypeError, match="int"):
        dumps(2**64)


def test_register_requires_the_protocol():
    class Half:
        def to_dict(self) -> dict:
            return {}

    with pytest.raises(TypeError, match="from_dict"):
        register(Half)


def test_loading_an_unregistered_class_name_runs_nothing():
    forged = msgpack.packb(msgpack.ExtType(7, msgpack.packb(["os.system", {"cmd": "true"}])))
    with pytest.raises(DecodeError, match=r"os\.system"):
        loads(forged)


@pytest.mark.parametrize("data", [b"", b"\xc1", b"\x92\x01", msgpack.packb(msgpack.ExtType(99, b""))])
def test_garbage_raises_decode_error(data):
    with pytest.raises(DecodeError):
        loads(data)


def test_a_failed_encoding_leaves_nothing_behind_for_the_next_call():
    with pytest.raises(TypeError):
        dumps(["partial", object()])
    assert loads(dumps(("next",))) == ("next",)


def test_threads_encode_independently():
    from concurrent.futures import ThreadPoolExecutor

    values = [(i, Point(i, datetime(2020, 1, 1 + i % 28))) for i in range(2000)]
    with ThreadPoolExecutor(8) as pool:
        back = list(pool.map(lambda v: loads(dumps(v)), values))
    assert back == values


def test_a_marker_outside_its_array_is_refused():
    with pytest.raises(DecodeError, match="marker"):
        loads(msgpack.packb(msgpack.ExtType(6, b"")))


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (dumps(["x", 1])[:-1], "incomplete input"),
        (dumps(["x", 1]) + dumps(7), "extra data"),
        (b"\xc1", "FormatError"),  # (msgpack's error has no message: its name is given)
    ],
)
def test_a_decode_error_says_what_is_wrong(data, problem):
    with pytest.raises(DecodeError, match=problem):
        loads(data)
