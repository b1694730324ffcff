"""Statistics of an app, a datasource, and the app's datatables across datasources."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ..catalog import history, store
from .core import DataService


async def _table_rows(service: DataService, datatables: list[dict]) -> list[dict[str, Any]]:
    tables = []
    for datatable in datatables:
        rows = None
        if datatable["is_materialized"]:
            rows = await service.provider_for(datatable).count_rows(
                datatable["physical_table_name"]
            )
        tables.append(
            {
                "datasource": datatable["datasource_slug"],
                "name": datatable["name"],
                "provider_type": datatable["provider_type"],
                "is_materialized": bool(datatable["is_materialized"]),
                "row_count": rows,
            }
        )
    return tables


def _summarise(tables: list[dict[str, Any]]) -> dict[str, Any]:
    by_provider: dict[str, dict[str, int]] = defaultdict(
        lambda: {"table_count": 0, "materialized_count": 0, "row_count": 0}
    )
    for table in tables:
        bucket = by_provider[table["provider_type"]]
        bucket["table_count"] += 1
        bucket["materialized_count"] += table["is_materialized"]
        bucket["row_count"] += table["row_count"] or 0
    return {
        "table_count": len(tables),
        "materialized_count": sum(t["is_materialized"] for t in tables),
        "row_count": sum(t["row_count"] or 0 for t in tables),
        "by_provider_type": dict(by_provider),
        "tables": tables,
    }


async def app_stats(service: DataService, tenant: str, app_slug: str) -> dict[str, Any]:
    app = await service.app(tenant, app_slug)
    datatables = await service.read(store.list_datatables, app["id"], include_inactive=False)
    summary = _summarise(await _table_rows(service, datatables))
    datasources = await service.read(
        store.list_datasources, app["id"], include_inactive=False, after_id=0, limit=-1
    )
    for provider_type in {d["provider_type"] for d in datasources}:
        summary["by_provider_type"].setdefault(
            provider_type, {"table_count": 0, "materialized_count": 0, "row_count": 0}
        )
    for provider_type, bucket in summary["by_provider_type"].items():
        bucket["datasource_count"] = sum(
            1 for d in datasources if d["provider_type"] == provider_type
        )
    return {
        "app": app_slug,
        "datasource_count": len(datasources),
        **summary,
        "last_operation_at": await service.read(history.last_operation_time, app["id"]),
    }


async def datasource_stats(
    service: DataService, tenant: str, app_slug: str, ds_slug: str
) -> dict[str, Any]:
    datasource = await service.datasource(tenant, app_slug, ds_slug)
    datatables = await service.read(
        store.list_datatables,
        datasource["app_id"],
        datasource_id=datasource["id"],
        include_inactive=False,
    )
    summary = _summarise(await _table_rows(service, datatables))
    summary.pop("by_provider_type")
    return {
        "app": app_slug,
        "datasource": ds_slug,
        "provider_type": datasource["provider_type"],
        "engine": datasource["engine"],
        **summary,
        "last_operation_at": await service.read(
            history.last_operation_time, datasource["app_id"], datasource["id"]
        ),
    }


async def datatables_stats(service: DataService, tenant: str, app_slug: str) -> dict[str, Any]:
    app = await service.app(tenant, app_slug)
    datatables = await service.read(store.list_datatables, app["id"], include_inactive=False)
    summary = _summarise(await _table_rows(service, datatables))
    by_datasource: dict[str, dict[str, int]] = defaultdict(
        lambda: {"table_count": 0, "materialized_count": 0, "row_count": 0}
    )
    for table in summary["tables"]:
        bucket = by_datasource[table["datasource"]]
        bucket["table_count"] += 1
        bucket["materialized_count"] += table["is_materialized"]
        bucket["row_count"] += table["row_count"] or 0
    return {
        "app": app_slug,
        **summary,
        "by_datasource": dict(by_datasource),
        "last_operation_at": await service.read(history.last_operation_time, app["id"]),
    }
