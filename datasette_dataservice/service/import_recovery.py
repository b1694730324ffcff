"""Recovery of imports whose node stopped before they finished.

An import writes its rows in one transaction of the datasource's storage, so a node that
dies mid-import leaves the table as it was: only its catalog row still says 'running'. This
ends such a row as failed, once, whichever nodes look at the same time:

- SQLite catalog: one process holds it, so a running import that is not this process's own
  belongs to a process that stopped.
- PostgreSQL catalog: a live import's node holds the advisory lock named for it; a free lock
  means its node is gone. The lock is tried inside the transaction that marks the row, and
  the row is marked only if it is still running, so two nodes never both mark it.

Called at start-up (service.lifecycle) and safe to call at any time, as often as wanted.
"""

from __future__ import annotations

from typing import Any

from ..catalog import imports, store
from ..catalog.postgres_locks import import_lock, try_transaction_lock
from . import audit
from .core import DataService

STOPPED = "the node running this import stopped before it finished; nothing was written"


async def recover_interrupted_imports(service: DataService) -> list[str]:
    """Mark failed each running import whose node stopped; returns what was done, for the
    log ("<app/datasource/datatable>: import <id> failed")."""
    running = await service.read(imports.running_imports)
    live = {import_id for _, import_id in list(service.imports)}  # this node's own
    shared = service.catalog.shared
    outcomes = []
    for row in running:
        if row["id"] in live:
            continue
        marked = await service.write(
            lambda conn, row=row: _mark_failed(conn, row, shared), changes_catalog=False
        )
        if marked:
            outcomes.append(f"{row['datatable']}: import {row['id']} failed")
    return outcomes


def _mark_failed(conn: Any, row: dict[str, Any], shared: bool) -> bool:
    """In one catalog transaction: whether this call marked the import failed."""
    if shared and not try_transaction_lock(conn, import_lock(row["id"])):
        return False  # its node is alive and still at it
    if not imports.mark_failed(conn, row["id"], STOPPED):
        return False  # it ended, or another node marked it first
    failed = imports.get_import(conn, row["datatable_id"], row["id"])
    datatable = store.get_datatable_by_id(conn, row["datatable_id"])
    about = (
        audit.about_datatable(datatable, row["actor"])
        if datatable is not None
        else {  # purged since: what the import's row says
            "datatable_id": row["datatable_id"],
            "target_type": "datatable",
            "target": row["datatable"],
            "actor": row["actor"],
        }
    )
    audit.record(
        conn,
        **about,
        operation="recover_import",
        status="failed",
        error=STOPPED,
        details={
            column: failed[column]
            for column in ("id", "format", "mode", "node", "rows_read", "started_at")
        },
    )
    return True
