CREATE INDEX book_author ON book (author);
