"""Splitting SQL text into the statements PostgreSQL is sent one at a time.

The splitter knows just enough of PostgreSQL's lexical rules to find the semicolons that end
statements: ``--`` and (nested) ``/* */`` comments, ``'strings'`` with ``''`` inside,
``E'escape strings'`` with backslashes, ``"quoted identifiers"``, dollar-quoted bodies
(``$$ … $$``, ``$fn$ … $fn$``) and the ``BEGIN ATOMIC … END`` bodies of SQL-standard
functions and procedures, whose inner semicolons do not end the ``CREATE`` statement (the
same rule psql follows).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The next thing the splitter must look at; anything between two matches is whitespace,
# punctuation or operators, which never end a statement. Identifiers are matched whole
# because PostgreSQL allows "$" inside them (a$b$ is one identifier, not a dollar quote)
# and because an E before a quote only starts an escape string at the start of a token.
_TOKEN = re.compile(
    r"""
      (?P<line_comment>--[^\n]*)
    | (?P<block_comment>/\*)
    | (?P<escape_string>[Ee]')
    | (?P<string>')
    | (?P<quoted_ident>")
    | (?P<dollar>\$(?:[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_\x80-\U0010ffff]*)?\$)
    | (?P<word>[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_$\x80-\U0010ffff]*)
    | (?P<number>[0-9][0-9A-Za-z_]*)
    | (?P<semicolon>;)
    """,
    re.VERBOSE,
)
_NON_SPACE = re.compile(r"\S")
_QUOTE_OR_BACKSLASH = re.compile(r"['\\]")
_ROUTINES = ("function", "procedure")


@dataclass(frozen=True)
class Statement:
    """One statement of a file: its text without the closing semicolon, and where it starts.

    *line* is the 1-based line of the statement's first character (leading comments and
    blank lines are not part of the statement). *keywords* holds its first words in lower
    case (at most four), enough to tell what kind of statement it is.
    """

    text: str
    line: int
    keywords: tuple[str, ...]


class UnterminatedError(ValueError):
    """A comment, string, quoted identifier or dollar-quoted body that never ends."""

    def __init__(self, what: str, line: int) -> None:
        super().__init__(f"{what} starting on line {line} is never closed")
        self.line = line


def split(sql: str) -> list[Statement]:
    """Split *sql* at the semicolons that end statements; empty statements are dropped.

    Raises :class:`UnterminatedError` (a ValueError) naming the line where an unclosed
    comment, string, quoted identifier or dollar quote begins.
    """
    return _Splitter(sql).run()


class _Splitter:
    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.statements: list[Statement] = []
        self.start: int | None = None  # offset of the current statement's first character
        self.words: list[str] = []
        self.begin_depth = 0  # open BEGIN/CASE blocks inside CREATE FUNCTION/PROCEDURE

    def line_of(self, offset: int) -> int:
        return self.sql.count("\n", 0, offset) + 1

    def run(self) -> list[Statement]:
        sql = self.sql
        pos = 0
        while True:
            match = _TOKEN.search(sql, pos)
            if match is None:
                self.mark_start_in(pos, len(sql))
                break
            self.mark_start_in(pos, match.start())
            kind = match.lastgroup
            begin = match.start()
            if kind == "line_comment":
                pos = match.end()
                continue
            if kind == "block_comment":
                pos = self.skip_block_comment(begin)
                continue
            if kind == "semicolon":
                if self.begin_depth == 0:
                    self.finish(begin)
                pos = match.end()
                continue
            if self.start is None:
                self.start = begin
            if kind == "word":
                self.see_word(match.group().lower())
                pos = match.end()
            elif kind == "string":
                pos = self.skip_quoted(begin + 1, "'", "string", begin)
            elif kind == "escape_string":
                pos = self.skip_escape_string(begin + 2, begin)
            elif kind == "quoted_ident":
                pos = self.skip_quoted(begin + 1, '"', "quoted identifier", begin)
            elif kind == "dollar":
                tag = match.group()
                close = sql.find(tag, match.end())
                if close < 0:
                    raise UnterminatedError(f"dollar-quoted text {tag}", self.line_of(begin))
                pos = close + len(tag)
            else:  # number
                pos = match.end()
        self.finish(len(sql))
        return self.statements

    def mark_start_in(self, begin: int, end: int) -> None:
        """Start the statement at the first non-space character in sql[begin:end], if any."""
        if self.start is None:
            found = _NON_SPACE.search(self.sql, begin, end)
            if found is not None:
                self.start = found.start()

    def see_word(self, word: str) -> None:
        if len(self.words) < 4:
            self.words.append(word)
        if word in ("begin", "case"):
            if self.in_routine_definition():
                self.begin_depth += 1
        elif word == "end" and self.begin_depth > 0:
            self.begin_depth -= 1

    def in_routine_definition(self) -> bool:
        words = self.words
        if len(words) < 2 or words[0] != "create":
            return False
        if words[1] in _ROUTINES:
            return True
        return words[1:3] == ["or", "replace"] and len(words) > 3 and words[3] in _ROUTINES

    def finish(self, end: int) -> None:
        if self.start is not None:
            text = self.sql[self.start : end].rstrip()
            self.statements.append(Statement(text, self.line_of(self.start), tuple(self.words)))
        self.start = None
        self.words = []
        self.begin_depth = 0

    def skip_quoted(self, pos: int, quote: str, what: str, begin: int) -> int:
        """Skip to after the closing *quote*; a doubled quote stands for itself."""
        sql = self.sql
        while True:
            close = sql.find(quote, pos)
            if close < 0:
                raise UnterminatedError(what, self.line_of(begin))
            if sql.startswith(quote, close + 1):
                pos = close + 2
                continue
            return close + 1

    def skip_escape_string(self, pos: int, begin: int) -> int:
        """Skip an E'…' string, where a backslash escapes the character after it."""
        sql = self.sql
        while True:
            match = _QUOTE_OR_BACKSLASH.search(sql, pos)
            if match is None:
                raise UnterminatedError("escape string", self.line_of(begin))
            at = match.start()
            if sql[at] == "\\" or sql.startswith("'", at + 1):
                pos = at + 2
            else:
                return at + 1

    def skip_block_comment(self, begin: int) -> int:
        """Skip a /* */ comment; PostgreSQL lets these nest."""
        sql = self.sql
        depth = 1
        pos = begin + 2
        while True:
            opening = sql.find("/*", pos)
            closing = sql.find("*/", pos)
            if closing < 0:
                raise UnterminatedError("comment", self.line_of(begin))
            if 0 <= opening < closing:
                depth += 1
                pos = opening + 2
            else:
                depth -= 1
                pos = closing + 2
                if depth == 0:
                    return pos
