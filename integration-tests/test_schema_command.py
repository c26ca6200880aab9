"""kata schema apply/status on the harness's PostgreSQL: baselines, out-of-order, notices."""

import json

import pytest

from kata import cli


@pytest.fixture
def options(database, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("database: " + json.dumps(database.section) + "\n")  # JSON is YAML
    schema = tmp_path / "schema"
    schema.mkdir()
    return ["--config", str(config), "--schema", str(schema)]


def kata(capsys, *args):
    status = cli.main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_apply_after_n_records_a_baseline_and_status_shows_it(database, options, capsys, tmp_path):
    schema = tmp_path / "schema"
    for version in (1, 2, 3):
        (schema / f"{version}-t{version}.sql").write_text(f"CREATE TABLE t{version} (id int);\n")
    database.run("CREATE TABLE t1 (id int); CREATE TABLE t2 (id int)")  # made before kata was used

    status, out, err = kata(capsys, "schema", "apply", "--after", "2", *options)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("baseline 1-t1  (recorded as already in the database; not run)")
    assert lines[1].startswith("baseline 2-t2  ")
    assert lines[2].startswith("applied  3-t3  ")
    assert database.run("SELECT version, baseline FROM kata_migrations ORDER BY 1") == [
        (1, True),
        (2, True),
        (3, False),
    ]
    status, out, _ = kata(capsys, "schema", "status", *options)
    assert status == 0
    rows = [line.split()[:3] for line in out.splitlines()[1:4]]
    assert rows == [["1", "t1", "baseline"], ["2", "t2", "baseline"], ["3", "t3", "applied"]]


def test_an_older_pending_migration_needs_out_of_order(database, options, capsys, tmp_path):
    schema = tmp_path / "schema"
    (schema / "1-a.sql").write_text("CREATE TABLE a (id int);\n")
    (schema / "3-c.sql").write_text("CREATE TABLE c (id int);\n")
    assert kata(capsys, "schema", "apply", *options)[0] == 0
    (schema / "2-b.sql").write_text("CREATE TABLE b (id int);\n")

    status, _, err = kata(capsys, "schema", "apply", *options)
    assert status == 1
    assert "2-b.sql: not applied, yet older than the newest applied migration 3-c" in err
    assert "--out-of-order" in err
    assert database.run("SELECT to_regclass('b') IS NULL") == [(True,)]

    status, out, err = kata(capsys, "schema", "apply", "--out-of-order", *options)
    assert status == 0, err
    assert out.startswith("applied  2-b  ")
    assert database.run("SELECT to_regclass('b') IS NULL") == [(False,)]


def test_apply_prints_the_notices_and_warnings_of_migrations(database, options, capsys, tmp_path):
    schema = tmp_path / "schema"
    (schema / "1-a.sql").write_text(
        "CREATE TABLE a (id int);\nCREATE TABLE IF NOT EXISTS a (id int);\n"
        "DO $$ BEGIN RAISE WARNING 'check the data'; END $$;\n"
    )
    status, out, err = kata(capsys, "schema", "apply", *options)
    assert status == 0, err
    path = schema / "1-a.sql"
    lines = out.splitlines()
    assert lines[0] == f'{path}, line 2: NOTICE: relation "a" already exists, skipping'
    assert lines[1].startswith(f"{path}, line 3: WARNING: check the data (CONTEXT: PL/pgSQL function")
    assert lines[2].startswith("applied  1-a  ")
