import kata.db


class Foo(kata.db.Object):
    __table__ = 'foo'
