"""One datatable's schema changes, one at a time: on this node, and across nodes when the
catalog is shared.

``service.schema_lock(datatable_id)`` takes this node's ``asyncio.Lock`` of the datatable
first (waiters on one node queue there, holding no connection), then, with a shared catalog,
the PostgreSQL session advisory lock of the datatable (``catalog.postgres_locks``), held for
the whole change. Whoever changes a datatable's schema, or resolves a change in flight,
holds both; so a change that waited for another one re-reads the datatable after it and
sees the schema it left (412 for a stale ``If-Match``), and a change in flight is resolved
by nobody while a live node still runs it. A dead node's connection drops, and with it its
lock: its change in flight is then anyone's to resolve, once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ..catalog.postgres_locks import AdvisoryLock, lock_name

KIND = "schema-change"


def _advisory(service, datatable_id: int) -> AdvisoryLock:
    catalog = service.catalog
    return AdvisoryLock(catalog, lock_name(catalog.schema, KIND, datatable_id))


@asynccontextmanager
async def schema_lock(service, datatable_id: int) -> AsyncIterator[None]:
    """Wait until this task alone changes the datatable's schema, on every node."""
    async with service.schema_locks[datatable_id]:
        if not service.catalog.shared:
            yield
            return
        lock = _advisory(service, datatable_id)
        await lock.acquire()
        try:
            yield
        finally:
            await lock.release()


@asynccontextmanager
async def try_schema_lock(service, datatable_id: int) -> AsyncIterator[bool]:
    """``schema_lock`` if no one holds it (True), else at once False (and nothing held)."""
    local = service.schema_locks[datatable_id]
    if local.locked():
        yield False
        return
    async with local:  # free: taken without waiting
        if not service.catalog.shared:
            yield True
            return
        lock = _advisory(service, datatable_id)
        if not await lock.try_acquire():
            yield False
            return
        try:
            yield True
        finally:
            await lock.release()
