"""At start-up, views an earlier release wrote otherwise are written again.

A jsonb datatable's view is regenerated on every schema change; a datatable whose schema has
not changed since an upgrade would otherwise keep the view the earlier release wrote (on
SQLite: columns without the flat_table's types, which compare differently).
"""

from __future__ import annotations

from ..catalog import store
from ..errors import DataServiceError
from ..providers.base import ProviderError
from . import audit
from .core import DataService
from .datatables import table_spec


async def refresh_views(service: DataService) -> list[str]:
    """Rewrite each served jsonb datatable's outdated view; returns what was done, for the log.

    A soft-deleted datatable's view is rewritten at the first start after its restore."""
    served = {d["database_name"] for d in await service.read(store.all_active_datasources)}
    outcomes = []
    for datatable in await service.read(store.all_materialized_datatables):
        if not (
            datatable["provider_type"] == "jsonb"
            and datatable["is_active"]
            and datatable["database_name"] in served
        ):
            continue
        target = audit.about_datatable(datatable, None)["target"]
        try:
            if await service.provider_for(datatable).refresh_views(table_spec(datatable)):
                outcomes.append(f"{target}: view rewritten")
        except (DataServiceError, ProviderError) as error:  # e.g. PostgreSQL is down
            outcomes.append(f"{target}: not checked ({error}); checked again at the next start")
    return outcomes
