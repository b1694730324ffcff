"""PostgreSQL advisory locks on the catalog's server: which node is still working on what.

A node holds a session lock named for what it works on (``import:<id>``) on a connection of
its own for as long as the work lasts; PostgreSQL releases it when that session ends, so a
node that dies lets go of it too. Another node tells a dead node's work from a live one's by
trying the lock inside its own catalog transaction (released when that transaction ends).

Keys are ``hashtextextended(<catalog schema>:<name>)``: catalogs in other schemas of the same
server never share one. The SQLite catalog has none of this (one process holds it).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

KEY = "hashtextextended(current_schema() || ':' || {}, 0)"


class LockHeld(Exception):
    """Another session holds the lock."""


class SessionLock:
    """A session-level advisory lock held on a dedicated connection until ``release()``.

    Dedicated rather than borrowed from the catalog's pool: a long import holding one of a
    small pool's connections would leave the other requests (and its own progress writes)
    waiting for the rest.
    """

    def __init__(self, conn: psycopg.Connection, name: str):
        self.conn = conn
        self.name = name

    @classmethod
    def acquire(cls, dsn: str, schema: str, name: str) -> SessionLock:
        """Take the lock ``name`` in the catalog ``schema`` (blocking I/O: run it in a
        thread). LockHeld if another session holds it."""
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
        try:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            query = "SELECT pg_try_advisory_lock(" + KEY.format("%s") + ")"
            if not conn.execute(query, (name,)).fetchone()[0]:
                raise LockHeld(name)
        except BaseException:
            conn.close()
            raise
        return cls(conn, name)

    def release(self) -> None:
        """Let go of the lock: ending the session releases it (and cannot leave it behind
        on a pooled connection)."""
        self.conn.close()


def try_transaction_lock(conn: Any, name: str) -> bool:
    """Whether the lock ``name`` is free, taken until the end of ``conn``'s transaction (a
    catalog connection of the PostgreSQL catalog, inside ``catalog.write``)."""
    query = "SELECT pg_try_advisory_xact_lock(" + KEY.format("?") + ")"
    return bool(conn.execute(query, (name,)).fetchone()[0])


def import_lock(import_id: str) -> str:
    """The lock a running import's node holds."""
    return f"import:{import_id}"
