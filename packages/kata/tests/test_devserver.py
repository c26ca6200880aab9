"""What kata serve watches: the project's sources, never a virtual environment, whatever its name."""

from pathlib import Path

from kata.devserver import _Filter, watched_paths


def layout(root: Path) -> None:
    for folder, files in {
        "shop": ["__init__.py", "routes.py"],
        "shop/resource": ["foo.py"],
        "config": ["dev.yaml"],
        "config/dev.pgdata": ["postgresql.conf"],
        "schema": ["1-foo.sql"],
        "static": ["hello.txt", "app.py"],
        "env": ["pyvenv.cfg"],  # a virtualenv named neither venv nor .venv
        "env/lib/python3/site-packages/pkg": ["__init__.py"],
        "conda": [],
        "conda/conda-meta": ["history"],
        ".git": ["HEAD"],
        "shop/tools/venv-like": ["pyvenv.cfg", "x.py"],
    }.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name in files:
            (root / folder / name).write_text("")
    (root / "manage.py").write_text("")
    (root / "README.md").write_text("")


def test_virtual_environments_of_any_name_are_not_watched(tmp_path):
    layout(tmp_path)
    assert watched_paths(tmp_path) == [
        tmp_path / "config",
        tmp_path / "manage.py",
        tmp_path / "schema",
        tmp_path / "shop",
    ]


def test_only_sources_outside_skipped_folders_count_as_changes(tmp_path):
    layout(tmp_path)
    wanted = _Filter(tmp_path)
    assert wanted(None, str(tmp_path / "shop" / "resource" / "foo.py"))
    assert wanted(None, str(tmp_path / "config" / "dev.yaml"))
    assert wanted(None, str(tmp_path / "schema" / "1-foo.sql"))
    assert not wanted(None, str(tmp_path / "shop" / "resource" / "foo.txt"))
    assert not wanted(None, str(tmp_path / "shop" / "__pycache__" / "foo.py"))
    # A virtualenv inside a watched folder: its changes are ignored.
    assert not wanted(None, str(tmp_path / "shop" / "tools" / "venv-like" / "x.py"))
    assert not wanted(None, str(tmp_path / "config" / "dev.pgdata" / "x.yaml"))
