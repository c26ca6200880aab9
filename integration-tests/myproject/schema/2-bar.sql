CREATE INDEX foo_bar ON foo (bar);
