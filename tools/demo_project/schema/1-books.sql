CREATE TABLE book (
    id bigserial PRIMARY KEY,
    title varchar NOT NULL,
    author varchar NOT NULL,
    year int NOT NULL,
    price numeric(8, 2) NOT NULL,
    added timestamptz NOT NULL DEFAULT now()
);
