-- Quoting of every kind; each ; inside stays inside its statement.
/* a leading /* nested; */ comment; still a comment */
CREATE TABLE notes (
    id serial PRIMARY KEY,   -- a comment; with a semicolon
    body text NOT NULL,
    "odd;""name" text,
    price$ numeric
);

INSERT INTO notes (body) VALUES ('a;b'), ('it''s; fine'), ('back\slash; in a standard string\');
INSERT INTO notes (body) VALUES (E'escaped \' quote; and \\ backslash'), (e'tab\there;');
INSERT INTO notes (body) VALUES (U&'d\0061t\+000061;'), (N'national;');
INSERT INTO notes (body) VALUES ($$dollar; 'quoted'$$), ($tag$with $$ inside; $tag$), ($a$x$b$y;$a$);
INSERT INTO notes (body, "odd;""name") VALUES ('first' /* inline; comment */, 'second');
SELECT B'1010' | X'0F'::bit(4) AS bits; SELECT 'one' -- trailing; comment
  || 'two';
SELECT price$ FROM notes WHERE body = 'a;b'; SELECT 1
