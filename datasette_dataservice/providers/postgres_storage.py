"""PostgreSQL storage: each datasource is one schema in a database of its own
(``providers.postgres_isolation`` says why), reached through its named connection.

Pools are psycopg_pool's ``AsyncConnectionPool``, one per named connection and database,
opened lazily on the running event loop (the first request that needs one; a datasource's
database is created then) and closed with the data service. A datasource's pools keep no
idle connection past ``max_idle``. Connections are in
autocommit mode, so every unit of work says where its transaction begins and ends
(``async with conn.transaction()``), and run with ``TimeZone=UTC``.
"""

from __future__ import annotations

import asyncio
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
from .postgres_isolation import ensure_database, reader_role

IDLE_SECONDS = 300  # a datasource's pool closes connections idle this long


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
        max_idle=IDLE_SECONDS,
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
        # (connection, database) -> pool; database None is the DSN's own database.
        self._pools: dict[tuple[str, str | None], AsyncConnectionPool] = {}
        self._reader_pools: dict[tuple[str, str], AsyncConnectionPool] = {}
        self._lock = asyncio.Lock()
        self._reader_lock = asyncio.Lock()

    def names(self) -> list[str]:
        return sorted(self.configs)

    async def pool(self, name: str, database: str | None = None) -> AsyncConnectionPool:
        """Connections of ``name`` to ``database`` (None: the DSN's own database), which
        is created, through the DSN's database, the first time it is asked for."""
        pool = self._pools.get((name, database))
        if pool is not None:
            return pool
        base = await self.pool(name) if database is not None else None
        async with self._lock:
            if (name, database) not in self._pools:
                config = self.configs[name]
                if base is None:
                    pool = await self._open_base(name, config)
                else:
                    async with _checked_out(base, name) as conn:
                        await ensure_database(conn, database, name)
                    dsn = make_conninfo(config.dsn, dbname=database)
                    pool = _new_pool(dsn, 0, max(1, config.max_size), f"dataservice-{name}-db")
                    await pool.open(wait=False)
                self._pools[(name, database)] = pool
            return self._pools[(name, database)]

    @staticmethod
    async def _open_base(name: str, config: PostgresConnection) -> AsyncConnectionPool:
        pool = _new_pool(config.dsn, 1, max(1, config.max_size), f"dataservice-{name}")
        try:
            await pool.open(wait=True, timeout=10)
        except (PoolTimeout, psycopg.Error) as error:
            await pool.close()
            raise PostgresUnavailable(
                f'PostgreSQL connection "{name}" is unavailable: could not connect'
            ) from error
        return pool

    async def reader_pool(self, name: str, database: str) -> AsyncConnectionPool:
        """Connections to ``database`` that log in as its reader role, for SQL a user writes.

        A role switched to with SET ROLE can be left again (``set_config('role',
        session_user, true)`` in a SELECT), so user SQL gets a session of its own whose
        login is the reader. Its password derives from Datasette's secret and is set, as a
        SCRAM verifier (never in clear), through the connection's own role on first use.
        """
        role = reader_role(database)
        pool = self._reader_pools.get((name, database))
        if pool is not None:
            return pool
        async with self._reader_lock:
            if (name, database) not in self._reader_pools:
                password = hmac.new(self.secret.encode(), role.encode(), "sha256").hexdigest()
                await self._allow_login(name, role, password)
                dsn = make_conninfo(
                    self.configs[name].dsn, user=role, password=password, dbname=database
                )
                pool = _new_pool(dsn, 0, 2, f"dataservice-{name}-reader")
                await pool.open(wait=False)
                self._reader_pools[(name, database)] = pool
            return self._reader_pools[(name, database)]

    async def _allow_login(self, name: str, role: str, password: str) -> None:
        async with _checked_out(await self.pool(name), name) as conn:
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


@asynccontextmanager
async def _checked_out(pool: AsyncConnectionPool, name: str) -> AsyncIterator:
    """A connection from ``pool``; a pool that cannot give one, or a lost server, is a 503
    naming the connection."""
    try:
        async with pool.connection() as conn:
            yield conn
    except PoolTimeout as error:
        raise PostgresUnavailable(
            f'PostgreSQL connection "{name}" is busy or unavailable; try again'
        ) from error
    except psycopg.OperationalError as error:
        if conn_error_is_query_error(error):
            raise
        raise PostgresUnavailable(f'PostgreSQL connection "{name}" failed; try again') from error


@dataclass(frozen=True)
class PostgresTarget:
    """Where one Postgres-backed datasource lives: a named connection, a database of its
    own and a schema in it."""

    database_name: str  # the name Datasette's URLs use, as for SQLite datasources
    schema: str  # the Postgres schema holding the datasource's tables
    connection_name: str
    connections: PostgresConnections
    database: str  # the PostgreSQL database holding that schema

    @asynccontextmanager
    async def connect_reader(self) -> AsyncIterator[psycopg.AsyncConnection]:
        """A session logged in as this datasource's reader role (for SQL a user writes)."""
        pool = await self.connections.reader_pool(self.connection_name, self.database)
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
        pool = await self.connections.pool(self.connection_name, self.database)
        async with _checked_out(pool, self.connection_name) as conn:
            yield conn


def conn_error_is_query_error(error: psycopg.OperationalError) -> bool:
    """OperationalError covers both a lost server and, e.g., a cancelled statement; 08P01
    (protocol violation, e.g. ``select $1`` bound without values) is the server refusing
    what it was sent, on a connection that still works."""
    state = error.sqlstate
    return state is not None and (not state.startswith("08") or state == "08P01")


def schema_name(prefix: str, database_name: str) -> str:
    return f"{prefix}{database_name}"
