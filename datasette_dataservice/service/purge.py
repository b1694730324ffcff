"""Purge: the one irreversible operation, dropping a datatable's physical table for good."""

from __future__ import annotations

import json

from ..catalog import store
from ..errors import BadRequest
from . import audit
from .change import apply_change
from .core import DataService
from .datatables import ensure_unreferenced_by_siblings, table_spec


async def purge_datatable(
    service: DataService,
    tenant: str,
    actor: str | None,
    app_slug: str,
    ds_slug: str,
    name: str,
    confirm: str | None,
) -> dict:
    """Drop the table and forget the datatable; its operations stay in the audit trail."""
    datatable = await service.datatable(tenant, app_slug, ds_slug, name, include_inactive=True)
    if confirm != name:
        raise BadRequest(
            f'purging drops the table and its rows for good: add "confirm={name}" to confirm'
        )
    await ensure_unreferenced_by_siblings(service, datatable, "purged")
    provider = service.provider_for(datatable, attach=False)
    spec = table_spec(datatable)

    async def drop() -> list[str]:
        sql: list[str] = []
        if datatable["is_materialized"]:
            # Live, in the trash (deleted on its own) or in a datasource deleted as a whole.
            where = await provider.placement(spec)
            if "hidden" in where:
                sql += await provider.drop_hidden(spec)
            if "served" in where:
                sql += await provider.drop(spec.physical_name)
        return sql

    done = await apply_change(
        service,
        dict(
            **audit.about_datatable(datatable, actor),
            operation="purge_datatable",
            schema_before=json.loads(datatable["json_schema"]),
        ),
        storage=drop,
        catalog=lambda conn, done: store.delete_datatable(conn, datatable["id"]),
        errors=(),  # nothing to take back: a drop that fails is an error of its own
    )
    return {"purged": f"{app_slug}/{ds_slug}/{name}", "sql": done.sql}
