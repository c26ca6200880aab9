CREATE TABLE foo (
    id bigserial PRIMARY KEY,
    bar varchar NOT NULL,
    qux int NOT NULL
);
