"""Links from Datasette's own database and table pages to the data service's pages.

Only managed databases and tables get links, only for signed-in actors allowed to view the
app: anonymous visitors and unmanaged databases cost no catalog read and no permission check.
"""

from __future__ import annotations

from ..catalog import store
from ..permissions import VIEW_APP, AppResource
from ..service.core import service_for
from ..service.request_cache import cached_read
from .serialize import app_path, datatable_path


def _service(datasette, database: str):
    try:
        service = service_for(datasette)
    except KeyError:  # before start-up finished
        return None
    return service if database in service.managed_databases else None


async def _may_view(datasette, actor, row: dict) -> bool:
    """Whether ``actor`` may view the app of ``row`` (a datatable or datasource)."""
    resource = AppResource.of(row["tenant"], row["app_slug"])
    return await datasette.allowed(action=VIEW_APP, resource=resource, actor=actor)


async def table_links(datasette, actor, database: str, table: str) -> list[dict] | None:
    service = _service(datasette, database)
    if actor is None or service is None:
        return None
    datatable = await service.managed_datatable(database, table)
    if datatable is None:
        return None
    if not await _may_view(datasette, actor, datatable):
        return None
    path = datatable_path(datatable["app_slug"], datatable["datasource_slug"], datatable["name"])
    return [
        {
            "href": datasette.urls.path(path),
            "label": "Data service: schema and history",
            "description": f'The Table Schema of datatable "{datatable["name"]}", '
            "its versions, migrations and imports",
        }
    ]


async def database_links(datasette, actor, database: str) -> list[dict] | None:
    service = _service(datasette, database)
    if actor is None or service is None:
        return None
    datasources = await cached_read(service, store.all_active_datasources)
    match = next((d for d in datasources if d["database_name"] == database), None)
    if match is None or not await _may_view(datasette, actor, match):
        return None
    return [
        {
            "href": datasette.urls.path(app_path(match["app_slug"])),
            "label": "Data service: app",
            "description": f'The data service app "{match["app_slug"]}" of this database',
        }
    ]
