"""Session advisory locks of a shared (PostgreSQL) catalog, held across nodes.

A lock is held by one connection of the catalog's pool for as long as the work it guards
runs: every node that asks for the same name waits (``pg_advisory_lock``) or skips
(``pg_try_advisory_lock``) until it is released. When a node dies its connections drop and
PostgreSQL releases its locks, which is how another node knows the work was abandoned.

The lock's key is ``hashtextextended(name, 0)``, computed by the server so every node gets
the same; the name carries the catalog's schema, so catalogs sharing a server keep apart (a
hash collision only makes two unrelated holders wait for each other).

The blocking parts run in a worker thread; an ``AdvisoryLock`` never leaks a held lock or a
pool connection, also when the task waiting for it is cancelled.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import psycopg
from psycopg_pool import ConnectionPool

T = TypeVar("T")

# How often a cancelled wait re-sends its cancel request (one sent before the query reached
# the server is lost).
CANCEL_EVERY = 0.1

# Lock waits block their thread: they get threads of their own, never the default executor's
# that catalog reads and writes run on.
_threads = ThreadPoolExecutor(max_workers=32, thread_name_prefix="dataservice-lock")

# Per catalog, how many pool connections may hold locks at once: the rest of the pool stays
# free for the catalog reads and writes the lock holders themselves make.
_holders: weakref.WeakKeyDictionary[Any, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def lock_name(schema: str, kind: str, key: int | str) -> str:
    """The name of the lock on ``key`` (a datatable id...) for ``kind`` of work."""
    return f"dataservice:{schema}:{kind}:{key}"


def import_lock(import_id: str) -> str:
    """The lock a running import's node holds (``lock_name`` without its schema)."""
    return f"import:{import_id}"


def _holders_of(catalog) -> asyncio.Semaphore:
    semaphore = _holders.get(catalog)
    if semaphore is None:
        semaphore = asyncio.Semaphore(max(1, catalog.pool.max_size // 2))
        _holders[catalog] = semaphore
    return semaphore


class AdvisoryLock:
    """One session advisory lock on a connection of ``catalog.pool``:
    ``await lock.acquire()`` or ``await lock.try_acquire()``, then ``await lock.release()``."""

    def __init__(self, catalog, name: str):
        self.catalog = catalog
        self.pool: ConnectionPool = catalog.pool
        self.name = name
        self._conn: psycopg.Connection | None = None
        self._held = False
        self._guard = threading.Lock()  # _conn is set in the worker thread, read in the loop

    @property
    def held(self) -> bool:
        return self._held

    async def acquire(self) -> None:
        """Wait until this node holds the lock."""
        await self._take("SELECT true FROM pg_advisory_lock(hashtextextended(%s, 0))")

    async def try_acquire(self) -> bool:
        """Take the lock if no one holds it; False (and nothing held) if someone does."""
        return await self._take("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))")

    async def release(self) -> None:
        """Unlock and give the connection back to the pool, to the end even if cancelled."""
        if self._conn is None:
            return
        holders = _holders_of(self.catalog)
        try:
            await run_to_the_end(_in_thread(self._unlock))
        finally:
            holders.release()

    async def _take(self, statement: str) -> bool:
        holders = _holders_of(self.catalog)
        await holders.acquire()
        thread = _in_thread(self._lock, statement)
        try:
            taken = await asyncio.shield(thread)
        except asyncio.CancelledError:
            try:
                await run_to_the_end(asyncio.ensure_future(self._abandon(thread)))
            finally:
                holders.release()
            raise
        except BaseException:
            holders.release()
            raise
        if not taken:
            holders.release()
        return taken

    async def _abandon(self, thread: asyncio.Future) -> None:
        """The wait was cancelled: cancel the query, then undo whatever the thread got."""
        while not thread.done():
            await _in_thread(self._cancel)
            await asyncio.wait([thread], timeout=CANCEL_EVERY)
        if not thread.cancelled() and thread.exception() is None and thread.result():
            await run_to_the_end(_in_thread(self._unlock))

    # In a worker thread -----------------------------------------------------------------

    def _lock(self, statement: str) -> bool:
        conn = self.pool.getconn()
        with self._guard:
            self._conn = conn
        try:
            taken = bool(conn.execute(statement, (self.name,)).fetchone()[0])
            conn.commit()  # a session lock outlives the transaction; no snapshot is kept
        except BaseException:
            conn.close()  # it may hold the lock: a closed session holds nothing
            self._give_back()
            raise
        if not taken:
            self._give_back()
        self._held = taken
        return taken

    def _cancel(self) -> None:
        """Cancel the lock's query, if its connection is still this lock's (``_give_back``
        waits for this, so another user of the pooled connection is never cancelled)."""
        with self._guard:
            if self._conn is not None:
                try:
                    self._conn.cancel_safe(timeout=5)
                except psycopg.Error:
                    pass

    def _unlock(self) -> None:
        conn = self._conn
        try:
            conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (self.name,))
            conn.commit()
        except psycopg.Error:
            conn.close()  # a closed session holds nothing; the pool replaces it
        finally:
            self._held = False
            self._give_back()

    def _give_back(self) -> None:
        with self._guard:
            conn, self._conn = self._conn, None
        if conn is not None:
            self.pool.putconn(conn)


def _in_thread(fn, *args) -> asyncio.Future:
    return asyncio.get_running_loop().run_in_executor(_threads, fn, *args)


async def run_to_the_end(awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` (run as a task of its own) to its end even if the caller is
    cancelled meanwhile: what it changes or undoes must not stop half-way. A cancellation
    that came meanwhile is raised once it has ended, whatever its outcome."""
    task = asyncio.ensure_future(awaitable)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                raise
            cancelled = True
        except BaseException:
            break
    if cancelled:
        if not task.cancelled():
            task.exception()  # retrieved: the caller gets the cancellation instead
        raise asyncio.CancelledError
    return task.result()


# A lock on a connection of its own ---------------------------------------------------------


class LockHeld(Exception):
    """Another session holds the lock."""


class SessionLock:
    """A session advisory lock held on a dedicated connection until ``release()``, for work
    as long as an import: held on one of the pool's connections, it would leave the other
    requests (and the import's own progress writes) a connection short for minutes."""

    def __init__(self, conn: psycopg.Connection, name: str):
        self.conn = conn
        self.name = name

    @classmethod
    def acquire(cls, dsn: str, schema: str, name: str) -> SessionLock:
        """Take ``lock_name``'s lock for ``name`` (``kind:key``) in the catalog ``schema``
        (blocking I/O: run it in a thread). LockHeld if another session holds it."""
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
        try:
            held = conn.execute(
                "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))",
                (f"dataservice:{schema}:{name}",),
            )
            if not held.fetchone()[0]:
                raise LockHeld(name)
        except BaseException:
            conn.close()
            raise
        return cls(conn, name)

    def release(self) -> None:
        """Ending the session releases the lock (and cannot leave it on a pooled one)."""
        self.conn.close()


def try_transaction_lock(conn: Any, name: str) -> bool:
    """Whether ``lock_name``'s lock for ``name`` (``kind:key``) is free, taken until the end
    of ``conn``'s transaction (a connection of the Postgres catalog, in ``catalog.write``)."""
    query = (
        "SELECT pg_try_advisory_xact_lock("
        "hashtextextended('dataservice:' || current_schema() || ':' || ?, 0))"
    )
    return bool(conn.execute(query, (name,)).fetchone()[0])
