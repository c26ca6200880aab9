"""The demo's resources: JSON by default; the routes pick msgpack or HTML where shown."""

import html
from decimal import Decimal, InvalidOperation

import kata.resource
import kata.router
from demo.container import AuthorStats, BooksById
from demo.model import Book


class Hello(kata.resource.Resource):
    def get(self, request, response, name):
        return self.success({"hello": name})


class Books(kata.resource.Resource):
    def get(self, request, response):
        return self.success(Book.get({}, order_by="id"))

    def post(self, request, response):
        book = _checked(self.body(request))
        created = Book.create([book])
        AuthorStats().dirty()
        return self.success(created)


class OneBook(kata.resource.Resource):
    def get(self, request, response, id):
        if not id.isdigit():
            raise kata.router.HTTPError(400, "a book id is a number")
        found = BooksById([int(id)]).get()
        if int(id) not in found:
            raise kata.router.HTTPError(404, f"no book {id}")
        return self.success(found[int(id)])


class Stats(kata.resource.Resource):
    def get(self, request, response):
        return self.success(AuthorStats().get())


class BooksPage(kata.resource.Resource):
    def get(self, request, response):
        rows = "".join(
            f"<tr><td>{book.id}</td><td>{html.escape(book.title)}</td><td>{html.escape(book.author)}</td>"
            f"<td>{book.year}</td><td>{book.price}</td></tr>"
            for book in Book.get({}, order_by="id")
        )
        return self.success(
            '<!doctype html><meta charset="utf-8"><title>Books</title><h1>Books</h1>'
            f"<table><tr><th>id</th><th>title</th><th>author</th><th>year</th><th>price</th></tr>{rows}</table>"
        )


def _checked(body):
    if not isinstance(body, dict):
        raise kata.router.HTTPError(400, 'expected an object: {"title", "author", "year", "price"}')
    missing = [key for key in ("title", "author", "year", "price") if key not in body]
    if missing:
        raise kata.router.HTTPError(400, f"missing {', '.join(missing)}")
    if not isinstance(body["title"], str) or not isinstance(body["author"], str):
        raise kata.router.HTTPError(400, "title and author are strings")
    if not isinstance(body["year"], int) or isinstance(body["year"], bool):
        raise kata.router.HTTPError(400, "year is an integer")
    try:
        price = Decimal(str(body["price"]))
    except InvalidOperation:
        raise kata.router.HTTPError(400, "price is a number") from None
    return {"title": body["title"], "author": body["author"], "year": body["year"], "price": price}
