"""The ``kata`` command: create a project, serve it, and look after its routes, schema and servers.

See :data:`USAGE` (what ``kata --help`` prints).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kata.configfile import ConfigError

if TYPE_CHECKING:
    from kata.schema import Status


USAGE = """\
The kata command: create a project, serve it, and look after its routes, schema and servers.

    kata new NAME                 lay out a new project in ./NAME
    kata serve                    development server that reloads on change
    kata routes                   the routes the app serves
    kata schema status|apply|reset|new NAME
    kata check                    load the config, reach the database and every cache
    kata --version                the installed kata distributions and Python

Run it from the project folder (the one holding config/, schema/ and the package). The
configuration is --config, else $CONFIG, else config/dev.yaml; the app is --app, else the
project's package (named like the folder, or named in pytest.ini, or the one that calls
kata.config.app()).
"""


class CommandError(Exception):
    """A command that cannot go ahead; main() prints the message and exits with status 1."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``kata`` command with *argv* (default: ``sys.argv[1:]``); returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except (CommandError, ConfigError) as exc:
        print(f"kata {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kata", description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    new = commands.add_parser("new", help="lay out a new project")
    new.add_argument("name", help="the project's name: a Python package name, e.g. myproject")
    new.add_argument("--dir", type=Path, help="where to create it (default: ./NAME)")
    new.set_defaults(run=_new)

    serve = commands.add_parser("serve", help="run the development server, reloading on change")
    _project_options(serve, app=True)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument(
        "--port", type=int, default=_default_port(), help="default: $PORT (as gunicorn reads it), else 8000"
    )
    serve.add_argument("--no-reload", dest="reload", action="store_false", help="do not watch for changes")
    serve.set_defaults(run=_serve)

    routes = commands.add_parser("routes", help="list the routes of the app")
    _project_options(routes, app=True)
    routes.set_defaults(run=_routes)

    schema = commands.add_parser("schema", help="apply, reset or inspect the migrations in schema/")
    actions = schema.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, text in (
        ("status", "each migration, applied or pending"),
        ("apply", "apply the pending migrations"),
        ("reset", "drop everything and apply every migration"),
    ):
        sub = actions.add_parser(action, help=text)
        _project_options(sub, schema=True)
        if action == "apply":
            sub.add_argument(
                "--after",
                type=int,
                default=0,
                metavar="N",
                help="the database already has migrations up to N: record them as a baseline, apply only newer",
            )
            sub.add_argument(
                "--out-of-order",
                action="store_true",
                help="also apply pending migrations older than the newest applied one",
            )
            sub.add_argument(
                "--accept-changed",
                action="store_true",
                help="keep applied files that changed since as they are: record them, do not run them again",
            )
        sub.set_defaults(run=_schema)
    sub = actions.add_parser("new", help="create the next migration file")
    sub.add_argument("name", help="what the migration does, e.g. add-users")
    sub.add_argument(
        "--schema", type=Path, default=Path("schema"), help="the migrations folder (default: schema)"
    )
    sub.set_defaults(run=_schema_new)

    check = commands.add_parser("check", help="load the config and reach the database and every cache")
    _project_options(check)
    check.set_defaults(run=_check)
    return parser


def _default_port() -> int:
    port = os.environ.get("PORT", "")
    return int(port) if port.isdigit() else 8000


def _version() -> str:
    """``kata X.Y.Z`` and the version of each kata distribution installed beside it."""
    from importlib import metadata

    parts = []
    for name in ("kata-router", "kata-orm", "kata-schema", "kata-cache", "kata-container", "kata-codec"):
        try:
            parts.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{name} not installed")
    return f"kata {metadata.version('kata')} ({', '.join(parts)}; Python {sys.version.split()[0]})"


def _project_options(parser: argparse.ArgumentParser, app: bool = False, schema: bool = False) -> None:
    parser.add_argument(
        "--config", type=Path, help="the configuration file (default: $CONFIG or config/dev.yaml)"
    )
    if app:
        parser.add_argument(
            "--app", help="MODULE[:ATTR] of the WSGI app (default: the package named like this folder)"
        )
    if schema:
        parser.add_argument(
            "--schema", type=Path, default=Path("schema"), help="the migrations folder (default: schema)"
        )


def config_path(args: argparse.Namespace) -> Path:
    """The configuration file a command uses: --config, $CONFIG, or config/dev.yaml.

    Raises CommandError, saying where the name came from, when there is no such file.
    """
    if args.config is not None:
        path, origin = Path(args.config), "--config"
    elif os.environ.get("CONFIG"):
        path, origin = Path(os.environ["CONFIG"]), "$CONFIG"
    else:
        path, origin = Path("config/dev.yaml"), ""
    if not path.exists():
        hint = (
            f"(named by {origin})"
            if origin
            else "(run kata from the project folder, the one holding config/, or pass --config FILE)"
        )
        raise CommandError(f"{path}: no such configuration file {hint}")
    return path


def app_spec(args: argparse.Namespace) -> tuple[str, str]:
    """(module, attribute) of the app: --app, else the project's package (see :func:`find_package`)."""
    spec = args.app or find_package(Path.cwd())
    module, _, attribute = spec.partition(":")
    return module, attribute or "app"


def find_package(here: Path) -> str:
    """The package that makes the app, in the project folder *here*.

    The package named like the folder (the guide's myproject/myproject/), else the one
    pytest.ini names as ``kata_app`` (``kata new`` writes it), else the one package whose
    ``__init__.py`` calls ``kata.config.app()``: the folder's name need not match.
    """
    if (here / here.name / "__init__.py").is_file():
        return here.name
    named = _pytest_ini_app(here / "pytest.ini")
    if named:
        return named
    found = sorted(
        init.parent.name
        for init in here.glob("*/__init__.py")
        if "kata.config.app()" in init.read_text(encoding="utf-8", errors="replace")
    )
    if len(found) == 1:
        return found[0]
    if found:
        raise CommandError(
            f"several packages here make an app ({', '.join(found)}): pass --app MODULE[:ATTR]"
        )
    raise CommandError(
        f"no package here makes an app (no {here.name}/__init__.py, no package calling "
        "kata.config.app()): run this from the project folder, or pass --app MODULE[:ATTR]"
    )


def _pytest_ini_app(path: Path) -> str:
    import configparser

    parser = configparser.ConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error:
        return ""
    module = parser.get("pytest", "kata_app", fallback="").strip()
    return module if module and (path.parent / module / "__init__.py").is_file() else ""


def load_app(args: argparse.Namespace) -> Any:
    """Import the project's app module (with CONFIG set from --config) and return its WSGI app."""
    module, attribute = app_spec(args)
    if args.config is not None:
        os.environ["CONFIG"] = str(Path(args.config).resolve())
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    loaded = importlib.import_module(module)
    try:
        return getattr(loaded, attribute)
    except AttributeError:
        raise CommandError(f"module {module} has no attribute {attribute!r}") from None


def _new(args: argparse.Namespace) -> int:
    from kata import project

    where = project.create(args.name, args.dir)
    print(f"Created {where}/ (the project {args.name}). Next:\n")
    print(f"    cd {where}")
    print("    pip install -r requirements-dev.txt   # pytest for the tests, gunicorn for serving")
    print("    kata schema apply     # creates the tables, in an embedded PostgreSQL under config/")
    print("    kata serve            # http://127.0.0.1:8000/foo/bar/123")
    print("    pytest                # the tests in tests/")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from kata import devserver

    module, attribute = app_spec(args)
    return devserver.run(
        module, attribute, config=args.config, host=args.host, port=args.port, reload=args.reload
    )


def _routes(args: argparse.Namespace) -> int:
    import kata.router

    load_app(args)
    rows = [
        (
            route.template,
            f"{route.resource.__module__}.{route.resource.__qualname__}",
            ", ".join(route.methods),
            route.format,
        )
        for route in kata.router.routes()
    ]
    if not rows:
        print("no routes: import your routes module from the package's __init__.py")
        return 0
    _table(["ROUTE", "RESOURCE", "METHODS", "FORMAT"], rows)
    return 0


def _schema(args: argparse.Namespace) -> int:
    import kata.config
    import kata.schema

    config = config_path(args)
    folder = _schema_folder(args)
    kata.config.initialize(config, bare=True)
    try:
        if args.action == "status":
            return _status(kata.schema.status(folder))
        started = time.perf_counter()
        if args.action == "apply":
            before = kata.schema.status(folder)
            changed = before.changed
            if changed and not args.accept_changed:
                names = ", ".join(str(m.path) for m in changed)
                raise CommandError(
                    f"{names}: changed since applied; restore the applied contents and put new changes "
                    "in a new migration, or run kata schema apply --accept-changed to keep the files "
                    "as they are without running them again"
                )
            with _printing_notices():
                done = kata.schema.apply(
                    folder, args.after, accept_changed=args.accept_changed, out_of_order=args.out_of_order
                )
            for accepted in changed:
                print(f"accepted {accepted.version}-{accepted.name}  (changed since applied; not run again)")
            for pending in before.pending:
                if pending.version <= args.after:
                    print(
                        f"baseline {pending.version}-{pending.name}  (recorded as already in the database; not run)"
                    )
        else:
            with _printing_notices():
                done = kata.schema.reset(folder)
        for migration in done:
            print(f"applied  {migration.version}-{migration.name}  {_ms(migration.duration.total_seconds())}")
        what = f"{len(done)} migration{'s' if len(done) != 1 else ''} applied" if done else "nothing to apply"
        print(f"{what} in {_ms(time.perf_counter() - started)}")
        return 0
    except kata.schema.MigrationError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        kata.config.close()


def _status(status: Status) -> int:
    changed = {m.version for m in status.changed}
    missing = {m.version for m in status.missing}
    rows: list[tuple[int, str, str, str]] = []
    for applied in status.applied:
        state = "baseline" if applied.baseline else "applied"
        if applied.version in changed:
            state = "CHANGED since applied"
        if applied.version in missing:
            state = "applied, file MISSING"
        when = f"{applied.applied_at:%Y-%m-%d %H:%M:%S} in {_ms(applied.duration.total_seconds())}"
        rows.append((applied.version, applied.name, state, when))
    rows += [(m.version, m.name, "pending", "") for m in status.pending]
    rows.sort()
    _table(["VERSION", "MIGRATION", "STATE", "APPLIED"], rows)
    print(f"{len(status.applied)} applied, {len(status.pending)} pending")
    # Changed or missing files mean the database and schema/ disagree: a non-zero exit.
    return 1 if changed or missing else 0


@contextmanager
def _printing_notices() -> Iterator[None]:
    """Print what migrations say while they run: the NOTICE and WARNING messages the server
    sends (``kata.schema`` logs them with file and line) and kata.schema's own warnings."""
    logger = logging.getLogger("kata.schema")
    handler = _NoticePrinter()
    level = logger.level
    logger.addHandler(handler)
    if not logger.isEnabledFor(logging.INFO):
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


class _NoticePrinter(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "migration_notice", False):
            print(record.getMessage(), flush=True)
        elif record.levelno >= logging.WARNING:
            print(record.getMessage(), file=sys.stderr, flush=True)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _schema_folder(args: argparse.Namespace) -> Path:
    folder = Path(args.schema)
    if not folder.is_dir():
        first = " (for a project's first migration, mkdir it first)" if args.action == "new" else ""
        raise CommandError(
            f"no folder {folder}/ here: run kata from the project folder, or pass --schema FOLDER{first}"
        )
    return folder


def _schema_new(args: argparse.Namespace) -> int:
    import kata.schema

    try:
        path = kata.schema.new(_schema_folder(args), args.name)
    except kata.schema.MigrationError as exc:
        raise CommandError(str(exc)) from exc
    print(f"created {path}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from kata import doctor

    return 0 if doctor.check(config_path(args), print) else 1


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [list(map(str, header))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":
    sys.exit(main())
