"""The one exception kata.cache raises for a cache server that fails."""


class CacheError(Exception):
    """A cache server refused, timed out, dropped the connection or rejected a command.

    The driver's own exception is kept as ``__cause__``. Programming errors are not
    CacheErrors: a bad ``expire`` is a ValueError, a value that cannot be stored a TypeError.
    """
