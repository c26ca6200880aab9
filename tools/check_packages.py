#!/usr/bin/env python3
"""Check the namespace rules on the source tree and on freshly built wheels.

* Only the umbrella (packages/kata) has src/kata/__init__.py, and its first statement
  extends ``__path__`` with ``pkgutil.extend_path``; no kata.* import stands at module level.
* Every other distribution ships only its own ``kata/<sub>/`` folders, each with py.typed.
* No wheel holds another distribution's modules, and no sub-package wheel holds
  ``kata/__init__.py``.
* Every sibling kata package that a distribution's source imports is declared in its
  pyproject's ``dependencies``.

Run it from anywhere: ``python tools/check_packages.py [--dist DIR]``. Exit status 1 lists
every broken rule.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # hatchling, which builds the wheels, brings tomli on Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

ROOT = Path(__file__).resolve().parent.parent
UMBRELLA = "kata"


def distributions(root: Path = ROOT) -> dict[str, set[str]]:
    """Each distribution (the folder name under packages/) and the kata sub-packages it owns."""
    found: dict[str, set[str]] = {}
    for folder in sorted((root / "packages").iterdir()):
        src = folder / "src" / "kata"
        if not (folder / "pyproject.toml").is_file() or not src.is_dir():
            continue
        found[folder.name] = {p.name for p in src.iterdir() if p.is_dir() and p.name != "__pycache__"}
    return found


def _extends_path_first(tree: ast.Module) -> bool:
    body = [s for s in tree.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if len(body) < 2:
        return False
    first, second = body[0], body[1]
    imports_it = (
        isinstance(first, ast.ImportFrom)
        and first.module == "pkgutil"
        and [a.name for a in first.names] == ["extend_path"]
    )
    assigns_it = (
        isinstance(second, ast.Assign)
        and [ast.unparse(t) for t in second.targets] == ["__path__"]
        and ast.unparse(second.value) == "extend_path(__path__, __name__)"
    )
    return imports_it and assigns_it


def _module_level_kata_imports(tree: ast.Module) -> list[str]:
    found = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            found += [a.name for a in stmt.names if a.name.split(".")[0] == "kata"]
        elif isinstance(stmt, ast.ImportFrom) and (stmt.module or "").split(".")[0] == "kata":
            found.append(stmt.module or "")
    return found


def declared(root: Path, dist: str) -> set[str]:
    """The distributions *dist*'s pyproject lists in ``[project] dependencies``, normalised."""
    with open(root / "packages" / dist / "pyproject.toml", "rb") as f:
        requirements = tomllib.load(f).get("project", {}).get("dependencies", [])
    names = set()
    for requirement in requirements:
        found = re.match(r"[A-Za-z0-9._-]+", requirement)
        if found:
            names.add(re.sub(r"[._-]+", "-", found.group(0)).lower())
    return names


def _imported_subpackages(tree: ast.Module) -> set[str]:
    """The ``kata.<sub>`` packages a module imports, anywhere in it (functions included)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "kata" and len(parts) > 1:
                    found.add(parts[1])
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] != "kata":
                continue
            if len(parts) > 1:
                found.add(parts[1])
            else:  # from kata import cache
                found.update(alias.name for alias in node.names)
    return found


def check_imports(root: Path = ROOT) -> list[str]:
    """Every sibling a distribution's source imports must be among its declared dependencies."""
    owned = distributions(root)
    owner = {sub: dist for dist, subs in owned.items() for sub in subs}
    problems = []
    for dist, subs in owned.items():
        needs = declared(root, dist)
        for sub in sorted(subs):
            for path in sorted((root / "packages" / dist / "src" / "kata" / sub).rglob("*.py")):
                for imported in sorted(_imported_subpackages(ast.parse(path.read_text(), str(path)))):
                    sibling = owner.get(imported)
                    if sibling is not None and sibling != dist and sibling not in needs:
                        problems.append(
                            f"{path.relative_to(root)}: imports kata.{imported}, but {dist} does not "
                            f"declare {sibling} in its pyproject's dependencies"
                        )
    return problems


def check_sources(root: Path = ROOT) -> list[str]:
    """The namespace rules on the source tree; returns one message per broken rule."""
    problems = []
    owners: dict[str, str] = {}
    for dist, subs in distributions(root).items():
        src = root / "packages" / dist / "src" / "kata"
        init = src / "__init__.py"
        if dist != UMBRELLA and init.exists():
            problems.append(f"{init.relative_to(root)}: only the umbrella may have kata/__init__.py")
        for sub in subs:
            if sub in owners:
                problems.append(f"kata.{sub} is in both {owners[sub]} and {dist}")
            owners[sub] = dist
            if dist != UMBRELLA and not (src / sub / "py.typed").is_file():
                problems.append(f"packages/{dist}/src/kata/{sub}: missing py.typed")
    umbrella_init = root / "packages" / UMBRELLA / "src" / "kata" / "__init__.py"
    if not umbrella_init.is_file():
        problems.append(f"{umbrella_init.relative_to(root)} is missing")
    else:
        tree = ast.parse(umbrella_init.read_text(), str(umbrella_init))
        if not _extends_path_first(tree):
            problems.append(
                f"{umbrella_init.relative_to(root)}: the first statements must be "
                "'from pkgutil import extend_path' and '__path__ = extend_path(__path__, __name__)'"
            )
        imports = _module_level_kata_imports(tree)
        if imports:
            problems.append(
                f"{umbrella_init.relative_to(root)}: module-level kata imports {imports}: import lazily"
            )
    if not (root / "packages" / UMBRELLA / "src" / "kata" / "py.typed").is_file():
        problems.append(f"packages/{UMBRELLA}/src/kata: missing py.typed")
    return problems + check_imports(root)


def build_wheels(out: Path, root: Path = ROOT) -> dict[str, Path]:
    """Build every distribution's wheel into *out*; returns the wheel of each."""
    wheels = {}
    for dist in distributions(root):
        before = set(out.glob("*.whl"))
        subprocess.run(
            [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(out)],
            cwd=root / "packages" / dist,
            check=True,
            capture_output=True,
        )
        (wheel,) = set(out.glob("*.whl")) - before
        wheels[dist] = wheel
    return wheels


def check_wheel(dist: str, wheel: Path, owned: dict[str, set[str]]) -> list[str]:
    """The namespace rules on one built wheel of *dist*."""
    problems = []
    mine = owned[dist]
    others = {sub: d for d, subs in owned.items() if d != dist for sub in subs}
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if not n.split("/")[0].endswith((".dist-info", ".data"))]
    for name in names:
        parts = name.split("/")
        if parts[0] != "kata":
            problems.append(f"{wheel.name}: {name} is outside the kata namespace")
        elif len(parts) == 2:
            if dist != UMBRELLA:
                problems.append(f"{wheel.name}: ships {name}; only the umbrella may")
        elif parts[1] in others:
            problems.append(f"{wheel.name}: ships {name}, which belongs to {others[parts[1]]}")
        elif parts[1] not in mine:
            problems.append(f"{wheel.name}: ships {name}, which no source folder of {dist} accounts for")
    for sub in mine:
        if dist != UMBRELLA and f"kata/{sub}/py.typed" not in names:
            problems.append(f"{wheel.name}: kata/{sub}/py.typed is missing")
    if dist == UMBRELLA and "kata/__init__.py" not in names:
        problems.append(f"{wheel.name}: kata/__init__.py is missing")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dist", type=Path, help="build the wheels here (default: a temporary folder)")
    args = parser.parse_args(argv)
    problems = check_sources()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.dist or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        owned = distributions()
        for dist, wheel in build_wheels(out).items():
            problems += check_wheel(dist, wheel, owned)
    for problem in problems:
        print(f"check_packages: {problem}", file=sys.stderr)
    print(f"check_packages: {len(owned)} distributions, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
