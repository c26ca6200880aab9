"""Plain-SQL migrations for PostgreSQL."""
