"""The two places a catalog can live, behind one interface: ``read(fn)`` and ``write(fn)``.

``fn(conn)`` is one of the functions of ``catalog.store`` / ``catalog.history`` (or a few of
them): it runs inside one transaction, committed when it returns, rolled back when it raises.

- ``SQLiteCatalog``: ``catalog.db`` in the data directory, attached to Datasette as
  ``_dataservice``; one process holds the directory (``DataDirLock``).
- ``PostgresCatalog``: a schema of a configured PostgreSQL connection, which any number of
  nodes share. The catalog functions run on a ``CatalogConnection`` in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
import uuid
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import psycopg
from datasette.database import Database
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from ..config import CATALOG_DATABASE, DataServiceConfig
from ..errors import DataServiceError
from . import migrations
from .data_dir_lock import DataDirLock
from .postgres_connection import CatalogConnection
from .postgres_migrations import migrate_postgres

T = TypeVar("T")


class Catalog(Protocol):
    shared: bool  # whether other processes use this catalog too

    async def read(self, fn: Callable[[Any], T]) -> T: ...

    async def write(self, fn: Callable[[Any], T], *, notify: bool = True) -> T: ...

    def listen(self, callback: Callable[[], None]) -> None: ...

    async def close(self) -> None: ...


class SQLiteCatalog:
    """The catalog in ``data_dir/catalog.db``, read and written through Datasette."""

    shared = False

    def __init__(self, database: Database):
        self.database = database

    @classmethod
    def open(cls, datasette, config: DataServiceConfig) -> SQLiteCatalog:
        """Create and lock the data directory, migrate the catalog and attach it.
        DataDirInUse when another process holds the data directory."""
        if CATALOG_DATABASE in datasette.databases:
            return cls(datasette.get_database(CATALOG_DATABASE))
        config.data_dir.mkdir(parents=True, exist_ok=True)
        lock = DataDirLock.acquire(config.data_dir)
        try:
            conn = sqlite3.connect(config.catalog_path, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode = wal")
                migrations.migrate(conn)
            finally:
                conn.close()
        except BaseException:
            lock.release()
            raise
        database = LockedCatalog(datasette, lock, path=str(config.catalog_path))
        return cls(datasette.add_database(database, name=CATALOG_DATABASE))

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self.database.execute_fn(fn)

    async def write(self, fn: Callable[[sqlite3.Connection], T], *, notify: bool = True) -> T:
        return await self.database.execute_write_fn(fn)

    def listen(self, callback: Callable[[], None]) -> None:
        """One process owns this catalog: nothing else changes it."""

    async def close(self) -> None:
        """Datasette closes its databases (and so the data directory's lock) itself."""


class LockedCatalog(Database):
    """The catalog database; it holds the data directory's lock until it is closed."""

    def __init__(self, datasette, lock: DataDirLock, *, path: str):
        super().__init__(datasette, path=path, is_mutable=True)
        self.lock = lock

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.lock.release()


class PostgresCatalog:
    """The catalog in a schema of a PostgreSQL database, shared by every node."""

    shared = True

    def __init__(self, dsn: str, schema: str, max_size: int = 5):
        self.dsn = dsn
        self.schema = schema
        self.pool = ConnectionPool(
            dsn,
            min_size=1,
            max_size=max_size,
            configure=self._configure,
            # Reads need no BEGIN/COMMIT round trips; the name tells the catalog's sessions
            # apart in pg_stat_activity.
            kwargs={"autocommit": True, "application_name": f"dataservice-catalog {schema}"[:63]},
            open=False,
            name=f"dataservice-catalog-{schema}",
        )
        # One writer at a time per process, as on SQLite; other nodes are kept out where it
        # matters by row locks, advisory locks and unique constraints.
        self._write_lock = asyncio.Lock()
        # Every write that changes the catalog tells the other nodes, on this channel, at
        # commit; the payload names the writer so it does not answer itself.
        self.node_id = uuid.uuid4().hex
        self.channel = channel_of(schema)
        self._listener: CatalogListener | None = None

    @classmethod
    async def open(cls, config: DataServiceConfig) -> PostgresCatalog:
        connection = config.postgres[config.catalog.connection]
        catalog = cls(connection.dsn, config.catalog.schema, max(2, min(connection.max_size, 10)))
        try:
            await asyncio.to_thread(catalog._migrate_and_open)
        except (PoolTimeout, psycopg.OperationalError) as error:
            await asyncio.to_thread(catalog.pool.close)
            raise DataServiceError(
                f'PostgreSQL connection "{connection.name}" (the catalog\'s) is unavailable:'
                " could not connect",
                status=503,
            ) from error
        return catalog

    def _migrate_and_open(self) -> None:
        with psycopg.connect(self.dsn, connect_timeout=10) as conn:
            migrate_postgres(conn, self.schema)
        self.pool.open(wait=True, timeout=10)

    def _configure(self, conn: psycopg.Connection) -> None:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))

    def _read(self, fn: Callable[[CatalogConnection], T]) -> T:
        """Each statement sees what is committed when it runs, as SQLite's reads do. A read
        on a connection the server dropped (a restart) runs again on a new one."""
        for attempt in (1, 2):
            try:
                with self.pool.connection() as conn:
                    return fn(CatalogConnection(conn))
            except psycopg.OperationalError as error:
                if attempt == 2:
                    raise self._unavailable() from error
                self.pool.check()  # drop every other connection the server dropped too
            except PoolTimeout as error:
                raise self._unavailable() from error
        raise AssertionError("unreachable")

    def _write(self, fn: Callable[[CatalogConnection], T], notify: bool) -> T:
        """One transaction. A connection the server dropped (a restart) is found before
        anything is written and replaced; a connection lost after that is a 503, and the
        server rolls the transaction back."""
        try:
            for attempt in (1, 2):
                with self.pool.connection() as conn:  # a broken one is discarded on return
                    if not _answers(conn):
                        if attempt == 1:
                            self.pool.check()  # drop the others the server dropped too
                            continue
                        raise self._unavailable()
                    with conn.transaction():  # rolled back if fn raises
                        result = fn(CatalogConnection(conn))
                        if notify:  # delivered when (and only if) the transaction commits
                            conn.execute("SELECT pg_notify(%s, %s)", (self.channel, self.node_id))
                        return result
        except (psycopg.OperationalError, PoolTimeout) as error:
            raise self._unavailable() from error
        raise AssertionError("unreachable")

    def _unavailable(self) -> DataServiceError:
        return DataServiceError(
            "The catalog's PostgreSQL server is unavailable; retry in a moment", status=503
        )

    async def read(self, fn: Callable[[CatalogConnection], T]) -> T:
        return await asyncio.to_thread(self._read, fn)

    async def write(self, fn: Callable[[CatalogConnection], T], *, notify: bool = True) -> T:
        """``notify=False`` for writes no other node caches anything of (an audit entry)."""
        async with self._write_lock:
            return await asyncio.to_thread(self._write, fn, notify)

    def listen(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` on this event loop whenever another node changes the catalog
        (and after a lost listening connection comes back, since changes may have passed)."""
        self._listener = CatalogListener(self, asyncio.get_running_loop(), callback)
        self._listener.start()

    async def close(self) -> None:
        if self._listener is not None:
            await asyncio.to_thread(self._listener.stop)
        await asyncio.to_thread(self.pool.close)


class CatalogListener(threading.Thread):
    """LISTEN on the catalog's channel on a connection of its own, in a daemon thread."""

    def __init__(self, catalog: PostgresCatalog, loop, callback: Callable[[], None]):
        super().__init__(name=f"dataservice-listen-{catalog.schema}", daemon=True)
        self.catalog, self.loop, self.callback = catalog, loop, callback
        self._stopping = threading.Event()

    def run(self) -> None:
        first = True
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self.catalog.dsn, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.catalog.channel)))
                    if not first:  # notifications sent while we were away are lost
                        self._changed()
                    first = False
                    while not self._stopping.is_set():
                        for notification in conn.notifies(timeout=0.5, stop_after=1):
                            if notification.payload != self.catalog.node_id:
                                self._changed()
            except psycopg.Error:
                first = False
                self._stopping.wait(1.0)

    def _changed(self) -> None:
        try:
            self.loop.call_soon_threadsafe(self.callback)
        except RuntimeError:  # the loop has closed: the node is stopping
            self._stopping.set()

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=5)


def _answers(conn: psycopg.Connection) -> bool:
    try:
        conn.execute("")  # an empty query: one round trip, nothing run
        return True
    except psycopg.OperationalError:
        return False


def channel_of(schema: str) -> str:
    """The channel a catalog's changes are announced on (a valid identifier, any schema)."""
    return "dataservice_" + hashlib.sha256(schema.encode()).hexdigest()[:16]


async def open_catalog(datasette, config: DataServiceConfig) -> Catalog:
    """The catalog ``config.catalog`` names, migrated to the newest version."""
    if config.catalog.engine == "postgres":
        return await PostgresCatalog.open(config)
    return SQLiteCatalog.open(datasette, config)
