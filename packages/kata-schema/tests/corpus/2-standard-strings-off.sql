CREATE TABLE texts (body text);
SET standard_conforming_strings = off;
-- Now a backslash escapes in an ordinary string, as in an E'' string.
INSERT INTO texts VALUES ('it\'s; one statement');
INSERT INTO texts VALUES ('two\\'), ('three;');
SET standard_conforming_strings TO 'on';
INSERT INTO texts VALUES ('back\'), ('to standard;');
SET standard_conforming_strings = false;
INSERT INTO texts VALUES ('again\'; still one');
RESET standard_conforming_strings;
INSERT INTO texts VALUES ('reset\');
SELECT pg_catalog.set_config('standard_conforming_strings', 'off', false);
INSERT INTO texts VALUES ('set_config\'; too');
SELECT set_config('standard_conforming_strings', 'on', false);
INSERT INTO texts VALUES ('on again\');
