"""Decoders accept only what both encoders can write back; the JSON encoder keeps the value rules."""

import dataclasses
import enum
import json
import math
from datetime import datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kata.codec import DecodeError, Record, from_json, from_msgpack, to_json, to_msgpack
from kata.codec.wire import MAX_DEPTH


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


class Row:
    def __init__(self, **values: object) -> None:
        self.values = values

    def to_dict(self) -> dict:
        return dict(self.values)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b'"\\ud800"', "surrogate"),
        (b'["a\\udc00b"]', "surrogate"),
        (b"1e999", "infinity"),
        (b"[-1e400]", "infinity"),
        (b"18446744073709551616", "18446744073709551616 is out of range"),
        (b'{"n": -9223372036854775809}', "-9223372036854775809 is out of range"),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), f"nest more than {MAX_DEPTH} deep"),
        (b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1), f"nest more than {MAX_DEPTH} deep"),
        (b"[" * 1000 + b"]" * 1000, "invalid JSON"),
    ],
)
def test_json_the_encoder_could_not_write_back_is_refused_naming_the_problem(data, problem):
    with pytest.raises(DecodeError, match="invalid JSON") as caught:
        from_json(data)
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("data", "value"),
    [
        (b"18446744073709551615", 2**64 - 1),
        (b"[-9223372036854775808]", [-(2**63)]),
        (b'{"id": "12345678901234567890123", "n": 1}', {"id": "12345678901234567890123", "n": 1}),
        (b"[1.8446744073709552e19, 12345678901234567890.5]", [1.8446744073709552e19, 12345678901234567890.5]),
        (b'"\\ud83d\\ude00"', "\U0001f600"),
        (b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, nested(MAX_DEPTH)),
    ],
)
def test_json_within_the_rules_decodes_exactly_and_encodes_back(data, value):
    decoded = from_json(data)
    assert decoded == value and type(decoded) is type(value)
    assert from_json(to_json(decoded)) == value
    assert msgpack.unpackb(to_msgpack(decoded), raw=False) == value


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({b"key": 1}, "map keys must be str, not bytes"),
        ({"a": {b"k": 1}}, "map keys must be str, not bytes"),
        (msgpack.ExtType(5, b"\x01"), "extension type 5"),
        ([msgpack.Timestamp(1, 0)], "Timestamp"),
        ({"x": float("nan")}, "nan is not a finite number"),
        ([1.0, float("-inf")], "-inf is not a finite number"),
        (nested(MAX_DEPTH + 1), f"nest more than {MAX_DEPTH} deep"),
    ],
)
def test_msgpack_the_encoders_could_not_write_back_is_refused_naming_the_problem(value, problem):
    with pytest.raises(DecodeError, match="invalid msgpack") as caught:
        from_msgpack(msgpack.packb(value, use_bin_type=True, strict_types=False))
    assert problem in str(caught.value)


def test_msgpack_deeper_than_the_decoders_stack_is_a_decode_error():
    with pytest.raises(DecodeError, match="invalid msgpack"):
        from_msgpack(b"\x91" * 5000 + b"\xc0")


def test_msgpack_bin_values_are_refused_only_when_the_answer_has_no_binary_type():
    data = msgpack.packb({"blob": b"\x00\xff", "n": [1, None]}, use_bin_type=True)
    assert from_msgpack(data) == {"blob": b"\x00\xff", "n": [1, None]}
    with pytest.raises(DecodeError, match="bin values are not accepted"):
        from_msgpack(data, binary=False)
    assert from_msgpack(msgpack.packb({"n": [1.5]}), binary=False) == {"n": [1.5]}


def test_msgpack_at_the_depth_limit_decodes_and_encodes_back():
    value = from_msgpack(msgpack.packb(nested(MAX_DEPTH)))
    assert value == nested(MAX_DEPTH)
    assert from_json(to_json(value)) == value


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        {"rows": [{"id": 1, "note": None}, {"id": 2, "ratio": float("inf")}]},
        [Row(id=1, note=None, score=float("-inf"))],
        (None, [None, (math.nan,)]),
    ],
)
def test_non_finite_floats_are_refused_wherever_they_are(value):
    with pytest.raises(ValueError, match="not JSON compliant"):
        to_json(value)


def test_null_and_finite_floats_next_to_each_other_encode():
    value = [Row(id=1, note=None, score=1.5), {"x": None, "y": [0.0, -2.5e-7]}]
    assert json.loads(to_json(value)) == [
        {"id": 1, "note": None, "score": 1.5},
        {"x": None, "y": [0.0, -2.5e-7]},
    ]


def test_non_str_keys_are_written_as_the_standard_library_writes_them():
    value = {1: "a", None: "b", 2.5: "c", "s": {False: [{7: None}]}}
    assert json.loads(to_json(value)) == json.loads(json.dumps(value))
    with pytest.raises(TypeError):
        to_json({(1, 2): "tuple keys have no JSON form"})


def test_datetimes_keep_their_exact_iso_form():
    lmt = timezone(timedelta(hours=-5, minutes=-30, seconds=-15))
    value = [datetime(1890, 1, 2, tzinfo=lmt), time(3, 4, tzinfo=timezone.utc), Decimal("1.10")]
    assert json.loads(to_json(value)) == ["1890-01-02T00:00:00-05:30:15", "03:04:00+00:00", "1.10"]


def test_dataclasses_follow_the_object_rule():
    @dataclasses.dataclass
    class Plain:
        a: int

    @dataclasses.dataclass
    class WithToDict:
        a: int

        def to_dict(self) -> dict:
            return {"A": self.a}

    with pytest.raises(TypeError, match="Plain"):
        to_json(Plain(1))
    assert to_json(WithToDict(1)) == b'{"A":1}'


def test_enum_members_are_their_value_in_both_formats():
    class Color(enum.Enum):
        RED = "red"
        DEEP = 7

    value = {"c": [Color.RED, Color.DEEP]}
    assert json.loads(to_json(value)) == {"c": ["red", 7]}
    assert msgpack.unpackb(to_msgpack(value)) == {"c": ["red", 7]}


def test_an_error_raised_by_to_dict_reaches_the_caller_as_itself():
    class Broken:
        def to_dict(self) -> dict:
            raise LookupError("no such column")

    with pytest.raises(LookupError, match="no such column"):
        to_json([Broken()])


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("\ud800", "surrogates"),
        (2**64, "64-bit"),
        (-(2**63) - 1, "64-bit"),
        (nested(MAX_DEPTH + 1), "Recursion"),
    ],
)
def test_values_no_decoder_yields_raise_type_error_when_encoded(value, problem):
    with pytest.raises(TypeError, match=problem):
        to_json(value)


# What any client can send: JSON text from values of every kind, including the ones the rules
# leave out (huge integers, non-finite numbers, lone surrogates, deep nesting).
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        _values.map(lambda v: json.dumps(v).encode()),
        st.integers(min_value=MAX_DEPTH - 2, max_value=MAX_DEPTH + 2).map(_deep),
        st.binary(max_size=40),
    )
)
def test_whatever_json_decodes_encodes_back_in_both_formats(data):
    try:
        value = from_json(data)
    except DecodeError:
        return
    assert from_json(to_json(value)) == value
    assert from_msgpack(to_msgpack(value)) == value


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
    max_leaves=20,
)


def _pack(value: object) -> bytes:
    try:
        return msgpack.packb(value, use_bin_type=True, datetime=False)
    except (OverflowError, ValueError, TypeError):  # an int beyond 64 bits, a surrogate
        return b"\xc1"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_msgpack_values.map(_pack), st.binary(max_size=40)), st.booleans())
def test_whatever_msgpack_decodes_encodes_back(data, binary):
    try:
        value = from_msgpack(data, binary=binary)
    except DecodeError:
        return
    assert from_msgpack(to_msgpack(value)) == value
    if not binary:
        assert from_json(to_json(value)) == value


class NoOffset(tzinfo):
    """A tzinfo that knows no offset: isoformat() writes its datetimes without one."""

    def utcoffset(self, dt):
        return None

    def dst(self, dt):
        return None


ZONES = [
    None,
    timezone.utc,
    timezone(timedelta(hours=5, minutes=30)),
    timezone(timedelta(hours=-5, minutes=-30, seconds=-15)),
    timezone(timedelta(microseconds=1)),
    ZoneInfo("UTC"),
    ZoneInfo("Europe/Amsterdam"),  # +00:19:32 until 1937
    ZoneInfo("Africa/Monrovia"),  # -00:44:30 until 1972
    ZoneInfo("America/New_York"),
    NoOffset(),
]
moments = st.builds(
    lambda naive, zone: naive.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(1800, 1, 1), max_value=datetime(2100, 1, 1)),
    st.sampled_from(ZONES),
)
cells = st.one_of(
    moments,
    st.none(),
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
    st.builds(time, st.integers(0, 23), st.integers(0, 59), tzinfo=st.sampled_from([None, timezone.utc])),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
)
rows = st.lists(st.dictionaries(st.sampled_from(["a", "b", "c"]), cells), max_size=8)


def standard(value):
    """What the value rules say a value becomes, by way of the standard library."""

    def convert(item):
        if isinstance(item, (datetime, time)):
            return item.isoformat()
        if isinstance(item, Decimal):
            return str(item)
        return item.to_dict()

    return json.loads(json.dumps(value, default=convert))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows, st.booleans())
def test_datetimes_in_any_zone_are_written_as_isoformat_writes_them(value, as_records):
    if as_records:
        value = [Row(**row) for row in value]
    assert json.loads(to_json(value)) == standard(value)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1890, 1, 2, tzinfo=ZoneInfo("Europe/Amsterdam")),
        datetime(1890, 1, 2, tzinfo=timezone(timedelta(seconds=59))),
        datetime(2026, 1, 2, tzinfo=NoOffset()),
        datetime(2026, 1, 2, tzinfo=ZoneInfo("Europe/Amsterdam")),
    ],
)
def test_a_datetime_orjson_would_cut_is_written_whole_among_many(moment):
    plain = [
        {"id": n, "at": datetime(2026, 1, 2, n % 24, tzinfo=timezone.utc), "note": None} for n in range(500)
    ]
    value = [*plain, {"id": 500, "at": moment, "note": None}, *plain]
    body = json.loads(to_json(value))
    assert body[500]["at"] == moment.isoformat()
    assert body == standard(value)


def test_a_non_finite_float_is_refused_next_to_a_datetime_written_whole():
    value = [{"at": datetime(1890, 1, 2, tzinfo=ZoneInfo("Europe/Amsterdam"))}, {"x": [None, math.inf]}]
    with pytest.raises(ValueError, match="inf"):
        to_json(value)


class Priced(Record):
    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)


class Hidden(Priced):
    def to_dict(self) -> dict:
        return {"id": self.id}


class Failing(Priced):
    def to_dict(self) -> dict:
        raise AttributeError("no such column: price")


def test_model_instances_with_decimals_are_written_whole_in_any_company():
    instances = [
        Priced(id=n, price=Decimal(f"{n}.50"), at=datetime(2026, 1, 2, tzinfo=timezone.utc)) for n in range(3)
    ]
    expected = [{"id": n, "price": f"{n}.50", "at": "2026-01-02T00:00:00+00:00"} for n in range(3)]
    assert json.loads(to_json(instances)) == expected
    mixed = [*instances, {"id": 3, "price": Decimal("3.50")}, Hidden(id=4, price=Decimal("4"))]
    assert json.loads(to_json(mixed)) == [*expected, {"id": 3, "price": "3.50"}, {"id": 4}]
    with pytest.raises(AttributeError, match="no such column: price"):
        to_json([Priced(id=1, price=Decimal("1")), Failing(id=2)])


def test_naive_datetimes_beside_one_zone_need_no_second_encoding():
    from kata.codec.wire import _exact_in_orjson

    new_york = ZoneInfo("America/New_York")
    assert _exact_in_orjson([datetime(2026, 1, 2), datetime(2026, 7, 1, tzinfo=new_york)])
    assert not _exact_in_orjson([datetime(2026, 1, 2), datetime(1850, 7, 1, tzinfo=new_york)])
