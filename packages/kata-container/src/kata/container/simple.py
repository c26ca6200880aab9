"""The Simple container: one value under one key."""

from __future__ import annotations

from typing import Any

from kata.container.base import Container, check_key, rejecter
from kata.container.loader import load


class Simple(Container):
    """Caches one value: :meth:`get` returns it from the cache, or pulls and stores it.

    Define :meth:`cache`, :meth:`key` and :meth:`pull`, usually :meth:`expire`, and
    :meth:`~Container.init` to receive the constructor's arguments::

        class Foo(kata.container.Simple):
            def init(self, foo):
                self.foo = foo

            def cache(self):
                return kata.cache.memcached

            def expire(self):
                return 3600

            def key(self):
                return 'foo:%s' % self.foo

            def pull(self):
                return some_expensive_thing(self.foo)

        Foo(5).get()
        Foo(5).dirty()
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.init(*args, **kwargs)

    def key(self) -> str:
        """The cache key of the value; unique across everything the cache holds."""
        raise NotImplementedError(f"{type(self).__qualname__} must define key()")

    def pull(self) -> Any:
        """Compute the value from the source; called only on a miss. None is a value, cached too."""
        raise NotImplementedError(f"{type(self).__qualname__} must define pull()")

    def valid(self, value: Any) -> bool:
        """Whether *value*, read from the cache, is a value this container stores: by default, any.

        Define it to say what :meth:`pull` returns (``isinstance(value, list)``, say): a cached
        value that is not (an entry someone tampered with, or one written by an older release in
        another shape) is then a miss, pulled again and overwritten. An exception raised here
        counts as False.
        """
        return True

    def get(self) -> Any:
        """Return the cached value, or pull, store and return it.

        One ``get_multi`` of one key (so a cached None is told apart from a miss); on a miss,
        one ``pull()`` per process however many threads miss at once, and one write. If the cache
        fails, the value is pulled and returned anyway, and a warning is logged.
        """
        key = check_key(type(self).__qualname__, self.key())
        cache = self._cache()
        reject = (
            rejecter(lambda _key, value: self.valid(value))
            if type(self).valid is not Simple.valid and self._checked(cache)
            else None
        )
        found = load(
            type(self),
            cache,
            [key],
            reject,
            lambda: self._plan(cache, lambda keys: {key: self.pull()}, None, reject),
        )
        return found.get(key)

    def dirty(self) -> None:
        """Remove the value from the cache, so the next :meth:`get` pulls it again."""
        self._delete([check_key(type(self).__qualname__, self.key())])
