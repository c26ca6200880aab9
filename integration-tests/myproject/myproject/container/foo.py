import kata.cache
import kata.container

import myproject.model.foo


class Foo(kata.container.Simple):
    def init(self, foo, cache='memcached'):
        self.foo = foo
        self.cache_name = cache

    def cache(self):
        return getattr(kata.cache, self.cache_name)

    def expire(self):
        return 3600

    def key(self):
        return 'foo:%s' % self.foo

    def pull(self):
        foos = myproject.model.foo.Foo.get({'bar': self.foo}, order_by='qux')
        return [foo.qux for foo in foos]


class Bar(kata.container.Attribute):
    def init(self, cache='memcached'):
        self.cache_name = cache

    def cache(self):
        return getattr(kata.cache, self.cache_name)

    def key(self, item):
        return 'bar:%s' % item

    def attribute(self):
        return myproject.model.foo.Foo, 'id'
