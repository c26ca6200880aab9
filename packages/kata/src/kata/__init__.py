from pkgutil import extend_path

# Must stay the first statement: with editable installs every package's src/ is its own
# sys.path entry, and only this line lets kata.cache, kata.db and the others be found
# beside this file. Nothing above it may import a kata.* module.
__path__ = extend_path(__path__, __name__)


def initialize(config: str) -> None:
    """Load the YAML configuration at *config* and set up the database, caches and web app.

    The same as ``kata.config.initialize(config)`` (see that function), except under gunicorn:
    there a mistake in the file is printed as one line and the worker exits as one that failed
    to boot (so gunicorn stops), instead of a traceback per worker and endless restarts.
    """
    import kata.config

    try:
        kata.config.initialize(config)
    except kata.config.ConfigError as exc:
        kata.config.exit_under_server(exc)
        raise
