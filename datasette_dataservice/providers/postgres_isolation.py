"""What keeps SQL a user writes inside one datasource: a PostgreSQL database of its own,
read through a role of its own, both with opaque names.

Within one database every role can list every schema, table, column and function name
(``pg_namespace``, ``pg_class``, ``pg_attribute``, ``information_schema``) and confirm a
name through error messages and casts (``'x.y'::regclass``); PostgreSQL offers no way to
narrow that. A session cannot reach another database at all, so each datasource's tables
live in a database of its own. What every database still shows (``pg_database``,
``pg_roles``, ``pg_stat_activity``, ``pg_stat_database``) are cluster-wide names: those of
the datasources' databases and reader roles are random, so they name no tenant, app or
datasource, and cannot be guessed from one.
"""

from __future__ import annotations

import secrets

import psycopg
import psycopg.sql

from ..errors import DataServiceError

# PostgreSQL truncates longer identifiers silently; names are checked against this instead.
MAX_IDENTIFIER_BYTES = 63
READER_SUFFIX = "_reader"


class DatabaseUnavailable(DataServiceError):
    """The connection's user may not create a datasource's database."""

    status = 503


def new_database_name(prefix: str) -> str:
    """A fresh, random database name for a datasource (kept in its provider_config)."""
    return f"{prefix}ds_{secrets.token_hex(8)}"


def reader_role(database: str) -> str:
    """The role user SQL (``/-/query``, ``?_where=``) on one datasource logs in as: it may
    connect to that datasource's database and read its schema, nothing else."""
    return f"{database}{READER_SUFFIX}"


async def ensure_database(conn: psycopg.AsyncConnection, database: str, connection: str) -> None:
    """Create ``database`` unless it exists: from template0 (nothing an operator added to
    template1), with no privilege for PUBLIC (whose default is CONNECT and TEMP)."""
    cursor = await conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database])
    if await cursor.fetchone() is not None:
        return
    name = psycopg.sql.Identifier(database)
    try:
        await conn.execute(psycopg.sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(name))
    except psycopg.errors.DuplicateDatabase:
        return  # another process created it first
    except psycopg.errors.InsufficientPrivilege as error:
        raise DatabaseUnavailable(
            f'PostgreSQL connection "{connection}" may not create databases: each '
            "datasource lives in a database of its own, so its user needs CREATEDB"
        ) from error
    await conn.execute(psycopg.sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(name))


async def ensure_reader_role(conn: psycopg.AsyncConnection, schema: str) -> bool:
    """Create (or refresh) the reader role of the database ``conn`` is in, for ``schema``;
    False when the connection's user may not create roles, in which case user SQL on that
    datasource is refused, never run as the connection's own role."""
    cursor = await conn.execute("SELECT current_database()")
    database = (await cursor.fetchone())[0]
    role = psycopg.sql.Identifier(reader_role(database))
    values = {
        "role": role,
        "name": psycopg.sql.Literal(reader_role(database)),
        "schema": psycopg.sql.Identifier(schema),
        "database": psycopg.sql.Identifier(database),
    }
    statements = [
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {name}) THEN"
        " CREATE ROLE {role} NOLOGIN; END IF; END $$",
        "GRANT {role} TO CURRENT_USER",
        "GRANT CONNECT ON DATABASE {database} TO {role}",
        "GRANT USAGE ON SCHEMA {schema} TO {role}",
        "GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT ON TABLES TO {role}",
    ]
    try:
        async with conn.transaction():  # a savepoint inside the caller's transaction
            for statement in statements:
                await conn.execute(psycopg.sql.SQL(statement).format(**values))
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.DuplicateObject):
        return False
    return True
