"""The documentation's commands run as written: the tutorial's blocks and the README's tour.

A shell block runs as it is; a file block (python, sql) is written to the path its first line
names (``# myproject/routes.py``, ``-- schema/2-add-books.sql``). The blocks of a page run in
order in one shell, in a fresh folder, with this environment's kata, pytest and pip first on
PATH, so a block that fails fails the test.
"""

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)


def blocks(page: Path) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(page.read_text())]


def script(found: list[tuple[str, str]]) -> str:
    """The page's blocks as one bash script."""
    lines = []
    for language, body in found:
        if language == "sh":
            lines.append(body)
            continue
        first, _, rest = body.partition("\n")
        path = re.fullmatch(r"(?:#|--) (\S+)", first.strip())
        assert path, f"a {language} block must start with the file it is: {first!r}"
        lines.append(f"mkdir -p {shlex.quote(str(Path(path.group(1)).parent))}")
        lines.append(f"cat > {shlex.quote(path.group(1))} <<'KATA_DOCS_EOF'\n{rest}KATA_DOCS_EOF")
    return "\n".join(lines)


@pytest.fixture
def workdir():
    # Not under pytest's tmp_path: as root, the embedded PostgreSQL runs as another user that
    # must reach its data folder (see test_kata_command.py).
    home = Path(tempfile.mkdtemp(prefix="kata-docs-"))
    home.chmod(0o755)
    yield home
    # The project's embedded database stops with the last process using it; give it a moment.
    for pid_file in home.glob("*/config/*.pgdata/postmaster.pid"):
        deadline = time.monotonic() + 10
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    shutil.rmtree(home, ignore_errors=True)


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CONFIG", "PYTHONPATH")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def run(text: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", text],
        cwd=cwd,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_tutorial_runs_as_written(workdir):
    found = blocks(ROOT / "docs" / "tutorial.md")
    assert [language for language, _ in found].count("sh") >= 5
    result = run(script(found), workdir)
    assert result.returncode == 0, result.stdout + result.stderr
    # What the tutorial says happens: its route listed, its tests passed.
    assert re.search(r"^/books +myproject\.resource\.book\.Books +GET, HEAD, POST", result.stdout, re.M)
    assert re.search(r"^6 passed", result.stdout, re.M), result.stdout
    assert "database  ok      myproject, embedded in config/dev.pgdata" in result.stdout


def readme_blocks() -> dict[str, str]:
    """The README's shell blocks by what they are: the tools, the tour, the installs."""
    found = [body for language, body in blocks(ROOT / "README.md") if language == "sh"]
    named = {}
    for body in found:
        if body.startswith("tools/demo"):
            named["tools"] = body
        elif body.startswith("kata new"):
            named["tour"] = body
        elif body.startswith("pip install"):
            named["install"] = body
        else:
            raise AssertionError(f"a README block no test runs: {body!r}")
    assert set(named) == {"tools", "tour", "install"}
    return named


def test_every_readme_block_is_run_somewhere():
    # tools/test is the command that runs this suite (and CI runs it); tools/demo's project is
    # run by test_demo.py through tools/demo_project/run.py, which is all tools/demo executes
    # once the environment exists. The other blocks run below.
    tools = readme_blocks()["tools"]
    assert [line.split()[0] for line in tools.splitlines()] == ["tools/demo", "tools/test"]
    assert "tools/demo_project/run.py" in (ROOT / "tools" / "demo").read_text()


def test_the_readme_installs_and_tour_run_as_written(workdir, fetch):
    named = readme_blocks()
    # A new virtualenv, as a newcomer has: the install block runs from the checkout.
    venv = workdir / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True, timeout=120)
    env = environment()
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    env["VIRTUAL_ENV"] = str(venv)
    # pip builds each package in a fresh environment of its own, installing hatchling nine
    # times over; with hatchling installed once and build isolation off (pip's own setting,
    # not the command) the same commands take a fifth of the time.
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "hatchling>=1.21"], check=True, timeout=300)
    env["PIP_NO_BUILD_ISOLATION"] = "0"
    install = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", named["install"]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    assert shutil.which("kata", path=env["PATH"]) == str(venv / "bin" / "kata")

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        env["PORT"] = str(sock.getsockname()[1])  # kata serve's port, as for gunicorn
    cwd = workdir
    for line in named["tour"].splitlines():
        command = line.split("#")[0].strip()
        if command.startswith("kata serve"):
            serve(command, cwd, env, fetch, line)
            continue
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", f"{command}\npwd"],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, (line, result.stdout, result.stderr)
        cwd = Path(result.stdout.splitlines()[-1])  # the tour's cd carries over
        if command == "pytest":
            assert re.search(r"\b4 passed\b", result.stdout), result.stdout


def serve(command: str, cwd: Path, env: dict[str, str], fetch, line: str) -> None:
    """Run the tour's ``kata serve`` until the URL its comment names answers, then Ctrl-C it."""
    url = re.search(r"http://127\.0\.0\.1:8000(/\S*)", line)
    assert url, line
    server = subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                reply = fetch(int(env["PORT"]), "GET", url.group(1).rstrip(","))
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "kata serve did not answer"
                time.sleep(0.2)
        assert reply.status == 200, reply
        os.killpg(server.pid, signal.SIGINT)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
