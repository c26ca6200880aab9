from pkgutil import extend_path

# Must stay the first statement: with editable installs every package's src/ is its own
# sys.path entry, and only this line lets kata.cache, kata.db and the others be found
# beside this file. Nothing above it may import a kata.* module.
__path__ = extend_path(__path__, __name__)


def initialize(config: str) -> None:
    """Load the YAML configuration at *config* and set up the database, caches and web app.

    The same as ``kata.config.initialize(config)``; see that function.
    """
    import kata.config

    kata.config.initialize(config)
