-- Identifiers spelled like the words the splitter watches.
CREATE TABLE begin (id int, "end" int, "case" text, atomic int);
CREATE TABLE "function" ("begin" int, "procedure" text);
INSERT INTO begin VALUES (1, 2, 'x', 3);
INSERT INTO "function" VALUES (1, 'begin; end');
CREATE FUNCTION "create"("begin" int) RETURNS int LANGUAGE sql AS 'SELECT "begin" + 1';
CREATE FUNCTION uses_end(atomic int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    RETURN atomic;
END $$;
SELECT b.id, b."end", b."case", (SELECT "create"(b.atomic)) FROM begin AS b;
CREATE SCHEMA utils;
CREATE TABLE utils."case" ("when" int);
CREATE FUNCTION utils.ends() RETURNS SETOF int LANGUAGE sql AS $$ SELECT "end" FROM public.begin $$;
UPDATE begin SET "end" = (SELECT max("when") FROM utils."case") WHERE false;
