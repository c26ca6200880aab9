import pytest

from kata.schema.splitter import SplitError, Statement, UnterminatedError, split


def texts(sql: str, standard_strings: bool = True) -> list[str]:
    return [statement.text for statement in split(sql, standard_strings=standard_strings)]


def test_statements_end_at_semicolons_and_keep_their_first_line():
    sql = "CREATE TABLE a (id int);\n\n  INSERT INTO a VALUES (1);\nSELECT 1"
    assert split(sql) == [
        Statement("CREATE TABLE a (id int)", 1, ("create", "table", "a", "id")),
        Statement("INSERT INTO a VALUES (1)", 3, ("insert", "into", "a", "values")),
        Statement("SELECT 1", 4, ("select",)),
    ]


def test_empty_statements_blank_lines_and_lone_comments_are_dropped():
    assert split("") == []
    assert split(" ;;\n;  -- nothing here\n/* nor here */\n") == []
    assert texts("SELECT 1;;;SELECT 2;") == ["SELECT 1", "SELECT 2"]


def test_leading_comments_are_not_part_of_the_statement_and_do_not_move_its_line():
    sql = "-- kata:no-transaction\n/* a\n   b */\n\nCREATE INDEX CONCURRENTLY i ON t (x);\n"
    [statement] = split(sql)
    assert statement.text == "CREATE INDEX CONCURRENTLY i ON t (x)"
    assert statement.line == 5


def test_semicolons_inside_comments_do_not_split():
    sql = "SELECT 1 -- not; here\n, 2; /* nor; here */ SELECT 3"
    assert texts(sql) == ["SELECT 1 -- not; here\n, 2", "SELECT 3"]


def test_block_comments_nest():
    sql = "SELECT /* outer /* inner; */ still; comment */ 1; SELECT 2"
    assert texts(sql) == ["SELECT /* outer /* inner; */ still; comment */ 1", "SELECT 2"]


def test_semicolons_inside_strings_and_quoted_identifiers_do_not_split():
    sql = """INSERT INTO t VALUES ('a;b', 'it''s; fine');SELECT "odd;""name" FROM t;"""
    assert texts(sql) == ["INSERT INTO t VALUES ('a;b', 'it''s; fine')", 'SELECT "odd;""name" FROM t']


def test_backslashes_escape_quotes_only_in_escape_strings():
    # In a standard string a backslash is an ordinary character, so the string ends at '.
    assert texts(r"SELECT 'a\'; SELECT 2") == [r"SELECT 'a\'", "SELECT 2"]
    assert texts(r"SELECT E'a\'; still' ; SELECT 2") == [r"SELECT E'a\'; still'", "SELECT 2"]
    assert texts(r"SELECT e'a\\'; SELECT 2") == [r"SELECT e'a\\'", "SELECT 2"]
    assert texts(r"SELECT E'it''s; \n'; SELECT 2") == [r"SELECT E'it''s; \n'", "SELECT 2"]


def test_an_e_at_the_end_of_a_word_does_not_start_an_escape_string():
    assert texts(r"SELECT name'x\'; SELECT 2") == [r"SELECT name'x\'", "SELECT 2"]


def test_dollar_quoted_bodies_are_one_statement():
    sql = """
CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated := now();  -- a comment; with a semicolon
  RETURN NEW;
END;
$$;
DO $body$ BEGIN PERFORM 'x;$$'; END $body$;
SELECT 1;
"""
    statements = split(sql)
    assert [s.line for s in statements] == [2, 8, 9]
    assert statements[0].text.endswith("END;\n$$")
    assert statements[1].text == "DO $body$ BEGIN PERFORM 'x;$$'; END $body$"


def test_dollar_signs_inside_identifiers_and_parameters_are_not_quotes():
    assert texts("SELECT a$b$c FROM t; SELECT $1; SELECT 2") == [
        "SELECT a$b$c FROM t",
        "SELECT $1",
        "SELECT 2",
    ]


def test_begin_atomic_bodies_of_sql_functions_and_procedures_are_one_statement():
    sql = """CREATE OR REPLACE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql
BEGIN ATOMIC
  SELECT CASE WHEN a IS NULL THEN 0 ELSE a END + b;
END;
CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); END;
BEGIN;
SELECT 1;
END;
"""
    statements = split(sql)
    assert [s.keywords[:2] for s in statements] == [
        ("create", "or"),
        ("create", "procedure"),
        ("begin",),
        ("select",),
        ("end",),
    ]
    assert statements[0].text.endswith("END + b;\nEND")
    assert statements[1].line == 5


def test_a_last_statement_without_semicolon_and_trailing_comments():
    assert texts("SELECT 1; -- the end\n") == ["SELECT 1"]
    assert texts("SELECT 1\n-- trailing") == ["SELECT 1\n-- trailing"]


def test_a_statement_may_start_with_punctuation():
    assert split("\n(SELECT 1) UNION (SELECT 2);") == [
        Statement("(SELECT 1) UNION (SELECT 2)", 2, ("select", "union", "select"))
    ]


def test_numbers_with_letters_are_not_words():
    # "1end" must not close a BEGIN ATOMIC block.
    sql = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1end; END; SELECT 2"
    assert len(split(sql)) == 2


@pytest.mark.parametrize(
    ("sql", "what", "line"),
    [
        ("SELECT 1;\nSELECT 'abc", "string", 2),
        ("SELECT 1;\n\nSELECT E'abc\\'", "escape string", 3),
        ('SELECT "abc', "quoted identifier", 1),
        ("SELECT 1;\nDO $x$ BEGIN END $y$;", "dollar-quoted text $x$", 2),
        ("SELECT 1; /* open /* nested */", "comment", 1),
    ],
)
def test_unterminated_text_is_an_error_naming_its_first_line(sql, what, line):
    with pytest.raises(UnterminatedError) as caught:
        split(sql)
    assert caught.value.line == line
    assert str(caught.value) == f"{what} starting on line {line} is never closed"


def test_begin_inside_parentheses_opens_no_block():
    sql = (
        "CREATE FUNCTION period_len(begin date, finish date) RETURNS int\n"
        "    LANGUAGE sql AS $$ SELECT finish - begin $$;\n"
        "CREATE TABLE t (id int);\n"
        "COMMIT;\n"
    )
    assert [s.keywords[:2] for s in split(sql)] == [("create", "function"), ("create", "table"), ("commit",)]


def test_a_rules_parenthesised_action_list_is_one_statement():
    sql = "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2));\nSELECT 1;"
    assert texts(sql) == [
        "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2))",
        "SELECT 1",
    ]


def test_begin_counts_only_in_create_function_or_procedure_and_case_only_inside_begin():
    # CASE ... END outside a BEGIN block counts for nothing, in a function or not.
    assert (
        len(
            split(
                "CREATE FUNCTION f(n int) RETURNS int LANGUAGE sql RETURN CASE WHEN n > 0 THEN 1 END; SELECT 2"
            )
        )
        == 2
    )
    # A table named begin, a trigger, a view: no block.
    assert len(split("CREATE TABLE begin (id int); CREATE VIEW v AS SELECT 1 AS begin; SELECT 3")) == 3
    # Quoted words are identifiers, never keywords.
    assert len(split("CREATE FUNCTION \"begin\"() RETURNS int LANGUAGE sql AS 'SELECT 1'; SELECT 2")) == 2
    # Inside BEGIN ATOMIC a CASE has its own END.
    sql = "CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END; SELECT 3"
    assert len(split(sql)) == 2


def test_standard_conforming_strings_off_makes_backslash_escape_quotes():
    sql = "SET standard_conforming_strings = off;\nSELECT 'a\\'; b';\nSET standard_conforming_strings TO on;\nSELECT 'c\\';"
    assert texts(sql) == [
        "SET standard_conforming_strings = off",
        "SELECT 'a\\'; b'",
        "SET standard_conforming_strings TO on",
        "SELECT 'c\\'",
    ]
    # A session that starts with it off (ALTER DATABASE ... SET) reads the file that way too.
    assert texts(
        "SELECT 'a\\'; b'; RESET standard_conforming_strings; SELECT 'x\\';'", standard_strings=False
    ) == [
        "SELECT 'a\\'; b'",
        "RESET standard_conforming_strings",  # back to the session's default: off
        "SELECT 'x\\';'",
    ]


def test_copy_from_stdin_takes_the_lines_up_to_the_end_marker_as_data():
    sql = "CREATE TABLE t (a text);\nCOPY t (a) FROM stdin;\nsemi; colon\n'quote\n\\.\nSELECT 1;\n"
    statements = split(sql)
    assert [(s.text, s.line, s.copy_data) for s in statements] == [
        ("CREATE TABLE t (a text)", 1, None),
        ("COPY t (a) FROM stdin", 2, "semi; colon\n'quote\n\\.\n"),
        ("SELECT 1", 6, None),
    ]


@pytest.mark.parametrize("command", ["\\set x 1", "\\connect other", "\\i other.sql", "\\gset"])
def test_psql_meta_commands_are_errors_naming_their_line(command):
    with pytest.raises(SplitError) as caught:
        split(f"SELECT 1;\n{command}\nSELECT 2;")
    assert caught.value.line == 2
    assert str(caught.value).startswith(f"psql meta-command {command.split()[0]} is not SQL")


def test_pg_dumps_restrict_lines_are_skipped():
    assert texts("\\restrict abc123\nSELECT 1;\n\\unrestrict abc123\n") == ["SELECT 1"]
