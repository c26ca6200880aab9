"""The packaging check (tools/check_packages.py) passes on this tree and catches each broken rule."""

import shutil
import zipfile
from pathlib import Path

import check_packages
import pytest

ROOT = Path(check_packages.__file__).resolve().parent.parent


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the packages' sources to break."""
    for dist in check_packages.distributions():
        src = ROOT / "packages" / dist
        shutil.copytree(
            src / "src", tmp_path / "packages" / dist / "src", ignore=shutil.ignore_patterns("__pycache__")
        )
        shutil.copy(src / "pyproject.toml", tmp_path / "packages" / dist / "pyproject.toml")
    return tmp_path


def test_every_distribution_is_found():
    assert set(check_packages.distributions()) == {
        "kata",
        "kata-codec",
        "kata-router",
        "kata-cache",
        "kata-orm",
        "kata-schema",
        "kata-container",
    }
    assert check_packages.distributions()["kata-router"] == {"router", "resource"}


def test_the_source_tree_follows_the_rules(tree: Path):
    assert check_packages.check_sources(ROOT) == []
    assert check_packages.check_sources(tree) == []


def test_a_stray_init_in_a_sub_package_is_caught(tree: Path):
    (tree / "packages/kata-cache/src/kata/__init__.py").write_text("")
    assert any("kata-cache/src/kata/__init__.py" in p for p in check_packages.check_sources(tree))


def test_a_sub_package_without_py_typed_is_caught(tree: Path):
    (tree / "packages/kata-orm/src/kata/db/py.typed").unlink()
    assert any("py.typed" in p for p in check_packages.check_sources(tree))


def test_an_undeclared_sibling_import_is_caught(tree: Path):
    pyproject = tree / "packages/kata-container/pyproject.toml"
    text = pyproject.read_text()
    assert '"kata-codec>=0.1,<1",' in text
    pyproject.write_text(text.replace('"kata-codec>=0.1,<1",', ""))
    problems = check_packages.check_sources(tree)
    assert any(
        "kata-container/src/kata/container/" in p and "imports kata.codec" in p and "kata-codec" in p
        for p in problems
    ), problems


@pytest.mark.parametrize(
    "source",
    [
        "import kata.db\n",
        "from kata.db import Object\n",
        "from kata import db\n",
        "def f():\n    import kata.db.model\n",
    ],
    ids=["import", "from-module", "from-kata", "inside-a-function"],
)
def test_every_form_of_import_is_seen(tree: Path, source: str):
    (tree / "packages/kata-cache/src/kata/cache/_extra.py").write_text(source)
    problems = check_packages.check_sources(tree)
    assert problems == [
        "packages/kata-cache/src/kata/cache/_extra.py: imports kata.db, but kata-cache does not declare "
        "kata-orm in its pyproject's dependencies"
    ]


def test_a_declared_sibling_import_passes(tree: Path):
    (tree / "packages/kata-schema/src/kata/schema/_extra.py").write_text(
        "import kata.db\nfrom kata.db import x\n"
    )
    assert check_packages.check_sources(tree) == []


def test_a_module_owned_twice_is_caught(tree: Path):
    (tree / "packages/kata-container/src/kata/cache").mkdir()
    assert any("kata.cache is in both" in p for p in check_packages.check_sources(tree))


@pytest.mark.parametrize(
    "umbrella_init",
    [
        "import kata.cache\nfrom pkgutil import extend_path\n__path__ = extend_path(__path__, __name__)\n",
        "from pkgutil import extend_path\n__path__ = extend_path(__path__, __name__)\nimport kata.cache\n",
        "def initialize(config):\n    pass\n",
    ],
    ids=["import-before-extend-path", "module-level-kata-import", "no-extend-path"],
)
def test_a_broken_umbrella_init_is_caught(tree: Path, umbrella_init: str):
    (tree / "packages/kata/src/kata/__init__.py").write_text(umbrella_init)
    assert any("packages/kata/src/kata/__init__.py" in p for p in check_packages.check_sources(tree))


def test_the_built_wheels_follow_the_rules(wheelhouse: dict[str, Path]):
    owned = check_packages.distributions()
    assert set(wheelhouse) == set(owned)
    for dist, wheel in wheelhouse.items():
        assert check_packages.check_wheel(dist, wheel, owned) == [], dist


def _with_extra_file(wheel: Path, out: Path, name: str) -> Path:
    broken = out / wheel.name
    shutil.copy(wheel, broken)
    with zipfile.ZipFile(broken, "a") as archive:
        archive.writestr(name, "")
    return broken


@pytest.mark.parametrize(
    ("dist", "extra", "complaint"),
    [
        ("kata-cache", "kata/__init__.py", "only the umbrella may"),
        ("kata-cache", "kata/db/__init__.py", "belongs to kata-orm"),
        ("kata", "kata/router/__init__.py", "belongs to kata-router"),
        ("kata-orm", "kata/stray/__init__.py", "no source folder"),
        ("kata-schema", "toplevel.py", "outside the kata namespace"),
    ],
)
def test_a_broken_wheel_is_caught(
    wheelhouse: dict[str, Path], tmp_path: Path, dist: str, extra: str, complaint: str
):
    broken = _with_extra_file(wheelhouse[dist], tmp_path, extra)
    problems = check_packages.check_wheel(dist, broken, check_packages.distributions())
    assert any(complaint in p for p in problems), problems
