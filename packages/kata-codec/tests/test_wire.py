import json
from datetime import date, datetime, time, timezone
from decimal import Decimal
from uuid import UUID

import msgpack
import pytest

from kata.codec import DecodeError, Record, from_json, from_msgpack, to_json, to_msgpack


class Model:
    def __init__(self, id: int, when: datetime) -> None:
        self.id, self.when = id, when

    def to_dict(self) -> dict:
        return {"id": self.id, "when": self.when}


WHEN = datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=timezone.utc)
U = UUID("12345678-1234-5678-1234-567812345678")


def test_json_is_compact_utf8_and_follows_the_value_rules():
    body = to_json({"baz": "ü", "n": [1, 2.5, None, True], "t": (1, 2)})
    assert body == '{"baz":"ü","n":[1,2.5,null,true],"t":[1,2]}'.encode()
    special = {"dt": WHEN, "d": date(2026, 1, 2), "tm": time(3, 4), "dec": Decimal("1.10"), "u": U}
    assert json.loads(to_json(special)) == {
        "dt": "2026-01-02T03:04:05.000600+00:00",
        "d": "2026-01-02",
        "tm": "03:04:00",
        "dec": "1.10",
        "u": "12345678-1234-5678-1234-567812345678",
    }


def test_objects_with_to_dict_are_encoded_as_their_mapping_in_both_formats():
    value = [Model(1, WHEN)]
    expected = [{"id": 1, "when": "2026-01-02T03:04:05.000600+00:00"}]
    assert json.loads(to_json(value)) == expected
    assert msgpack.unpackb(to_msgpack(value)) == expected


class Row(Record):
    pass


class Private(Record):
    def to_dict(self) -> dict:
        return {key: value for key, value in self.__dict__.items() if key != "secret"}


def _made(cls: type, **values: object) -> object:
    made = cls()
    made.__dict__.update(values)
    return made


@pytest.mark.parametrize("when", [None, WHEN], ids=["plain values", "a datetime among them"])
def test_records_are_encoded_as_their_attributes_and_a_to_dict_of_their_own_wins(when):
    # With a datetime the first attempt fails over to the encoder that follows every rule:
    # both paths must give the same answer.
    values = [_made(Row, id=1, when=when), {"nested": _made(Private, id=2, secret="s", when=when)}]
    iso = None if when is None else when.isoformat()
    expected = [{"id": 1, "when": iso}, {"nested": {"id": 2, "when": iso}}]
    assert json.loads(to_json(values)) == expected
    assert msgpack.unpackb(to_msgpack(values)) == expected


def test_a_record_hands_out_a_copy_of_its_attributes():
    row = _made(Row, id=1)
    copied = row.to_dict()
    copied["id"] = 2
    assert row.to_dict() == {"id": 1} and to_json(row) == b'{"id":1}'


@pytest.mark.parametrize("encode", [to_json, to_msgpack])
def test_an_object_with_attributes_but_no_to_dict_is_not_written_as_a_record(encode):
    class Plain:
        def __init__(self) -> None:
            self.id = 1

    with pytest.raises(TypeError, match="Plain"):
        encode([_made(Row, id=1), Plain()])


def test_bytes_are_msgpack_only():
    assert msgpack.unpackb(to_msgpack({"b": b"\x00\xff"})) == {"b": b"\x00\xff"}
    with pytest.raises(TypeError, match="msgpack"):
        to_json({"b": b"\x00"})


@pytest.mark.parametrize("encode", [to_json, to_msgpack])
def test_unknown_types_raise_type_error_naming_the_type(encode):
    class Opaque:
        pass

    with pytest.raises(TypeError, match="Opaque"):
        encode({"x": Opaque()})


def test_nan_is_refused_in_json():
    with pytest.raises(ValueError):
        to_json(float("nan"))


@pytest.mark.parametrize("data", [b"", b"{", b'{"a": }', b"\xff\xfe", b"[1,]"])
def test_malformed_json_raises_decode_error_with_the_decoders_message(data):
    with pytest.raises(DecodeError, match="invalid JSON"):
        from_json(data)


@pytest.mark.parametrize("data", [b"", b"\xc1", b"\x92\x01", b"\xa3ab", b"\xa2\xff\xfe", b"\x81\x01\x02"])
def test_malformed_msgpack_raises_decode_error(data):
    with pytest.raises(DecodeError, match="invalid msgpack") as caught:
        from_msgpack(data)
    assert str(caught.value).split(": ", 1)[1]  # says what is wrong, if only the error's name


def test_decoders_round_trip_plain_values():
    value = {"a": [1, "x", None, {"b": 2.5}]}
    assert from_json(to_json(value)) == value
    assert from_msgpack(to_msgpack(value)) == value


@pytest.mark.parametrize(
    "data", [b"NaN", b"[1, Infinity]", b'{"a": -Infinity}', b"[" * 100000 + b"]" * 100000]
)
def test_json_that_to_json_could_not_write_back_is_refused(data):
    with pytest.raises(DecodeError, match="invalid JSON"):
        from_json(data)


def test_a_failed_msgpack_encoding_leaves_nothing_behind_for_the_next_call():
    with pytest.raises(TypeError):
        to_msgpack(["partial", object()])
    assert msgpack.unpackb(to_msgpack("next")) == "next"


@pytest.mark.parametrize("value", ["top-level str", 5, None, [], {"é": ["ü", 1.5, False]}])
def test_json_output_matches_the_standard_library(value):
    assert to_json(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
