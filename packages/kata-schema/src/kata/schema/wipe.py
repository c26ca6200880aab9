"""Emptying a database for reset(): back to what CREATE DATABASE gives, public's owner and
grants kept."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

Connection = psycopg.Connection[Any]

# Everything a migration can create lives in a schema, or is an extension, an event trigger,
# a publication or a large object; plpgsql is in every new database and stays.
_EVENT_TRIGGERS = "SELECT evtname FROM pg_event_trigger"
_EXTENSIONS = "SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'"
_PUBLICATIONS = "SELECT pubname FROM pg_publication"
_SCHEMAS = """
SELECT nspname FROM pg_namespace
WHERE nspname NOT IN ('public', 'information_schema') AND nspname !~ '^pg_'
"""
_LARGE_OBJECTS = "SELECT lo_unlink(oid) FROM pg_largeobject_metadata"
_PUBLIC_SCHEMA = """
SELECT pg_get_userbyid(n.nspowner),
       obj_description(n.oid, 'pg_namespace'),
       ARRAY(
           SELECT format('GRANT %s ON SCHEMA public TO %s%s', a.privilege_type,
                         CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
                         CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
           FROM aclexplode(n.nspacl) AS a
           WHERE a.grantee <> n.nspowner
           ORDER BY 1)
FROM pg_namespace AS n
WHERE n.nspname = 'public'
"""


def wipe(conn: Connection) -> list[str]:
    """Drop every schema (public included), extension, event trigger, publication and large
    object, then create public again as it was: same owner, grants and comment. One
    transaction: on error nothing is dropped. Returns the schemas dropped besides public."""
    with conn.transaction():
        # Event triggers first: one on sql_drop would otherwise fire for every drop below.
        _drop_each(conn, _EVENT_TRIGGERS, "DROP EVENT TRIGGER {} CASCADE")
        _drop_each(conn, _PUBLICATIONS, "DROP PUBLICATION {}")
        _drop_each(conn, _EXTENSIONS, "DROP EXTENSION IF EXISTS {} CASCADE")
        schemas = [row[0] for row in conn.execute(_SCHEMAS, prepare=False)]
        if schemas:
            names = sql.SQL(", ").join(sql.Identifier(name) for name in schemas)
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(names), prepare=False)
        conn.execute(_LARGE_OBJECTS, prepare=False)
        _recreate_public(conn)
    return schemas


def _drop_each(conn: Connection, query: str, drop: str) -> None:
    for (name,) in conn.execute(query, prepare=False).fetchall():
        conn.execute(sql.SQL(drop).format(sql.Identifier(name)), prepare=False)


def _recreate_public(conn: Connection) -> None:
    found = conn.execute(_PUBLIC_SCHEMA, prepare=False).fetchone()
    conn.execute("DROP SCHEMA IF EXISTS public CASCADE", prepare=False)
    if found is None:
        conn.execute("CREATE SCHEMA public", prepare=False)
        return
    owner, comment, grants = found
    conn.execute(
        sql.SQL("CREATE SCHEMA public AUTHORIZATION {}").format(sql.Identifier(owner)), prepare=False
    )
    for grant in grants:
        conn.execute(grant, prepare=False)
    if comment is not None:
        conn.execute(sql.SQL("COMMENT ON SCHEMA public IS {}").format(sql.Literal(comment)), prepare=False)
