"""Checking one of the umbrella's own configuration sections (``health:``, ``metrics:``)
against its msgspec schema, with errors that follow the library packages' contract."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

Schema = TypeVar("Schema", bound=msgspec.Struct)

# msgspec ends a validation message with " - at `$.key`" (or `$[0]` for a list item).
_AT = re.compile(r"^(.*) - at `\$(.*)`$", re.S)


class ConfigurationError(ValueError):
    """A setting of *section* is wrong: ``.key`` names it inside the section, ``.problem`` says why."""

    def __init__(self, section: str, key: str, problem: str) -> None:
        self.section = section
        self.key = key
        self.problem = problem
        super().__init__(f"{section}.{key}: {problem}" if key else f"{section}: {problem}")


def convert(section: str, values: Mapping[str, Any] | None, schema: type[Schema]) -> Schema:
    """*values* (None: the defaults) as an instance of *schema*; strings are converted by each
    key's type. Raises ConfigurationError naming the first unknown or wrong key."""
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise ConfigurationError(section, "", f"expected a mapping of settings, got {type(values).__name__}")
    known = schema.__struct_fields__
    for key in values:
        if key not in known:
            raise ConfigurationError(section, str(key), f"unknown key (known keys: {', '.join(known)})")
    try:
        return msgspec.convert(dict(values), schema, strict=False)
    except msgspec.ValidationError as exc:
        match = _AT.match(str(exc))
        if match is None:
            raise ConfigurationError(section, "", str(exc)) from None
        raise ConfigurationError(section, match[2].lstrip("."), match[1]) from None
