import kata.router
import myproject.resource.foo

kata.router.add_route('/foo/bar/{baz}', myproject.resource.foo.Bar)
kata.router.add_route('/foo/bar/{baz}/msgpack', myproject.resource.foo.Bar, format='msgpack')
kata.router.add_route('/foo/bar/{baz}/html', myproject.resource.foo.Page, format='html')
kata.router.add_route('/foos/{bar}', myproject.resource.foo.Foos)
kata.router.add_route('/cached/{cache}/{bar}', myproject.resource.foo.Cached)
kata.router.add_route('/cached/{cache}/ids/{ids}', myproject.resource.foo.CachedRows)
