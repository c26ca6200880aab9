import kata.router
from demo import resource

kata.router.add_route("/hello/{name}", resource.Hello)
kata.router.add_route("/books", resource.Books)
kata.router.add_route("/books.msgpack", resource.Books, format="msgpack")
kata.router.add_route("/books.html", resource.BooksPage, format="html")
kata.router.add_route("/books/{id}", resource.OneBook)
kata.router.add_route("/stats", resource.Stats)
