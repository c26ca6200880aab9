"""Cached reads: a Simple container (one value) and an Attribute container (one value per id)."""

import kata.cache
import kata.container
from demo.model import Book


class AuthorStats(kata.container.Simple):
    """Books per author, counted in the database at most once a minute."""

    def cache(self):
        return kata.cache.memory

    def expire(self):
        return 60

    def key(self):
        return "author-stats"

    def pull(self):
        counts = {}
        for book in Book.get({}, order_by="author"):
            counts[book.author] = counts.get(book.author, 0) + 1
        return counts


class BooksById(kata.container.Attribute):
    """Books by id, each cached for an hour; one query fetches all the misses."""

    def cache(self):
        return kata.cache.memory

    def expire(self):
        return 3600

    def key(self, item):
        return f"book:{item}"

    def attribute(self):
        return Book, "id"
