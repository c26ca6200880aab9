"""Resources: the classes that answer requests, one method per HTTP method.

A resource is a class with methods named after HTTP methods in lower case (``get``,
``post``, ``put``, ``patch``, ``delete``). Each receives the request, the response and the
route's fields as keyword arguments, and returns ``self.success(...)``::

    import kata.resource

    class Bar(kata.resource.Resource):
        def get(self, request, response, baz):
            return self.success({"baz": baz, "something": "else"})

        def post(self, request, response, baz):
            data = self.body(request)
            return self.success(data, status=201)

The router creates one instance per route and shares it between all threads of a worker:
keep per-request state in local variables or ``request.context``, never on ``self``.
"""

from kata.router.errors import HTTPError
from kata.router.resource import Resource
from kata.router.response import Result

__all__ = ["HTTPError", "Resource", "Result"]
