"""Imports in the catalog: one row per import, its progress and its outcome.

Any node answers ``.../imports/{id}.json`` from here, and any node can tell an import whose
node died (still 'running', nobody holding it) and mark it failed. No foreign key to
``datatables``: a purged datatable's imports stay behind, as its operations do.
"""

from __future__ import annotations

import json
from typing import Any

from .store import Row, _one, _rows, utc_now

# What changes while an import runs (and when it ends).
PROGRESS_COLUMNS = (
    "state",
    "rows_read",
    "rows_written",
    "rows_invalid",
    "rows_discarded",
    "error",
    "errors",
    "finished_at",
)
COLUMNS = (
    "id",
    "datatable_id",
    "datatable",
    "format",
    "mode",
    *PROGRESS_COLUMNS,
    "actor",
    "node",
    "started_at",
)


def _stored(row: dict[str, Any]) -> dict[str, Any]:
    errors = row.get("errors")
    return {**row, "errors": errors if isinstance(errors, str) else json.dumps(errors or [])}


def insert_import(conn, row: dict[str, Any]) -> None:
    """Record an import as it starts (``row`` has every name of ``COLUMNS``)."""
    values = _stored({column: row.get(column) for column in COLUMNS})
    values["node"] = values["node"] or ""
    values["updated_at"] = utc_now()
    columns = ", ".join(values)
    placeholders = ", ".join(f":{c}" for c in values)
    conn.execute(f"INSERT INTO imports ({columns}) VALUES ({placeholders})", values)


def update_import(conn, import_id: str, progress: dict[str, Any], *, final: bool = False) -> bool:
    """Store an import's progress; whether its row changed.

    Progress only moves a running import on (a late one never overwrites its end, nor a
    recovery's verdict); ``final`` records the outcome whatever the row says, since the
    node that ran the import knows best what it wrote.
    """
    values = _stored({column: progress[column] for column in PROGRESS_COLUMNS})
    values["updated_at"] = utc_now()
    assignments = ", ".join(f"{column} = :{column}" for column in values)
    where = "id = :_id" + ("" if final else " AND state = 'running'")
    cursor = conn.execute(
        f"UPDATE imports SET {assignments} WHERE {where}", {**values, "_id": import_id}
    )
    return cursor.rowcount == 1


def get_import(conn, datatable_id: int, import_id: str) -> Row | None:
    """An import of this datatable (an id of another datatable's import finds nothing)."""
    return _one(
        conn, "SELECT * FROM imports WHERE id = ? AND datatable_id = ?", (import_id, datatable_id)
    )


def running_imports(conn) -> list[Row]:
    return _rows(conn, "SELECT * FROM imports WHERE state = 'running' ORDER BY started_at, id")


def mark_failed(conn, import_id: str, error: str) -> bool:
    """End a running import as failed, its valid rows discarded (it wrote nothing); whether
    it was still running: of several nodes marking it, one changes it."""
    now = utc_now()
    cursor = conn.execute(
        "UPDATE imports SET state = 'failed', error = ?, rows_written = 0,"
        " rows_discarded = rows_read - rows_invalid, finished_at = ?, updated_at = ?"
        " WHERE id = ? AND state = 'running'",
        (error, now, now, import_id),
    )
    return cursor.rowcount == 1
