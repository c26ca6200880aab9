CREATE TABLE people (id int, name text, note text);
COPY people (id, name, note) FROM stdin;
1	Ann	semi; colon
2	Bob	\N
3	it's	back\\slash
\.
COPY people FROM STDIN WITH (FORMAT csv);
4,Cy,"quoted; ""csv"""
5,Di,
\.
SELECT count(*) FROM people;
