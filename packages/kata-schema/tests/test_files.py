import hashlib
import re
from datetime import datetime, timezone

import pytest

import kata.schema
from kata.schema import MigrationError, discover


def test_migrations_are_ordered_by_their_number_as_a_number(write):
    schema = write(
        {"10-c.sql": "SELECT 10;", "2-b.sql": "SELECT 2;", "1-a.sql": "SELECT 1;", "20260102030405-d.sql": ""}
    )
    found = discover(schema)
    assert [(m.version, m.name) for m in found] == [(1, "a"), (2, "b"), (10, "c"), (20260102030405, "d")]
    assert [m.path for m in found] == [
        schema / "1-a.sql",
        schema / "2-b.sql",
        schema / "10-c.sql",
        schema / "20260102030405-d.sql",
    ]


def test_a_folder_path_may_be_a_string_with_dot_dot(write, tmp_path):
    write({"1-a.sql": "SELECT 1;"})
    (tmp_path / "bin").mkdir()
    assert [m.version for m in discover(f"{tmp_path}/bin/../schema")] == [1]


def test_hidden_files_and_subfolders_are_ignored(write, schema):
    write({"1-a.sql": "SELECT 1;", ".1-a.sql.swp": "junk", ".gitkeep": ""})
    (schema / "seeds").mkdir()
    assert [m.path.name for m in discover(schema)] == ["1-a.sql"]


@pytest.mark.parametrize(
    "bad",
    [
        "a-1.sql",
        "1_create.sql",
        "1-create.SQL",
        "1-.sql",
        "1.sql",
        "1-create.sql~",
        "README.md",
        "0-zero.sql",
    ],
)
def test_a_file_that_does_not_fit_the_pattern_is_an_error_naming_it(write, schema, bad):
    write({"1-a.sql": "SELECT 1;", bad: "SELECT 2;"})
    with pytest.raises(MigrationError) as caught:
        discover(schema)
    assert caught.value.path == schema / bad
    assert str(caught.value).startswith(f"{schema / bad}: ")


def test_a_version_beyond_bigint_is_an_error(write, schema):
    write({"99999999999999999999-huge.sql": "SELECT 1;"})
    with pytest.raises(MigrationError, match="the version must be from 1 to 9223372036854775807"):
        discover(schema)


def test_a_duplicate_number_is_an_error_naming_both_files(write, schema):
    write({"1-a.sql": "SELECT 1;", "2-b.sql": "SELECT 2;", "02-c.sql": "SELECT 3;"})
    with pytest.raises(MigrationError) as caught:
        discover(schema)
    # Sorted by name, 02-c.sql is seen first; 2-b.sql is the duplicate.
    assert caught.value.path == schema / "2-b.sql"
    assert "version 2 is also used by 02-c.sql" in str(caught.value)


def test_a_missing_folder_or_a_file_instead_of_a_folder_is_an_error(tmp_path):
    with pytest.raises(MigrationError, match="does not exist") as caught:
        discover(tmp_path / "nowhere")
    assert caught.value.path == tmp_path / "nowhere"
    (tmp_path / "file").write_text("")
    with pytest.raises(MigrationError, match="is not a folder"):
        discover(tmp_path / "file")


def test_the_checksum_is_sha256_of_the_contents_with_crlf_read_as_lf(schema):
    (schema / "1-a.sql").write_bytes(b"SELECT 1;\nSELECT 2;\n")
    (schema / "2-b.sql").write_bytes(b"SELECT 1;\r\nSELECT 2;\r\n")
    (schema / "3-c.sql").write_bytes(b"SELECT 1;\nSELECT 3;\n")
    first, second, third = discover(schema)
    assert first.checksum == hashlib.sha256(b"SELECT 1;\nSELECT 2;\n").hexdigest()
    assert second.checksum == first.checksum
    assert third.checksum != first.checksum


def test_a_byte_order_mark_is_not_part_of_the_sql(schema):
    (schema / "1-a.sql").write_bytes("\ufeff-- kata:no-transaction\nSELECT 1;".encode())
    [migration] = discover(schema)
    assert migration.sql == "-- kata:no-transaction\nSELECT 1;"
    assert not migration.transactional


def test_a_file_that_is_not_utf8_is_an_error_naming_it(schema):
    (schema / "1-a.sql").write_bytes(b"SELECT '\xff';")
    with pytest.raises(MigrationError, match=re.escape(f"{schema / '1-a.sql'}: not UTF-8 text")):
        discover(schema)


@pytest.mark.parametrize(
    "first_line", ["-- kata:no-transaction", "--kata: no-transaction  ", "  -- kata:no-transaction"]
)
def test_the_no_transaction_marker_on_the_first_line_opts_out(write, schema, first_line):
    write(
        {
            "1-a.sql": f"{first_line}\nCREATE INDEX CONCURRENTLY i ON t (x);\n",
            "2-b.sql": "-- just a comment\nSELECT 1;",
        }
    )
    first, second = discover(schema)
    assert first.transactional is False
    assert second.transactional is True


def test_the_marker_anywhere_but_the_first_line_is_an_error_naming_its_line(write, schema):
    write({"1-a.sql": "-- builds the index\n-- kata:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);\n"})
    with pytest.raises(MigrationError, match="only counts on the first line") as caught:
        discover(schema)
    assert (caught.value.path, caught.value.line) == (schema / "1-a.sql", 2)


def test_an_unknown_marker_is_an_error(write, schema):
    write({"1-a.sql": "-- kata:notransaction\nSELECT 1;"})
    with pytest.raises(MigrationError, match="unknown marker '-- kata:notransaction'") as caught:
        discover(schema)
    assert caught.value.line == 1


def test_statements_of_a_file_and_errors_naming_the_file_and_line(write, schema):
    write(
        {
            "1-a.sql": "CREATE TABLE t (x int);\n\nINSERT INTO t VALUES (1);\n",
            "2-b.sql": "SELECT 1;\nSELECT 'open\n",
        }
    )
    first, second = discover(schema)
    assert [(s.line, s.text) for s in first.statements()] == [
        (1, "CREATE TABLE t (x int)"),
        (3, "INSERT INTO t VALUES (1)"),
    ]
    with pytest.raises(MigrationError) as caught:
        second.statements()
    assert str(caught.value) == f"{schema / '2-b.sql'}, line 2: string starting on line 2 is never closed"
    assert (caught.value.path, caught.value.line) == (schema / "2-b.sql", 2)


@pytest.mark.parametrize(
    "statement",
    [
        "BEGIN",
        "begin transaction",
        "COMMIT",
        "END",
        "ROLLBACK",
        "START TRANSACTION",
        "PREPARE TRANSACTION 'x'",
        "abort",
    ],
)
def test_transaction_control_in_a_transactional_file_is_an_error(write, schema, statement):
    write({"1-a.sql": f"CREATE TABLE t (x int);\n{statement};\nSELECT 1;"})
    [migration] = discover(schema)
    with pytest.raises(MigrationError, match="would end the transaction this migration runs in") as caught:
        migration.statements()
    assert caught.value.line == 2


def test_savepoints_prepared_statements_and_non_transactional_files_may_use_transaction_words(write, schema):
    write(
        {
            "1-a.sql": "SAVEPOINT s;\nROLLBACK TO SAVEPOINT s;\nRELEASE s;\nPREPARE q AS SELECT 1;\nDO $$ BEGIN END $$;",
            "2-b.sql": "-- kata:no-transaction\nBEGIN;\nSELECT 1;\nCOMMIT;",
        }
    )
    first, second = discover(schema)
    assert len(first.statements()) == 5
    assert len(second.statements()) == 3


def test_new_creates_the_first_migration_and_the_folder(tmp_path):
    path = kata.schema.new(tmp_path / "schema", "create users")
    assert path == tmp_path / "schema" / "1-create-users.sql"
    assert path.read_text() == ""


def test_new_numbers_after_the_newest_and_keeps_zero_padding(write, schema):
    write({"1-a.sql": "SELECT 1;", "9-b.sql": "SELECT 1;"})
    assert kata.schema.new(schema, "add_index.sql").name == "10-add_index.sql"
    padded = schema.parent / "padded"
    padded.mkdir()
    (padded / "009-a.sql").write_text("SELECT 1;")
    assert kata.schema.new(padded, "b").name == "010-b.sql"
    assert [m.version for m in discover(padded)] == [9, 10]


def test_new_uses_the_current_time_after_timestamp_versions(write, schema):
    write({"20200102030405-a.sql": "SELECT 1;"})
    before = int(datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S"))
    path = kata.schema.new(schema, "b")
    after = int(datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S"))
    version = int(path.name.partition("-")[0])
    assert before <= version <= after


def test_new_after_a_timestamp_from_the_future_still_counts_up(write, schema):
    write({"29991231235959-a.sql": "SELECT 1;"})
    assert kata.schema.new(schema, "b").name == "29991231235960-b.sql"


def test_new_after_a_long_counter_that_is_not_a_date_counts_up(write, schema):
    write({"12345678-a.sql": "SELECT 1;"})
    assert kata.schema.new(schema, "b").name == "12345679-b.sql"


@pytest.mark.parametrize("name", ["", "   ", ".sql", "a/b", "..\\x", ".hidden"])
def test_new_refuses_names_that_make_no_file_name(schema, name):
    with pytest.raises(MigrationError, match="cannot be used in a file name"):
        kata.schema.new(schema, name)
    assert list(schema.iterdir()) == []


def test_new_refuses_a_folder_with_bad_files(write, schema):
    write({"1-a.sql": "SELECT 1;", "1-b.sql": "SELECT 1;"})
    with pytest.raises(MigrationError, match="version 1 is also used"):
        kata.schema.new(schema, "c")
