"""The kata namespace works the three ways people install it, each in a fresh virtual environment.

(a) all wheels in one environment, (b) one package alone, pulling none of the others' dependencies,
(c) every package installed editable from this tree.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ALL = ["kata", "kata-codec", "kata-router", "kata-cache", "kata-orm", "kata-schema", "kata-container"]
SUBPACKAGES = ["codec", "router", "resource", "cache", "db", "schema", "container"]

# Run inside the new environment, from outside the repository: what imports, and what is installed.
PROBE = """
import importlib, importlib.metadata, json, sys
result = {"imports": {}, "dists": sorted(d.metadata["Name"].lower() for d in importlib.metadata.distributions())}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
        result["imports"][name] = True
    except ImportError as exc:
        result["imports"][name] = str(exc)
import kata
result["initialize"] = callable(getattr(kata, "initialize", None))
result["path"] = list(kata.__path__)
print(json.dumps(result))
"""


def _uv(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "uv", *args], check=True, capture_output=True, text=True)


def _environment(where: Path, *install: str) -> Path:
    _uv("venv", "--quiet", "--python", sys.executable, str(where))
    python = where / "bin" / "python"
    _uv("pip", "install", "--quiet", "--python", str(python), *install)
    return python


def _probe(python: Path, cwd: Path) -> dict:
    modules = ["kata." + sub for sub in SUBPACKAGES] + ["kata.config"]
    out = subprocess.run(
        [str(python), "-c", PROBE, *modules], check=True, capture_output=True, text=True, cwd=cwd
    )
    return json.loads(out.stdout)


def test_all_wheels_in_one_environment(wheelhouse, tmp_path):
    python = _environment(tmp_path / "venv", *(str(wheelhouse[d]) for d in ALL))
    found = _probe(python, tmp_path)
    assert all(v is True for v in found["imports"].values()), found["imports"]
    assert found["initialize"]
    assert set(ALL) <= set(found["dists"])


@pytest.mark.parametrize(
    ("dist", "module", "foreign"),
    [
        ("kata-cache", "kata.cache", {"psycopg", "psycopg-binary", "psycopg-pool"}),
        ("kata-orm", "kata.db", {"redis", "pymemcache"}),
        ("kata-router", "kata.router", {"psycopg", "psycopg-binary", "psycopg-pool", "redis", "pymemcache"}),
    ],
)
def test_one_package_alone(wheelhouse, tmp_path, dist, module, foreign):
    # kata-codec is the one kata dependency these three share; it is not on PyPI yet.
    python = _environment(tmp_path / "venv", str(wheelhouse[dist]), str(wheelhouse["kata-codec"]))
    found = _probe(python, tmp_path)
    assert found["imports"][module] is True, found["imports"][module]
    others = {m for m in found["imports"] if m != module and m != "kata.codec"}
    if dist == "kata-router":
        others.discard("kata.resource")
        assert found["imports"]["kata.resource"] is True
    assert all(found["imports"][m] is not True for m in others), found["imports"]
    assert not found["initialize"], "the umbrella's kata.initialize must not exist without the umbrella"
    installed = set(found["dists"])
    assert not installed & foreign, installed & foreign
    assert not installed & (set(ALL) - {dist, "kata-codec"}), installed


def test_all_packages_editable(tmp_path):
    editable = [arg for dist in ALL for arg in ("-e", str(ROOT / "packages" / dist))]
    python = _environment(tmp_path / "venv", *editable)
    found = _probe(python, tmp_path)
    assert all(v is True for v in found["imports"].values()), found["imports"]
    assert found["initialize"]
    # Each package's src/ is its own path entry; extend_path joins them under one kata.
    assert {str(ROOT / "packages" / d / "src" / "kata") for d in ALL} <= set(found["path"])
