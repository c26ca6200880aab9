import kata.resource
import kata.router

import myproject.container.foo
import myproject.model.foo


class Bar(kata.resource.Resource):
    def get(self, request, response, baz):
        return self.success({
            'baz': baz,
            'something': 'else'
        })

    def post(self, request, response, baz):
        data = self.body(request)
        return self.success({
            'baz': baz,
            'received': data
        })


class Page(kata.resource.Resource):
    def get(self, request, response, baz):
        return self.success('<!doctype html><title>%s</title><h1>bar %s</h1>' % (baz, baz))


class Foos(kata.resource.Resource):
    def get(self, request, response, bar):
        return self.success(myproject.model.foo.Foo.get({'bar': bar}, order_by='qux'))

    def post(self, request, response, bar):
        data = self.body(request)
        myproject.model.foo.Foo.create([{'bar': bar, 'qux': data['qux']}])
        return self.success({'created': 1})


class Cached(kata.resource.Resource):
    """The Simple container on the cache named in the URL."""

    def get(self, request, response, cache, bar):
        return self.success(myproject.container.foo.Foo(bar, cache).get())

    def delete(self, request, response, cache, bar):
        myproject.container.foo.Foo(bar, cache).dirty()
        return self.success({'dirty': bar})


class CachedRows(kata.resource.Resource):
    """The Attribute container on the cache named in the URL: rows by id."""

    def get(self, request, response, cache, ids):
        try:
            items = [int(item) for item in ids.split(',')]
        except ValueError:
            raise kata.router.HTTPError(400, 'ids must be integers separated by commas')

        found = myproject.container.foo.Bar(items, cache).get()
        return self.success({str(item): row for item, row in found.items()})
