"""PostgreSQL storage: one pool per named connection, one schema per datasource.

Pools are psycopg_pool's ``AsyncConnectionPool``, opened lazily on the running event loop
(the first request that needs one) and closed with the data service. Connections are in
autocommit mode, so every unit of work says where its transaction begins and ends
(``async with conn.transaction()``), and run with ``TimeZone=UTC``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import psycopg
import psycopg.sql
from psycopg.conninfo import make_conninfo
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ..config import PostgresConnection
from ..errors import DataServiceError

# PostgreSQL truncates longer identifiers silently; names are checked against this instead.
MAX_IDENTIFIER_BYTES = 63


class PostgresUnavailable(DataServiceError):
    """The server behind a named connection cannot be reached. Says the connection's name,
    never its DSN."""

    status = 503


def _new_pool(dsn: str, min_size: int, max_size: int, name: str) -> AsyncConnectionPool:
    return AsyncConnectionPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        open=False,
        timeout=10,
        kwargs={
            "autocommit": True,
            "options": "-c TimeZone=UTC",
            "application_name": "datasette-dataservice",
        },
        name=name,
    )


class ReaderUnavailable(DataServiceError):
    """User SQL cannot run on a datasource: it has no reader role that may log in."""

    status = 403

    def __init__(self, why: str):
        super().__init__(f"SQL queries are not available on this database: {why}")


class PostgresConnections:
    """The named connections of DESIGN §8, each a lazily opened pool."""

    def __init__(self, configs: dict[str, PostgresConnection], secret: str = ""):
        self.configs = configs
        self.secret = secret  # Datasette's signing secret: reader passwords derive from it
        self._pools: dict[str, AsyncConnectionPool] = {}
        self._reader_pools: dict[tuple[str, str], AsyncConnectionPool] = {}
        self._lock = asyncio.Lock()
        self._reader_lock = asyncio.Lock()

    def names(self) -> list[str]:
        return sorted(self.configs)

    async def pool(self, name: str) -> AsyncConnectionPool:
        pool = self._pools.get(name)
        if pool is not None:
            return pool
        async with self._lock:
            if name not in self._pools:
                config = self.configs[name]
                pool = _new_pool(config.dsn, 1, max(1, config.max_size), f"dataservice-{name}")
                try:
                    await pool.open(wait=True, timeout=10)
                except (PoolTimeout, psycopg.Error) as error:
                    await pool.close()
                    raise PostgresUnavailable(
                        f'PostgreSQL connection "{name}" is unavailable: could not connect'
                    ) from error
                self._pools[name] = pool
            return self._pools[name]

    async def reader_pool(self, name: str, schema: str) -> AsyncConnectionPool:
        """Connections that log in as ``schema``'s reader role, for SQL a user writes.

        A role switched to with SET ROLE can be left again (``set_config('role',
        session_user, true)`` in a SELECT), so user SQL gets a session of its own whose
        login is the reader. Its password derives from Datasette's secret and is set, as a
        SCRAM verifier (never in clear), through the connection's own role on first use.
        """
        role = reader_role(schema)
        pool = self._reader_pools.get((name, role))
        if pool is not None:
            return pool
        async with self._reader_lock:
            if (name, role) not in self._reader_pools:
                password = hmac.new(self.secret.encode(), role.encode(), "sha256").hexdigest()
                await self._allow_login(name, role, password)
                dsn = make_conninfo(self.configs[name].dsn, user=role, password=password)
                pool = _new_pool(dsn, 0, 2, f"dataservice-{name}-reader")
                await pool.open(wait=False)
                self._reader_pools[(name, role)] = pool
            return self._reader_pools[(name, role)]

    async def _allow_login(self, name: str, role: str, password: str) -> None:
        pool = await self.pool(name)
        async with pool.connection() as conn:
            cursor = await conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if await cursor.fetchone() is None:
                raise ReaderUnavailable("its reader role does not exist")
            verifier = conn.pgconn.encrypt_password(password.encode(), role.encode())
            statement = psycopg.sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(
                psycopg.sql.Identifier(role), psycopg.sql.Literal(verifier.decode())
            )
            try:
                await conn.execute(statement)
            except psycopg.errors.InsufficientPrivilege as error:
                raise ReaderUnavailable(
                    "the PostgreSQL connection's user may not let its reader role log in"
                ) from error

    async def close(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        pools += list(self._reader_pools.values())
        self._reader_pools = {}
        for pool in pools:
            await pool.close()


@dataclass(frozen=True)
class PostgresTarget:
    """Where one Postgres-backed datasource lives: a named connection and a schema."""

    database_name: str  # the name Datasette's URLs use, as for SQLite datasources
    schema: str  # the Postgres schema holding the datasource's tables
    connection_name: str
    connections: PostgresConnections

    @asynccontextmanager
    async def connect_reader(self) -> AsyncIterator[psycopg.AsyncConnection]:
        """A session logged in as this datasource's reader role (for SQL a user writes)."""
        pool = await self.connections.reader_pool(self.connection_name, self.schema)
        try:
            async with pool.connection() as conn:
                yield conn
        except PoolTimeout as error:
            raise PostgresUnavailable(
                f'PostgreSQL connection "{self.connection_name}" did not let the reader '
                "role log in, or is busy; try again"
            ) from error

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[psycopg.AsyncConnection]:
        """A pooled connection (autocommit: open a transaction for anything that writes)."""
        pool = await self.connections.pool(self.connection_name)
        try:
            async with pool.connection() as conn:
                yield conn
        except PoolTimeout as error:
            raise PostgresUnavailable(
                f'PostgreSQL connection "{self.connection_name}" is busy or unavailable; try again'
            ) from error
        except psycopg.OperationalError as error:
            if not conn_error_is_query_error(error):
                raise PostgresUnavailable(
                    f'PostgreSQL connection "{self.connection_name}" failed; try again'
                ) from error
            raise


def conn_error_is_query_error(error: psycopg.OperationalError) -> bool:
    """OperationalError covers both a lost server and, e.g., a cancelled statement; 08P01
    (protocol violation, e.g. ``select $1`` bound without values) is the server refusing
    what it was sent, on a connection that still works."""
    state = error.sqlstate
    return state is not None and (not state.startswith("08") or state == "08P01")


def schema_name(prefix: str, database_name: str) -> str:
    return f"{prefix}{database_name}"


def reader_role(schema: str) -> str:
    """The role user SQL (``/-/query``, ``?_where=``) on one datasource runs as.

    Every datasource shares its connection's role, which can read every schema (and, as a
    superuser, the server's files); SQL a user writes runs as this role instead, which may
    read that one schema's tables and nothing else. Roles are cluster-wide, so the name
    carries the schema's (prefixed) name, shortened with a hash when it would not fit.
    """
    name = f"{schema}_reader"
    if len(name.encode()) <= MAX_IDENTIFIER_BYTES:
        return name
    digest = hashlib.sha1(schema.encode()).hexdigest()[:10]
    return f"{schema.encode()[:40].decode(errors='ignore')}_{digest}_reader"


async def ensure_reader_role(conn: psycopg.AsyncConnection, schema: str) -> bool:
    """Create (or refresh) ``schema``'s reader role; False when the connection's user may
    not create roles, in which case user SQL on that datasource is refused, never run as
    the shared role."""
    role = psycopg.sql.Identifier(reader_role(schema))
    name = psycopg.sql.Literal(reader_role(schema))
    quoted_schema = psycopg.sql.Identifier(schema)
    statements = [
        psycopg.sql.SQL(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {name}) THEN"
            " CREATE ROLE {role} NOLOGIN; END IF; END $$"
        ),
        psycopg.sql.SQL("GRANT {role} TO CURRENT_USER"),
        psycopg.sql.SQL("GRANT USAGE ON SCHEMA {schema} TO {role}"),
        psycopg.sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}"),
        psycopg.sql.SQL(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT ON TABLES TO {role}"
        ),
    ]
    try:
        async with conn.transaction():  # a savepoint inside the caller's transaction
            for statement in statements:
                await conn.execute(statement.format(schema=quoted_schema, role=role, name=name))
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.DuplicateObject):
        return False
    return True
