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
    assert re.search(r"^5 passed", result.stdout, re.M), result.stdout
    assert "database  ok      myproject, embedded in config/dev.pgdata" in result.stdout
