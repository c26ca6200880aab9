"""``kata new``: lay out a project the way the guide builds one.

The files come from ``kata/project_template/``: each ``*.tmpl`` file is written without that
suffix, with ``{{project}}`` replaced by the project's name in paths and contents
(``gitignore.tmpl`` becomes ``.gitignore``).
"""

from __future__ import annotations

import keyword
import shutil
import stat
import sys
from pathlib import Path

from kata.cli import CommandError

TEMPLATE = Path(__file__).parent / "project_template"
PLACEHOLDER = "{{project}}"
EXECUTABLE = ("bin/reset",)


def create(name: str, where: Path | None = None) -> Path:
    """Write a new project called *name* into *where* (default ``./name``); returns the folder.

    The folder must not exist yet, or be empty. Nothing is left behind if writing fails.
    """
    _check_name(name)
    target = Path(where if where is not None else name)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise CommandError(f"{target} already exists and is not an empty folder")
    existed = target.exists()
    try:
        for source in sorted(TEMPLATE.rglob("*.tmpl")):
            relative = source.relative_to(TEMPLATE).as_posix().removesuffix(".tmpl")
            relative = relative.replace(PLACEHOLDER, name)
            if relative == "gitignore":
                relative = ".gitignore"
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(source.read_text(encoding="utf-8").replace(PLACEHOLDER, name), encoding="utf-8")
            if relative in EXECUTABLE:
                path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    except BaseException:
        if existed:
            for child in target.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        else:
            shutil.rmtree(target, ignore_errors=True)
        raise
    return target


def _check_name(name: str) -> None:
    if not name.isidentifier() or keyword.iskeyword(name):
        raise CommandError(
            f"{name!r} is not a Python package name: use letters, digits and _ (e.g. myproject)"
        )
    if name == "kata" or name in sys.stdlib_module_names or name in ("test", "tests"):
        raise CommandError(f"{name!r} would hide the module of the same name: pick another project name")
