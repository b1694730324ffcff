"""An import's progress, kept in the catalog so that any node answers for it.

The node running an import keeps its ``ImportStatus`` in memory (its own requests read that)
and copies it to the catalog as it starts, at most every ``PROGRESS_INTERVAL`` seconds while
it changes, and as it ends (with the audit entry, in one transaction). Other nodes, and this
one once the import is over, read the catalog. On a shared (PostgreSQL) catalog the node also
holds an advisory lock named for the import while it runs, so that another node can tell an
import whose node died from a live one (service.import_recovery).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..catalog import imports
from ..catalog.postgres_locks import SessionLock, import_lock
from ..catalog.store import utc_now
from .core import DataService

PROGRESS_INTERVAL = 0.5  # seconds between two progress writes of one import, at least
NODE = f"{socket.gethostname()}:{os.getpid()}"
STOPPED = "the import stopped before it finished; nothing was written"


@dataclass
class ImportStatus:
    """What an import has done so far; served at .../imports/{id}.json while it runs."""

    id: str
    datatable: str
    format: str
    mode: str
    state: str = "running"
    rows_read: int = 0
    rows_written: int = 0
    rows_invalid: int = 0
    # Valid rows left unwritten because the import as a whole was refused or failed:
    # rows_read == rows_written + rows_invalid + rows_discarded, whatever the mode.
    rows_discarded: int = 0
    started_at: str = field(default_factory=utc_now)
    finished_at: str | None = None
    error: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        return {
            "valid": not self.rows_invalid and self.error is None,
            "stats": {
                "rows": self.rows_read,
                "errors": len(self.errors),
                "invalid_rows": self.rows_invalid,
                "written_rows": self.rows_written,
                "discarded_rows": self.rows_discarded,
            },
            "errors": self.errors,
        }

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("errors")
        return {**data, "report": self.report()}

    def end(self, state: str, error: str | None = None) -> None:
        """It is over: ``state`` is done, refused or failed (then none of its rows stayed)."""
        self.state, self.error = state, error
        if state != "done":
            self.rows_written = 0
            self.rows_discarded = self.rows_read - self.rows_invalid
        self.finished_at = utc_now()

    def progress(self) -> dict[str, Any]:
        """What changes as it runs, copied at once (the write thread updates it meanwhile)."""
        return {column: getattr(self, column) for column in imports.PROGRESS_COLUMNS} | {
            "errors": list(self.errors)
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ImportStatus:
        names = set(cls.__dataclass_fields__)
        values = {k: v for k, v in row.items() if k in names}
        return cls(**{**values, "errors": json.loads(row["errors"])})


class ImportProgress:
    """``async with ImportProgress(service, datatable, status, actor) as progress:`` around
    one import: recorded as it starts, kept up to date while it runs; ``progress.finish``
    writes its outcome with the caller's audit entry."""

    def __init__(
        self, service: DataService, datatable: dict[str, Any], status: ImportStatus, actor
    ):
        self.service = service
        self.datatable_id = datatable["id"]
        self.status = status
        self.actor = actor
        self.key = (datatable["id"], status.id)
        self.lock: SessionLock | None = None
        self.ticker: asyncio.Task | None = None
        self.recorded = False  # its outcome is in the catalog

    async def __aenter__(self) -> ImportProgress:
        status = self.status
        self.service.imports[self.key] = status  # before its row: a recovery skips it
        try:
            catalog = self.service.catalog
            if catalog.shared:  # before its row too: a running row always has its lock held
                self.lock = await asyncio.to_thread(
                    SessionLock.acquire, catalog.dsn, catalog.schema, import_lock(status.id)
                )
            row = {
                **asdict(status),
                "datatable_id": self.datatable_id,
                "actor": self.actor,
                "node": NODE,
            }
            await self.service.write(
                lambda conn: imports.insert_import(conn, row), changes_catalog=False
            )
        except BaseException:
            await self._let_go()
            raise
        self.ticker = asyncio.create_task(self._tick(status.progress()))
        return self

    async def _tick(self, last: dict[str, Any]) -> None:
        """Copy the progress to the catalog every PROGRESS_INTERVAL seconds it changed."""
        while True:
            await asyncio.sleep(PROGRESS_INTERVAL)
            progress = self.status.progress()
            if progress != last:
                try:
                    await self.service.write(
                        lambda conn, p=progress: imports.update_import(conn, self.status.id, p),
                        changes_catalog=False,
                    )
                except Exception:  # noqa: BLE001 - a catalog hiccup must not stop the import
                    continue  # the next tick tries again
                last = progress

    async def finish(self, also: Callable[[Any], Any]) -> None:
        """Write the import's outcome and ``also(conn)`` (its audit entry) in one catalog
        transaction."""
        progress = self.status.progress()

        def record(conn) -> None:
            imports.update_import(conn, self.status.id, progress, final=True)
            also(conn)

        await self.service.write(record, changes_catalog=False)
        self.recorded = True

    async def __aexit__(self, kind, error, traceback) -> None:
        if self.ticker is not None:
            self.ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.ticker
        try:
            # Raised before its end was recorded (a cancelled one is left to recovery).
            if not self.recorded and (error is None or isinstance(error, Exception)):
                if self.status.state == "running":  # its one transaction rolled back
                    self.status.end("failed", f"{STOPPED} ({error})")
                progress = self.status.progress()
                with contextlib.suppress(Exception):
                    await self.service.write(
                        lambda conn: imports.update_import(
                            conn, self.status.id, progress, final=True
                        ),
                        changes_catalog=False,
                    )
        finally:
            await self._let_go()

    async def _let_go(self) -> None:
        """Release the lock (its end is recorded, or a recovery may now record it) and leave
        the in-memory fast path to the catalog."""
        try:
            if self.lock is not None:
                await asyncio.to_thread(self.lock.release)
        finally:
            self.service.imports.pop(self.key, None)


async def import_status(
    service: DataService, datatable_id: int, import_id: str
) -> ImportStatus | None:
    """An import of this datatable: this node's own while it runs, else the catalog's."""
    status = service.imports.get((datatable_id, import_id))
    if status is not None:
        return status
    row = await service.read(imports.get_import, datatable_id, import_id)
    return ImportStatus.from_row(row) if row is not None else None
