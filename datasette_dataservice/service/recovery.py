"""Recovery of schema changes a crash interrupted.

A change writes a pending row to the catalog, migrates the physical table in one SQLite
transaction, then records the new version and removes the pending row in one catalog
transaction. A crash leaves the physical table old or new, never half; this finds out which
and brings the catalog to the same place. A table in neither shape (changed behind the
service's back) is reported as such, never as rolled back.

It runs at start-up, and with a shared catalog every few seconds on every node too
(``service.sweeper``): a node killed mid-change leaves its pending row to the others. A
pending row is resolved only under the datatable's schema lock, taken without waiting, and
read again under it: a change still running on a live node holds that lock and is left
alone, and of two nodes sweeping together one resolves the row and the other finds it gone.
"""

from __future__ import annotations

import json

from ..catalog import history, store
from ..catalog.postgres_locks import run_to_the_end
from . import audit
from .core import DataService
from .datatables import table_spec
from .migrations import record_version
from .schema_lock import try_schema_lock


async def recover_interrupted_changes(service: DataService) -> list[str]:
    """Finish or discard each change in flight no one is running; returns what was done,
    for the log."""
    outcomes = []
    for pending in await service.read(history.pending_changes):
        outcome = await recover_change(service, pending["datatable_id"])
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


async def recover_change(service: DataService, datatable_id: int) -> str | None:
    """Resolve the datatable's change in flight if it is abandoned: None if someone runs it
    (or has just resolved it)."""
    async with try_schema_lock(service, datatable_id) as held:
        if not held:
            return None
        pending = await service.read(history.pending_change, datatable_id)
        if pending is None:
            return None
        # Cancelled half-way (the sweeper stopping), the lock would go while the resolution
        # still commits, and another node could resolve the row again.
        return await run_to_the_end(_resolve(service, pending))


async def _resolve(service: DataService, pending: dict) -> str:
    datatable = await service.read(store.get_datatable_by_id, pending["datatable_id"])
    operation = json.loads(pending["operation"])
    new_spec = table_spec(
        {**datatable, "field_aliases": pending["field_aliases"]}, json.loads(pending["json_schema"])
    )
    rebuilt = bool(operation.get("details", {}).get("rebuild"))
    provider = service.provider_for(datatable)
    materialized = bool(datatable["is_materialized"])
    applied = not materialized or await provider.has_schema(new_spec, rebuilt)
    # Only a table still in the catalog's shape was rolled back; anything else is reported.
    unchanged = not applied and await provider.has_schema(table_spec(datatable), rebuilt)
    changes = {
        "json_schema": pending["json_schema"],
        "schema_hash": pending["schema_hash"],
        "schema_version": pending["version"],
        "field_aliases": pending["field_aliases"],
    }
    if applied:
        status, error, outcome = "applied", None, "completed"
    elif unchanged:
        status, outcome = "failed", "rolled back"
        error = "interrupted before the table changed; rolled back"
    else:
        status, outcome = "failed", "table matches neither schema version"
        error = (
            f"interrupted; the table matches neither schema version "
            f"{datatable['schema_version']} (kept in the catalog) nor the change to version "
            f"{pending['version']}: check the table against the catalog's schema"
        )

    def resolve(conn) -> None:
        if applied:
            record_version(
                conn,
                pending["datatable_id"],
                changes,
                json.loads(pending["renames"]),
                new_version=pending["version"] != datatable["schema_version"],
                actor=operation.get("actor"),
            )
        else:
            history.delete_pending_change(conn, pending["datatable_id"])
        audit.record(
            conn, **{**operation, "operation": "recover_schema_change"}, status=status, error=error
        )

    await service.write(resolve)
    return f"{operation['target']}: {outcome}"
