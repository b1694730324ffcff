"""Start-up recovery of schema changes a crash interrupted.

A change writes a pending row to the catalog, migrates the physical table in one SQLite
transaction, then records the new version and removes the pending row in one catalog
transaction. A crash leaves the physical table old or new, never half; this finds out which
and brings the catalog to the same place. A table in neither shape (changed behind the
service's back) is reported as such, never as rolled back.
"""

from __future__ import annotations

import json

from ..catalog import history, store
from . import audit
from .core import DataService
from .datatables import table_spec
from .migrations import record_version


async def recover_interrupted_changes(service: DataService) -> list[str]:
    """Finish or discard each change in flight; returns what was done, for the log."""
    return [
        await _resolve(service, pending) for pending in await service.read(history.pending_changes)
    ]


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
