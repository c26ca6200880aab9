"""The demo's one table, through kata's ORM."""

import kata.db


class Book(kata.db.Object):
    __table__ = "book"
