"""Splitting SQL text into the statements PostgreSQL is sent one at a time, as psql splits it.

The splitter follows the rules of psql's lexer, so a file is cut into exactly the statements
``psql -f`` would send:

- a ``;`` ends a statement only outside ``--`` and (nested) ``/* */`` comments, ``'strings'``
  (``''`` inside; with ``standard_conforming_strings = off`` a backslash escapes too),
  ``E'escape strings'``, ``"quoted identifiers"`` and dollar-quoted bodies (``$$ … $$``,
  ``$fn$ … $fn$``), at parenthesis depth 0 (so a rule's parenthesised action list is one
  statement), and outside a ``BEGIN … END`` block;
- ``BEGIN`` opens such a block only in a statement that starts with ``CREATE [OR REPLACE]
  FUNCTION`` or ``PROCEDURE`` and only outside parentheses (a parameter named ``begin`` opens
  nothing); inside a block ``CASE`` also counts, as it too ends with ``END``;
- ``SET standard_conforming_strings`` (or ``SELECT set_config('standard_conforming_strings',
  …)``) in the file changes how later strings are read, as the server's report of the new
  value changes it for psql;
- ``COPY … FROM stdin`` takes the lines after it, up to a line ``\\.``, as its data (as in
  pg_dump's output); pg_dump's ``\\restrict`` and ``\\unrestrict`` lines are skipped, and
  any other psql backslash command is an error, since only SQL reaches the server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The next thing the splitter must look at; anything between two matches is whitespace,
# punctuation or operators, which never end a statement. Identifiers are matched whole
# because PostgreSQL allows "$" inside them (a$b$ is one identifier, not a dollar quote)
# and because a prefix before a quote (E'', U&'', B'', X'') only counts at a token's start.
_TOKEN = re.compile(
    r"""
      (?P<line_comment>--[^\n]*)
    | (?P<block_comment>/\*)
    | (?P<escape_string>[Ee]')
    | (?P<plain_string>(?:[Uu]&|[BbXx])')
    | (?P<string>')
    | (?P<quoted_ident>")
    | (?P<dollar>\$(?:[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_\x80-\U0010ffff]*)?\$)
    | (?P<word>[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_$\x80-\U0010ffff]*)
    | (?P<number>[0-9][0-9A-Za-z_]*)
    | (?P<open>\()
    | (?P<close>\))
    | (?P<semicolon>;)
    | (?P<backslash>\\)
    """,
    re.VERBOSE,
)
_NON_SPACE = re.compile(r"\S")
_QUOTE_OR_BACKSLASH = re.compile(r"['\\]")
_META_COMMAND = re.compile(r"\\([A-Za-z!?]*)")
_COPY_END = re.compile(r"^\\\.\r?$", re.MULTILINE)
_SET_STRINGS = re.compile(
    r"(?:SET\s+(?:SESSION\s+|LOCAL\s+)?standard_conforming_strings\s*(?:=|TO)\s*'?(\w+)'?"
    r"|RESET\s+(standard_conforming_strings|ALL))\s*;?\s*",
    re.IGNORECASE,
)
_SET_CONFIG_STRINGS = re.compile(
    r"SELECT\s+(?:pg_catalog\.)?set_config\s*\(\s*'standard_conforming_strings'\s*,\s*'(\w+)'\s*,\s*\w+\s*\)",
    re.IGNORECASE,
)
_ON = frozenset({"on", "true", "yes", "1"})
_OFF = frozenset({"off", "false", "no", "0"})
# pg_dump (15.14 and later) wraps its output in these; psql uses them to refuse other
# backslash commands in between, which a migration never runs anyway.
_SKIPPED_COMMANDS = frozenset({"restrict", "unrestrict"})
# psql remembers the first letter of these words when they are among a statement's first
# four, to recognise CREATE [OR REPLACE] FUNCTION|PROCEDURE.
_ROUTINE_WORDS = frozenset({"create", "or", "replace", "function", "procedure"})


@dataclass(frozen=True)
class Statement:
    """One statement of a file: its text without the closing semicolon, and where it starts.

    *line* is the 1-based line of the statement's first character (leading comments and
    blank lines are not part of the statement). *keywords* holds its first words in lower
    case (at most four), enough to tell what kind of statement it is. *copy_data* is the
    data that follows a ``COPY … FROM stdin`` statement (None for every other statement).
    """

    text: str
    line: int
    keywords: tuple[str, ...]
    copy_data: str | None = None


class SplitError(ValueError):
    """Text the splitter cannot turn into statements; *line* is where the problem starts."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


class UnterminatedError(SplitError):
    """A comment, string, quoted identifier or dollar-quoted body that never ends."""

    def __init__(self, what: str, line: int) -> None:
        super().__init__(f"{what} starting on line {line} is never closed", line)


def split(sql: str, *, standard_strings: bool = True) -> list[Statement]:
    """Split *sql* into statements as psql does; empty statements are dropped.

    *standard_strings* is the session's ``standard_conforming_strings`` when the text
    starts (off: a backslash escapes a quote in an ordinary string). Raises
    :class:`UnterminatedError` naming the line where an unclosed comment, string, quoted
    identifier or dollar quote begins, and :class:`SplitError` for a psql backslash
    command other than ``\\restrict``/``\\unrestrict``.
    """
    return _Splitter(sql, standard_strings).run()


class _Splitter:
    def __init__(self, sql: str, standard_strings: bool) -> None:
        self.sql = sql
        self.initial_standard_strings = standard_strings
        self.standard_strings = standard_strings
        self.statements: list[Statement] = []
        self.counted_to = 0  # line_of() counts newlines incrementally: offsets only grow
        self.counted_lines = 1
        self.reset_statement()

    def reset_statement(self) -> None:
        self.start: int | None = None  # offset of the current statement's first character
        self.words: list[str] = []
        self.word_count = 0
        self.routine_letters = ["", "", "", ""]
        self.paren_depth = 0
        self.begin_depth = 0
        self.reads_stdin = False

    def line_of(self, offset: int) -> int:
        if offset < self.counted_to:
            return self.sql.count("\n", 0, offset) + 1
        self.counted_lines += self.sql.count("\n", self.counted_to, offset)
        self.counted_to = offset
        return self.counted_lines

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
                pos = match.end()
                if self.paren_depth == 0 and self.begin_depth == 0:
                    pos = self.finish(begin, pos)
                continue
            if kind == "backslash":
                pos = self.meta_command(begin)
                continue
            if self.start is None:
                self.start = begin
            pos = match.end()
            if kind == "word":
                self.see_word(match.group().lower())
            elif kind == "open":
                self.paren_depth += 1
            elif kind == "close":
                if self.paren_depth > 0:
                    self.paren_depth -= 1
            elif kind == "string":
                if self.standard_strings:
                    pos = self.skip_quoted(pos, "'", "string", begin)
                else:
                    pos = self.skip_escape_string(pos, "string", begin)
            elif kind == "plain_string":
                pos = self.skip_quoted(pos, "'", "string", begin)
            elif kind == "escape_string":
                pos = self.skip_escape_string(pos, "escape string", begin)
            elif kind == "quoted_ident":
                pos = self.skip_quoted(pos, '"', "quoted identifier", begin)
            elif kind == "dollar":
                tag = match.group()
                close = sql.find(tag, pos)
                if close < 0:
                    raise UnterminatedError(f"dollar-quoted text {tag}", self.line_of(begin))
                pos = close + len(tag)
            # a number needs nothing more
        self.finish(len(sql), len(sql))
        return self.statements

    def mark_start_in(self, begin: int, end: int) -> None:
        """Start the statement at the first non-space character in sql[begin:end], if any."""
        if self.start is None:
            found = _NON_SPACE.search(self.sql, begin, end)
            if found is not None:
                self.start = found.start()

    def see_word(self, word: str) -> None:
        """Count BEGIN/CASE/END blocks the way psql does (see the module docstring)."""
        if len(self.words) < 4:
            self.words.append(word)
        if word == "stdin" and self.words[0] == "copy" and self.paren_depth == 0:
            self.reads_stdin = True
        letters = self.routine_letters
        if self.word_count < 4 and word in _ROUTINE_WORDS:
            letters[self.word_count] = word[0]
        self.word_count += 1
        if self.paren_depth or letters[0] != "c":
            return
        if not (letters[1] in ("f", "p") or (letters[1:3] == ["o", "r"] and letters[3] in ("f", "p"))):
            return
        if word == "begin":
            self.begin_depth += 1
        elif word == "case":
            if self.begin_depth:
                self.begin_depth += 1
        elif word == "end" and self.begin_depth:
            self.begin_depth -= 1

    def finish(self, end: int, after: int) -> int:
        """End the statement at *end*; returns where splitting goes on (after COPY data)."""
        if self.start is None:
            self.reset_statement()
            return after
        text = self.sql[self.start : end].rstrip()
        line = self.line_of(self.start)
        copy_data = None
        if self.reads_stdin:
            copy_data, after = self.copy_data(after)
        self.statements.append(Statement(text, line, tuple(self.words), copy_data))
        self.follow_settings(text)
        self.reset_statement()
        return after

    def copy_data(self, after: int) -> tuple[str, int]:
        """The data lines following a COPY … FROM stdin, up to and with a line ``\\.`` (the
        server's end-of-data marker, which psql sends too), or to the end of the text."""
        sql = self.sql
        newline = sql.find("\n", after)
        if newline < 0:
            return "", len(sql)
        data_start = newline + 1
        end = _COPY_END.search(sql, data_start)
        if end is None:
            return sql[data_start:], len(sql)
        after_end = min(end.end() + 1, len(sql))  # the marker line's newline belongs to it
        return sql[data_start:after_end], after_end

    def follow_settings(self, text: str) -> None:
        """Track standard_conforming_strings as psql does when the server reports it."""
        start = text[:3].lower()
        if start == "sel":
            match = _SET_CONFIG_STRINGS.fullmatch(text)
        elif start in ("set", "res"):
            match = _SET_STRINGS.fullmatch(text)
        else:
            return
        if match is None:
            return
        value = (match[1] or "default").lower()
        if value in _ON:
            self.standard_strings = True
        elif value in _OFF:
            self.standard_strings = False
        elif value == "default":  # also RESET
            self.standard_strings = self.initial_standard_strings

    def meta_command(self, begin: int) -> int:
        """Skip pg_dump's \\restrict lines; any other backslash command is an error."""
        sql = self.sql
        name = _META_COMMAND.match(sql, begin)
        command = name[1] if name else ""
        if command in _SKIPPED_COMMANDS and self.start is None:
            newline = sql.find("\n", begin)
            return len(sql) if newline < 0 else newline + 1
        shown = "\\" + command
        raise SplitError(
            f"psql meta-command {shown} is not SQL: migrations are sent to the server as SQL "
            f"statements, so psql's backslash commands (\\set, \\connect, \\i, …) cannot be used",
            self.line_of(begin),
        )

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

    def skip_escape_string(self, pos: int, what: str, begin: int) -> int:
        """Skip a string where a backslash escapes the character after it (E'…')."""
        sql = self.sql
        while True:
            match = _QUOTE_OR_BACKSLASH.search(sql, pos)
            if match is None:
                raise UnterminatedError(what, self.line_of(begin))
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
