"""Foreign keys between datatables at the schema level: changes to a referenced datatable
that would break them, and referenced datatables that are not materialized yet."""

from __future__ import annotations

import json
from typing import Any

from ..catalog import store
from ..errors import Conflict
from ..schema.references import inbound_problems
from .core import DataService
from .request_cache import cached_read


async def referencing_datatables(
    service: DataService, datatable: dict[str, Any], *, live_only: bool = False
) -> list[dict]:
    """The other datatables of its datasource with a foreign key to ``datatable``: deleted
    ones too (they may be restored), unless ``live_only`` asks for those whose rows are
    served (a soft-deleted one's rows are in the trash and hold no live reference)."""
    rows = await cached_read(
        service,
        store.list_datatables,
        datatable["app_id"],
        datasource_id=datatable["datasource_id"],
        include_inactive=not live_only,
    )
    name = datatable["name"].lower()
    return [
        row
        for row in rows
        if row["id"] != datatable["id"]
        and any(
            (fk["reference"].get("resource") or "").lower() == name
            for fk in json.loads(row["json_schema"]).get("foreignKeys") or []
        )
    ]


async def ensure_references_survive(
    service: DataService, datatable: dict[str, Any], new_schema: dict[str, Any]
) -> None:
    """409 naming the datatables whose foreign keys the new schema would break (a referenced
    field renamed, dropped, retyped, or no longer a key): they are never migrated behind
    their owners' backs."""
    referencing = {
        row["name"]: json.loads(row["json_schema"])
        for row in await referencing_datatables(service, datatable)
    }
    problems = inbound_problems(datatable["name"], new_schema, referencing)
    if problems:
        names = ", ".join(f'"{name}"' for name in referencing)
        raise Conflict(
            [
                *problems,
                f"change or drop the foreign keys of {names} first, then change "
                f'"{datatable["name"]}"',
            ]
        )


async def ensure_references_materialized(
    service: DataService, datasource_id: int, app_id: int, name: str, schema: dict[str, Any]
) -> None:
    """409 unless every other datatable the schema's foreign keys reference is materialized:
    a table cannot hold rows that refer to a table that is not there yet."""
    rows = await cached_read(
        service, store.list_datatables, app_id, datasource_id=datasource_id, include_inactive=False
    )
    materialized = {row["name"].lower(): row["is_materialized"] for row in rows}
    missing = sorted(
        {
            resource
            for fk in schema.get("foreignKeys") or []
            if (resource := fk["reference"].get("resource") or "")
            and resource.lower() != name.lower()
            and not materialized.get(resource.lower())
        }
    )
    if missing:
        names = ", ".join(f'"{m}"' for m in missing)
        raise Conflict(
            f'DataTable "{name}" cannot be materialized before the datatables its foreign keys '
            f"reference: materialize {names} first"
        )
