"""The kata command on a new project: new, check, schema, routes, the project's own tests, serve.

Everything runs on the project's embedded PostgreSQL (config/dev.yaml: embedded: true), the
way a newcomer starts, with no database server of their own.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def project():
    # Not under pytest's tmp_path: as root, the embedded PostgreSQL runs as another user that
    # must reach its data folder, and every pytest run resets /tmp/pytest-of-root to 0700.
    home = Path(tempfile.mkdtemp(prefix="kata-new-"))
    home.chmod(0o755)
    where = home / "shop"
    result = kata("new", "shop", "--dir", str(where), cwd=home)
    assert result.returncode == 0, result.stderr
    assert "kata serve" in result.stdout
    yield where
    shutil.rmtree(home, ignore_errors=True)


def kata(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CONFIG"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        [str(BIN / "kata"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_new_lays_out_the_guides_project(project):
    expected = [
        "config/dev.yaml",
        "shop/__init__.py",
        "shop/routes.py",
        "shop/resource/foo.py",
        "shop/model/foo.py",
        "shop/container/foo.py",
        "schema/1-foo.sql",
        "bin/reset",
        "static/hello.txt",
        "tests/test_foo.py",
        "pytest.ini",
        ".gitignore",
        "requirements.txt",
        "requirements-dev.txt",
        "templates/hello.html",
        "shop/resource/hello.py",
    ]
    assert all((project / path).is_file() for path in expected), [
        p for p in expected if not (project / p).is_file()
    ]
    assert os.access(project / "bin" / "reset", os.X_OK)
    assert (
        "kata.initialize(config)\napp = kata.config.app()\n\nimport shop.routes"
        in (project / "shop/__init__.py").read_text()
    )
    assert "embedded: true" in (project / "config/dev.yaml").read_text()
    assert "pytest" in (project / "requirements-dev.txt").read_text()
    assert "gunicorn" in (project / "requirements.txt").read_text()


def test_new_refuses_bad_names_and_existing_folders(project):
    assert "not a Python package name" in kata("new", "my-shop", cwd=project.parent).stderr
    assert "would hide" in kata("new", "json", cwd=project.parent).stderr
    result = kata("new", "shop", "--dir", str(project), cwd=project.parent)
    assert result.returncode == 1
    assert "already exists" in result.stderr


def test_check_schema_routes_and_the_projects_tests(project):
    check = kata("check", cwd=project)
    assert check.returncode == 0, check.stdout + check.stderr
    assert re.search(
        r"^database  ok      shop, embedded in config/dev.pgdata: PostgreSQL \d+", check.stdout, re.M
    )
    assert re.search(r"^cache     ok      memory \(memory\), [\d.]+ ms$", check.stdout, re.M)
    assert (project / "config" / "dev.pgdata" / "PG_VERSION").is_file()

    status = kata("schema", "status", cwd=project)
    assert status.returncode == 0, status.stderr
    assert re.search(r"^1 +foo +pending$", status.stdout, re.M), status.stdout

    applied = kata("schema", "apply", cwd=project)
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.startswith("applied  1-foo  ")
    assert "1 migration applied in" in applied.stdout
    assert "nothing to apply" in kata("schema", "apply", cwd=project).stdout
    assert "1 applied, 0 pending" in kata("schema", "status", cwd=project).stdout

    routes = kata("routes", cwd=project)
    assert routes.returncode == 0, routes.stderr
    assert re.search(
        r"^/foo/bar/\{baz\} +shop\.resource\.foo\.Bar +GET, HEAD, POST, OPTIONS +json$", routes.stdout, re.M
    ), routes.stdout

    # The project's tests use the kata pytest plugin: a fresh database, memory caches.
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=180,
        env={k: v for k, v in os.environ.items() if k != "CONFIG"},
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "4 passed" in tests.stdout

    created = kata("schema", "new", "add bar index", cwd=project)
    assert created.returncode == 0, created.stderr
    assert (project / "schema" / "2-add-bar-index.sql").is_file()
    assert re.search(r"^2 +add-bar-index +pending$", kata("schema", "status", cwd=project).stdout, re.M)
    (project / "schema" / "2-add-bar-index.sql").unlink()


def test_help_is_plain_text():
    result = kata("--help", cwd=Path.cwd())
    assert result.returncode == 0
    assert "kata new NAME" in result.stdout
    assert "``" not in result.stdout


def test_outside_a_project_each_command_says_where_to_run_it(project):
    elsewhere = project.parent
    for command in (["check"], ["schema", "apply"], ["schema", "status"]):
        result = kata(*command, cwd=elsewhere)
        assert result.returncode == 1
        assert (
            "config/dev.yaml: no such configuration file (run kata from the project folder" in result.stderr
        ), result.stderr
    for command in (["serve"], ["routes"]):
        result = kata(*command, cwd=elsewhere)
        assert result.returncode == 1
        assert "run this from the project folder, or pass --app" in result.stderr

    result = kata("schema", "new", "first", cwd=elsewhere)
    assert result.returncode == 1
    assert "no folder schema/ here: run kata from the project folder" in result.stderr
    assert not (elsewhere / "schema").exists(), "nothing is created in the wrong place"

    missing = kata("check", "--config", "nowhere.yaml", cwd=project)
    assert "nowhere.yaml: no such configuration file (named by --config)" in missing.stderr


def test_apply_accepts_changed_files_when_asked(project, tmp_path):
    # A database of its own in the project's embedded server, and a migration folder of its own.
    config = project / "config" / "accept.yaml"
    config.write_text("database:\n  embedded: dev.pgdata\n  name: accept\n")
    schema = tmp_path / "schema"
    schema.mkdir()
    (schema / "1-t.sql").write_text("CREATE TABLE t (id int);\n")
    options = ["--config", str(config), "--schema", str(schema)]
    try:
        assert kata("schema", "apply", *options, cwd=project).returncode == 0
        (schema / "1-t.sql").write_text("CREATE TABLE t (id int);  -- reformatted\n")
        (schema / "2-u.sql").write_text("CREATE TABLE u (id int);\n")

        refused = kata("schema", "apply", *options, cwd=project)
        assert refused.returncode == 1
        assert "1-t.sql: changed since applied" in refused.stderr
        assert "kata schema apply --accept-changed" in refused.stderr

        accepted = kata("schema", "apply", "--accept-changed", *options, cwd=project)
        assert accepted.returncode == 0, accepted.stderr
        assert accepted.stdout.startswith(
            "accepted 1-t  (changed since applied; not run again)\napplied  2-u  "
        )
        status = kata("schema", "status", *options, cwd=project)
        assert status.returncode == 0, status.stdout
        assert "2 applied, 0 pending" in status.stdout
    finally:
        config.unlink()


def test_the_projects_tests_report_a_broken_config_in_one_line(project, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("cache:\n  main:\n    type: disk\n")
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "CONFIG": str(broken)},
    )
    assert tests.returncode == 1
    assert (
        f"kata_app: importing shop: {broken}: cache.main.type: expected one of memcached, memory, redis"
        in tests.stdout
    ), tests.stdout
    assert "Traceback" not in tests.stdout and "def kata_app" not in tests.stdout


def test_check_reports_a_broken_config(project, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("cache:\n  main:\n    type: disk\n")
    result = kata("check", "--config", str(broken), cwd=project)
    assert result.returncode == 1
    assert (
        f"config    FAILED  {broken}: cache.main.type: expected one of memcached, memory, redis"
        in result.stdout
    )


def test_serve_reloads_on_change_and_stops_on_ctrl_c(project, fetch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert kata("schema", "apply", cwd=project).returncode == 0
    env = {k: v for k, v in os.environ.items() if k != "CONFIG"}
    log = project.parent / "serve.log"
    server = subprocess.Popen(
        [str(BIN / "kata"), "serve", "--port", str(port)],
        cwd=project,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches the whole group, as in a terminal
    )
    try:
        reply = wait_for(lambda: fetch(port, "GET", "/foo/bar/1"), lambda r: r.status == 200)
        assert reply.body.startswith(b'{"baz":"1"')

        resource = project / "shop" / "resource" / "foo.py"
        source = resource.read_text()
        resource.write_text(
            source.replace("'baz': baz,\n            'foos'", "'baz': baz + '!',\n            'foos'")
        )
        try:
            reply = wait_for(
                lambda: fetch(port, "GET", "/foo/bar/1"), lambda r: r.body.startswith(b'{"baz":"1!"')
            )
        finally:
            resource.write_text(source)

        # A mistake in the config: one line, the server waits, and comes back once it is fixed.
        config = project / "config" / "dev.yaml"
        settings = config.read_text()
        config.write_text(settings.replace("type: memory", "type: memroy"))
        try:
            wait_for(lambda: log.read_text(), lambda text: "the app stopped (exit status 1)" in text)
        finally:
            config.write_text(settings)
        wait_for(lambda: fetch(port, "GET", "/foo/bar/1"), lambda r: r.status == 200)
        output = log.read_text()
        assert (
            f"kata serve: {config}: cache.memory.type: expected one of memcached, memory, redis, "
            "got 'memroy'; did you mean 'memory'?\n" in output
        ), output
        assert "Traceback" not in output

        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=30)
    except BaseException:
        print(log.read_text())
        raise
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    output = log.read_text()
    assert server.returncode == 0, output
    assert "gunicorn --bind 127.0.0.1:" in output, "it says how to run in production"
    assert "changed, restarting" in output
    pid_file = project / "config" / "dev.pgdata" / "postmaster.pid"
    wait_for(lambda: pid_file.exists(), lambda exists: not exists)


def wait_for(attempt, done, seconds: float = 30):
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            last = attempt()
            if done(last):
                return last
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting; last: {last!r}")


def test_version_names_every_distribution():
    result = kata("--version", cwd=Path.cwd())
    assert result.returncode == 0, result.stderr
    from importlib import metadata

    assert result.stdout.startswith(f"kata {metadata.version('kata')} (kata-router "), result.stdout
    assert "not installed" not in result.stdout


def test_routes_and_check_find_a_project_in_a_folder_named_otherwise(project, tmp_path):
    # The guide's layout, checked out under another name: checkout/ holding shop/, config/.
    checkout = project.parent / "checkout-2"
    shutil.copytree(project, checkout, ignore=shutil.ignore_patterns("*.pgdata", "__pycache__"))
    try:
        for found_by in ("pytest.ini", "kata.config.app()"):
            if found_by == "kata.config.app()":
                (checkout / "pytest.ini").unlink()
            routes = kata("routes", cwd=checkout)
            assert routes.returncode == 0, (found_by, routes.stderr)
            assert re.search(r"^/foo/bar/\{baz\} +shop\.resource\.foo\.Bar ", routes.stdout, re.M), (
                routes.stdout
            )
            check = kata("check", cwd=checkout)
            assert check.returncode == 0, check.stdout + check.stderr
            assert "database  ok      shop, embedded in config/dev.pgdata" in check.stdout
    finally:
        shutil.rmtree(checkout, ignore_errors=True)


def test_gunicorn_reports_a_yaml_mistake_in_one_line(project, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("database:\n  embedded: true\n   name: shop\n")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = subprocess.run(
        # One worker: when two fail to boot at once, gunicorn's master prints a traceback of its
        # own while halting (it meets the second failure while stopping).
        [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "shop:app"],
        cwd=project,
        env={**os.environ, "CONFIG": str(broken)},
        capture_output=True,
        text=True,
        timeout=60,  # gunicorn stops by itself: the workers report failing to boot
    )
    assert result.returncode != 0
    line = f"kata: {broken}: is not valid YAML: line 3, column 8: mapping values are not allowed here"
    assert line in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.count(line) == 1, "one line, no restarts"


def test_the_projects_tests_copy_one_migrated_database(project):
    # Each test gets its own database, copied from one that the migrations ran in once.
    probe = project / "tests" / "test_probe_template.py"
    record = project.parent / "probe.txt"
    probe.write_text(
        "import kata.db\n\n"
        "def record(kata_database):\n"
        "    with kata.db.connection() as conn:\n"
        "        (applied,) = conn.execute('SELECT applied_at FROM kata_migrations').fetchone()\n"
        f"    with open({str(record)!r}, 'a') as out:\n"
        "        out.write(f'{kata_database.name} {applied.isoformat()}\\n')\n\n"
        "def test_one(kata_database):\n    record(kata_database)\n\n"
        "def test_two(kata_database):\n    record(kata_database)\n"
    )
    try:
        tests = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(probe)],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=180,
            env={k: v for k, v in os.environ.items() if k != "CONFIG"},
        )
        assert tests.returncode == 0, tests.stdout + tests.stderr
        rows = [line.split() for line in record.read_text().splitlines()]
    finally:
        probe.unlink()
        record.unlink(missing_ok=True)
    assert len(rows) == 2
    (first, applied_first), (second, applied_second) = rows
    assert first != second, "a database per test"
    assert applied_first == applied_second, "the migration ran once; both databases are copies"


def test_serve_stops_the_app_and_the_database_on_sigterm(project, fetch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert kata("schema", "apply", cwd=project).returncode == 0
    env = {k: v for k, v in os.environ.items() if k != "CONFIG"}
    log = project.parent / "serve-term.log"
    server = subprocess.Popen(
        [str(BIN / "kata"), "serve", "--port", str(port)],
        cwd=project,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    pid_file = project / "config" / "dev.pgdata" / "postmaster.pid"
    try:
        wait_for(lambda: fetch(port, "GET", "/foo/bar/1"), lambda r: r.status == 200)
        assert pid_file.exists()
        # kata new's config: the dev server answers only its own host names.
        assert fetch(port, "GET", "/foo/bar/1", headers={"Host": "evil.example"}).status == 400
        # static/ as nginx serves it in production, and the example template.
        hello = fetch(port, "GET", "/static/hello.txt")
        assert hello.status == 200 and hello.headers["content-type"] == "text/plain"
        assert hello.body == (project / "static" / "hello.txt").read_bytes()
        assert fetch(port, "GET", "/static/%2e%2e/config/dev.yaml").status == 404
        page = fetch(port, "GET", "/hello/%3Cyou%3E")
        assert page.headers["content-type"].startswith("text/html")
        assert b"<h1>Hello, &lt;you&gt;!</h1>" in page.body
        server.send_signal(signal.SIGTERM)  # to the command only, as a process manager does
        # The promise is 2 s on an idle machine; this bound only tells a hung command (one
        # that waits for the app or the database forever) from one that stops, under load too.
        server.wait(timeout=15)
    except BaseException:
        print(log.read_text())
        raise
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    assert server.returncode == 0, log.read_text()
    with pytest.raises(OSError):
        fetch(port, "GET", "/foo/bar/1")  # the app's process is gone too
    assert not pid_file.exists(), "the embedded PostgreSQL was stopped"
