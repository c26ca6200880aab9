"""Values the column's type cannot hold are refused before anything is sent, naming the column."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import kata.db

TABLE = """
CREATE TABLE sized (
    id bigserial PRIMARY KEY,
    small int2,
    normal int4,
    big int8,
    label text,
    code varchar(10),
    amount numeric,
    tags text[]
)
"""


class Sized(kata.db.Object):
    __table__ = "sized"


@pytest.fixture
def sized(db: Any) -> Any:
    db.run(TABLE)
    kata.db.forget_tables()
    return db


def refused(call: Callable[[], Any], column: str, kind: str) -> kata.db.InvalidValue:
    with pytest.raises(kata.db.InvalidValue) as info:
        call()
    error = info.value
    assert (error.table, error.column, error.http_status) == ("sized", column, 400)
    assert f"sized.{column}" in str(error) and kind in str(error)
    assert isinstance(error, ValueError) and isinstance(error, kata.db.DatabaseError)
    return error


@pytest.mark.parametrize(
    ("column", "low", "high"),
    [("small", -(2**15), 2**15 - 1), ("normal", -(2**31), 2**31 - 1), ("big", -(2**63), 2**63 - 1)],
)
def test_integers_outside_the_column_range_are_refused(
    sized: Any, column: str, low: int, high: int, run: Any
) -> None:
    created = Sized.create([{column: low}, {column: high}])  # the edges fit
    assert [getattr(row, column) for row in created] == [low, high]
    for value in (low - 1, high + 1):
        refused(lambda value=value: Sized.create([{column: value}]), column, "outside")
        refused(
            lambda value=value: Sized.create([{column: 1}, {column: None}, {column: value}]),
            column,
            "outside",
        )
        refused(
            lambda value=value: Sized.update({column: value}, where={"id": created[0].id}), column, "outside"
        )
        refused(lambda value=value: Sized.get({column: value}), column, "outside")
        refused(
            lambda value=value: Sized.update_many([{"id": created[0].id, column: value}]), column, "outside"
        )
    assert run(f"SELECT {column} FROM sized ORDER BY id") == [(low,), (high,)]  # nothing written


def test_lists_are_matched_as_bigint_so_only_values_beyond_bigint_are_refused(sized: Any) -> None:
    Sized.create([{"normal": 5}])
    assert Sized.get({"normal": [5, 2**40]})[0].normal == 5  # no int4 holds 2**40: no match, no error
    assert Sized.get_in("normal", [2**40]) == []
    refused(lambda: Sized.get_in("normal", [1, 2**63]), "normal", "outside")
    refused(lambda: Sized.get({"normal": [1, None, -(2**63) - 1]}), "normal", "outside")


def test_text_with_a_nul_is_refused_for_every_column(sized: Any, run: Any) -> None:
    Sized.create([{"label": "ok", "code": "c"}])
    for column in ("label", "code", "amount"):
        refused(lambda column=column: Sized.create([{column: "a\x00b"}]), column, "NUL")
        refused(lambda column=column: Sized.create([{column: None}, {column: "\x00"}]), column, "NUL")
        refused(lambda column=column: Sized.get({column: "\x00"}), column, "NUL")
        refused(lambda column=column: Sized.get({column: ["x", "y\x00"]}), column, "NUL")
        refused(lambda column=column: Sized.get_in(column, ["\x00"]), column, "NUL")
        refused(lambda column=column: Sized.update({column: "\x00"}, all_rows=True), column, "NUL")
    refused(lambda: Sized.create([{"tags": ["a", "b\x00"]}]), "tags", "NUL")
    assert run("SELECT label, code FROM sized") == [("ok", "c")]


def test_values_that_fit_go_through_unchanged(sized: Any) -> None:
    rows = [{"small": 1, "normal": None, "big": 2**62, "label": "é\u2028", "amount": 2**70, "tags": ["x"]}]
    created = Sized.create(rows)
    assert created[0].big == 2**62 and created[0].amount == 2**70 and created[0].label == "é\u2028"
    assert Sized.count({"big": 2**62, "label": "é\u2028"}) == 1
