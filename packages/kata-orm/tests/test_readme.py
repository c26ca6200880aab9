"""The README's ``>>>`` examples raise what the README says they raise."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import kata.db

README = Path(__file__).parent.parent / "README.md"
EXAMPLE = re.compile(r"^ +>>> (?P<call>.+)\n +kata\.db\.(?P<error>\w+): (?P<message>.+)$", re.M)


class Foo(kata.db.Object):
    __table__ = "foo"


def test_the_readme_examples_raise_what_they_show(db: Any) -> None:
    examples = list(EXAMPLE.finditer(README.read_text()))
    assert len(examples) >= 6
    for example in examples:
        with pytest.raises(getattr(kata.db, example["error"])) as info:
            eval(example["call"], {"kata": kata, "Foo": Foo})
        assert str(info.value) == example["message"], example["call"]
