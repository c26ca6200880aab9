"""The guide's reset script (bin/reset) wipes the database and applies schema/ again."""

import psycopg


def test_reset_script_recreates_the_schema(tutorial):
    # The tutorial fixture already ran bin/reset once: the guide's foo table exists, empty.
    with psycopg.connect(tutorial.dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO foo (bar, qux) VALUES ('x', 1)")
        conn.execute("CREATE TABLE stray (v int)")

    result = tutorial.run(str(tutorial.root / "bin" / "reset"))
    assert result.returncode == 0, result.stderr

    with psycopg.connect(tutorial.dsn, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM foo").fetchone() == (0,)
        tables = {
            row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        indexes = {row[0] for row in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'foo'")}
    assert "stray" not in tables
    assert "foo_bar" in indexes, "both migrations ran"


def test_reset_script_honours_config(tutorial, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("database:\n  name: x\n  host: h\n  user: u\n  port: not-a-port\n")
    result = tutorial.run(
        str(tutorial.root / "bin" / "reset"), check=False, env_extra={"CONFIG": str(broken)}
    )
    assert result.returncode != 0
    assert f"{broken}: database.port: expected int" in result.stderr
