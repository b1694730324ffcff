"""One scaffold for every mutation: change storage, record it in the catalog with its audit
entry, undo the storage change if the catalog refuses, record a storage failure.

Each use case checks its input, then says what its change is made of::

    done = await apply_change(
        service,
        entry,  # the audit columns: who, what, which operation
        storage=lambda: provider.hide(spec),  # the SQL it ran
        catalog=lambda conn, done: store.set_datatable_active(conn, id, False),
        undo=lambda: provider.unhide(spec),
    )

Storage changes first: a catalog row never names a table that is not there. The catalog
change and its audit entry are one transaction; if it fails, ``undo`` puts storage back (a
crash in between is put right at start-up: service.recovery, service.softdelete).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import Conflict
from ..providers.base import ProviderError
from . import audit
from .core import DataService


@dataclass
class Done:
    """What a change did: the storage SQL, how long it took (None for a catalog-only change),
    and the audit entry recorded (None when the catalog step recorded its own)."""

    sql: list[str] = field(default_factory=list)
    duration_ms: float | None = None
    entry: dict[str, Any] | None = None


async def apply_change(
    service: DataService,
    entry: dict[str, Any] | None,
    *,
    catalog: Callable[[Any, Done], dict[str, Any] | None] | None = None,
    storage: Callable[[], Awaitable[list[str] | None]] | None = None,
    verify: Callable[[], Awaitable[None]] | None = None,
    undo: Callable[[], Awaitable[Any]] | None = None,
    record_failure: dict[str, Any] | None = None,
    failure_catalog: Callable[[Any], None] | None = None,
    conflict: Callable[[str], str] = str,
    errors: tuple[type[Exception], ...] = (ProviderError,),
) -> Done:
    """Run one mutation.

    ``storage()`` changes the physical tables and returns the SQL it ran; if it raises one
    of ``errors``, nothing is recorded in the catalog but, with ``record_failure`` (extra
    audit columns), a ``"failed"`` entry (in one transaction with ``failure_catalog(conn)``),
    and the answer is a 409 whose message is ``conflict(error)``. ``verify()`` runs after
    storage and before the catalog; if either fails, ``undo()`` reverts a storage change
    that ran SQL.
    ``catalog(conn, done)`` changes catalog rows and returns audit columns to add (an id it
    inserted); then ``entry`` is recorded, with the SQL and duration of a storage change.
    """
    done = Done()
    with audit.stopwatch() as elapsed:
        if storage is not None:
            try:
                done.sql = list(await storage() or [])
            except errors as error:
                if record_failure is not None:
                    await _record_failure(
                        service, entry, record_failure, failure_catalog, str(error), elapsed()
                    )
                raise Conflict(conflict(str(error))) from error
        try:
            if verify is not None:
                await verify()
            timed = storage is not None
            await service.write(lambda conn: _record(conn, entry, catalog, done, timed, elapsed))
        except BaseException:
            if done.sql and undo is not None:  # keep catalog and storage in agreement
                await undo()
            raise
    return done


def _record(conn, entry, catalog, done: Done, timed: bool, elapsed) -> None:
    if timed:
        done.duration_ms = elapsed()
    extra = catalog(conn, done) if catalog is not None else None
    if entry is not None:
        columns = dict(entry)
        if done.sql:
            columns["sql"] = done.sql
        if timed:
            columns["duration_ms"] = done.duration_ms
        done.entry = {**columns, **(extra or {})}
        audit.record(conn, **done.entry)


async def _record_failure(service, entry, extra, failure_catalog, message, duration) -> None:
    def record(conn) -> None:
        if failure_catalog is not None:
            failure_catalog(conn)
        failed = {"status": "failed", "error": message, "duration_ms": duration}
        audit.record(conn, **{**entry, **extra, **failed})

    await service.write(record)


async def record_refusal(
    service: DataService, entry: dict[str, Any], reason: str, **extra: Any
) -> None:
    """Record a change refused before it touched anything (status ``"refused"``)."""
    await service.write(
        lambda conn: audit.record(conn, **{**entry, **extra, "status": "refused", "error": reason})
    )
