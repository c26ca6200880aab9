"""The README's option tables match the schemas: one table per cache type, every key, its default."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec
import pytest

import kata.cache

README = Path(__file__).resolve().parent.parent / "README.md"


def _tables() -> dict[str, dict[str, str]]:
    """``{type: {key: default cell}}`` from the README's ``### Keys of `type: X``` tables."""
    text = README.read_text()
    tables: dict[str, dict[str, str]] = {}
    for match in re.finditer(r"^### Keys of `type: (\w+)`\n\n((?:\|.*\n)+)", text, re.M):
        rows = [line.split("|")[1:-1] for line in match.group(2).splitlines()[2:]]
        tables[match.group(1)] = {cells[0].strip().strip("`"): cells[2].strip() for cells in rows}
    return tables


def _shown(default: Any) -> str:
    if default is msgspec.NODEFAULT:
        return "(required)"
    if default is None:
        return "none"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if default == "":
        return "`''`"
    if isinstance(default, float) and default.is_integer():
        return f"`{int(default)}`"
    return f"`{default}`"


@pytest.mark.parametrize("kind", sorted(kata.cache.SETTINGS))
def test_each_type_has_a_table_with_every_key_and_default(kind: str) -> None:
    table = _tables()[kind]
    info = msgspec.inspect.type_info(kata.cache.SETTINGS[kind])
    assert isinstance(info, msgspec.inspect.StructType)
    assert list(table) == [field.name for field in info.fields]
    for field in info.fields:
        assert table[field.name] == _shown(field.default), field.name


def test_the_readme_check_example_holds() -> None:
    settings = kata.cache.check(
        {"main": {"type": "redis", "host": "localhost:6379", "timeout": "0.5", "db": "2"}}
    )
    assert settings["main"].timeout == 0.5 and settings["main"].db == 2  # type: ignore[union-attr]
