CREATE TABLE periods (id serial PRIMARY KEY, starts date, ends date, days int);

-- A parameter named begin opens no block: it is inside parentheses.
CREATE FUNCTION period_len(begin date, finish date) RETURNS int
    LANGUAGE sql IMMUTABLE AS $$ SELECT finish - begin $$;
CREATE TABLE after_period_len (id int);

CREATE OR REPLACE FUNCTION set_days() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    NEW.days := period_len(NEW.starts, NEW.ends);  -- ; inside the body
    IF NEW.days < 0 THEN
        RAISE EXCEPTION 'negative; period';
    END IF;
    RETURN NEW;
END;
$body$;

CREATE TRIGGER periods_days BEFORE INSERT OR UPDATE ON periods
    FOR EACH ROW EXECUTE FUNCTION set_days();

-- SQL-standard bodies: BEGIN ATOMIC ... END, with CASE ... END inside.
CREATE FUNCTION sign_word(n int) RETURNS text LANGUAGE sql
BEGIN ATOMIC
    SELECT CASE WHEN n < 0 THEN 'negative' WHEN n = 0 THEN 'zero' ELSE 'positive' END;
END;
CREATE OR REPLACE FUNCTION grade(n int) RETURNS text LANGUAGE sql
BEGIN ATOMIC
    SELECT CASE WHEN n > 90 THEN 'a' ELSE CASE WHEN n > 50 THEN 'b' ELSE 'c' END END;
    SELECT 'unreached';
END;
CREATE PROCEDURE add_period(a date, b date) LANGUAGE sql
BEGIN ATOMIC
    INSERT INTO periods (starts, ends) VALUES (a, b);
    INSERT INTO periods (starts, ends) VALUES (b, b);
END;
CREATE OR REPLACE PROCEDURE noop() LANGUAGE plpgsql AS $$ BEGIN NULL; END $$;
CREATE FUNCTION plain_case(n int) RETURNS int LANGUAGE sql RETURN CASE WHEN n > 0 THEN n ELSE 0 END;

CALL add_period('2026-01-01', '2026-01-05');
CALL noop();

DO $$
DECLARE
    total int;
BEGIN
    SELECT count(*) INTO total FROM periods;
    CASE WHEN total > 0 THEN
        INSERT INTO after_period_len VALUES (total);
    ELSE
        NULL;
    END CASE;
END
$$;
DO LANGUAGE plpgsql 'BEGIN PERFORM 1; END';

-- A rule's parenthesised action list is one statement.
CREATE TABLE audit (what text);
CREATE RULE periods_audit AS ON INSERT TO periods DO ALSO (
    INSERT INTO audit VALUES ('one');
    INSERT INTO audit VALUES ('two');
);
INSERT INTO periods (starts, ends) VALUES ('2026-02-01', '2026-02-03');
CREATE RULE periods_keep AS ON DELETE TO periods DO INSTEAD NOTHING;
CREATE VIEW period_view AS SELECT id, CASE WHEN days > 2 THEN 'long' END AS kind FROM periods;
