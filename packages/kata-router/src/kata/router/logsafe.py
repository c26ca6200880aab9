"""Client-supplied text made safe for log lines."""

from __future__ import annotations

import re
from typing import Any, Final

# Control characters (C0, DEL, C1: some of them end a line for log tools), the backslash
# that introduces our escapes, and the quote that delimits fields in the combined format.
_UNSAFE: Final = re.compile(r'[\x00-\x1f\x7f-\x9f\u2028\u2029\\"]')
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: object, limit: int = 500, *, quotes: bool = True) -> str:
    """Return *text* with control characters, ``"`` and ``\\`` written as ``\\xNN``.

    A path or header carrying CR/LF cannot then start a forged log line. Text longer than
    *limit* characters is cut and marked with ``...``. With ``quotes=False`` only control
    characters are escaped (for JSON, which escapes quotes itself).
    """
    value = text if isinstance(text, str) else str(text)
    if len(value) > limit:
        value = value[:limit] + "..."
    if value.isprintable() and (not quotes or ('"' not in value and "\\" not in value)):
        return value
    return (_UNSAFE if quotes else _CONTROL).sub(_escape_char, value)


def request_path(environ: dict[str, Any]) -> str:
    """The path and query of a WSGI request, as received (not yet escaped)."""
    path = environ.get("SCRIPT_NAME", "") + (environ.get("PATH_INFO") or "/")
    query = environ.get("QUERY_STRING")
    return f"{path}?{query}" if query else path
