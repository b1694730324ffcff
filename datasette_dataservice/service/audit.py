"""Recording SchemaOperations: the append-only audit trail of every mutation."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any

from ..catalog import history


def record(conn, **operation: Any) -> int:
    """Append one SchemaOperation inside the caller's catalog transaction."""
    operation.setdefault("status", "applied")
    return history.insert_operation(conn, operation)


@contextmanager
def stopwatch():
    """``with stopwatch() as elapsed: ...; elapsed()`` gives milliseconds since the start."""
    start = time.perf_counter()
    yield lambda: round((time.perf_counter() - start) * 1000, 3)


async def record_rows(
    service, datatable: dict[str, Any], actor: str | None, operation: str, rows: int, **details
) -> None:
    """Log one accepted write of ``rows`` rows to a managed table (its own catalog
    transaction, after the rows are stored: a write is logged once it has happened)."""
    entry = {**about_datatable(datatable, actor), "operation": operation}
    entry["details"] = {"rows": rows, **details}
    await service.write(lambda conn: record(conn, **entry), changes_catalog=False)


def about_datatable(datatable: dict[str, Any], actor: str | None, name: str | None = None) -> dict:
    """The operation columns that say which datatable it concerns and who acted."""
    return {
        "tenant": datatable.get("tenant") or "",
        "app_id": datatable["app_id"],
        "datasource_id": datatable["datasource_id"],
        "datatable_id": datatable["id"],
        "target_type": "datatable",
        "target": "/".join(
            (datatable["app_slug"], datatable["datasource_slug"], name or datatable["name"])
        ),
        "actor": actor,
    }
