"""HTML pages for browsers: the same data as the JSON endpoints, in Datasette's look.

The pages render on the server; their forms call the JSON API with fetch()
(static/dataservice.js), so Datasette's CSRF protection and permissions apply as for any client.
"""

from __future__ import annotations

from datasette.utils.asgi import Response

from ..errors import DataServiceError
from ..permissions import CHANGE_SCHEMA, CREATE_APP, MANAGE_APP, VIEW_APP
from ..service import listing, migrations, stats
from .context import Call
from .serialize import timestamp

PAGE_SIZE = 1000
HISTORY_VERSIONS = 10  # the newest versions whose diffs the datatable page shows
FIELD_TYPES = (
    "string integer number boolean date datetime time year yearmonth duration "
    "object array list geopoint geojson any"
).split()


async def _render(call: Call, template: str, context: dict) -> Response:
    html = await call.datasette.render_template(template, context, request=call.request)
    return Response.html(html)


async def apps_page(call: Call):
    can_create = await call.allowed(CREATE_APP)
    page = await listing.apps(
        call.service, call.tenant, include_inactive=can_create, next=None, size=PAGE_SIZE
    )
    apps, deleted = [], []
    for app in page.items:
        if app["is_active"] and await call.allowed(VIEW_APP, app["slug"]):
            apps.append(call.serializer.app(app))
        elif not app["is_active"] and await call.allowed(MANAGE_APP, app["slug"]):
            deleted.append(call.serializer.app(app))
    return await _render(
        call,
        "dataservice_apps.html",
        {"apps": apps, "deleted_apps": deleted, "can_create": can_create},
    )


def bar_chart(tables: list[dict]) -> list[dict]:
    """Rows per table as bar widths in percent of the largest table; a table without stored
    rows to count (not materialized) says so rather than showing 0.

    >>> [(b["percent"], b["value"]) for b in bar_chart([
    ...     {"name": "a", "datasource": "d", "row_count": 5, "is_materialized": True},
    ...     {"name": "b", "datasource": "d", "row_count": None, "is_materialized": False}])]
    [(100.0, '5'), (0.0, 'not materialized')]
    """
    largest = max([t["row_count"] or 0 for t in tables] + [1])
    return [
        {
            "label": f"{t['datasource']}/{t['name']}",
            "value": (
                str(t["row_count"])
                if t["row_count"] is not None
                else "no table"
                if t["is_materialized"]
                else "not materialized"
            ),
            "percent": round(100.0 * (t["row_count"] or 0) / largest, 1),
        }
        for t in tables
    ]


async def app_page(call: Call):
    slug = call.vars["app"]
    await call.require(VIEW_APP, slug)
    can_manage = await call.allowed(MANAGE_APP, slug)
    app = await call.service.app(call.tenant, slug)
    datasources = await listing.datasources(
        call.service, call.tenant, slug, include_inactive=can_manage, next=None, size=PAGE_SIZE
    )
    datatables = await listing.datatables(
        call.service, call.tenant, slug, include_inactive=can_manage, next=None, size=PAGE_SIZE
    )
    app_stats = await stats.app_stats(call.service, call.tenant, slug)
    app_stats["last_operation_at"] = timestamp(app_stats["last_operation_at"])
    rows = {(t["datasource"], t["name"]): t["row_count"] for t in app_stats["tables"]}
    serializer = call.serializer
    sources = []
    for row in datasources.items:
        source = serializer.datasource(row)
        source["database_page_url"] = serializer.database_page_url(source["database"])
        sources.append(source)
    tables = []
    for row in datatables.items:
        table = serializer.datatable(row, call.service.data_resource(row))
        table["row_count"] = rows.get((table["datasource"], table["name"]))
        tables.append(table)
    return await _render(
        call,
        "dataservice_app.html",
        {
            "app": serializer.app(app),
            "datasources": [d for d in sources if d["is_active"]],
            "datatables": [t for t in tables if t["is_active"]],
            "deleted_datasources": [d for d in sources if not d["is_active"]],
            "deleted_datatables": [t for t in tables if not t["is_active"]],
            "stats": app_stats,
            "chart": bar_chart(app_stats["tables"]),
            "can_manage": can_manage,
        },
    )


async def _history(call: Call, datatable: dict) -> list[dict]:
    """The newest schema versions, each with the operations that made it."""
    app_slug, ds_slug, name = datatable["app"], datatable["datasource"], datatable["name"]
    current = datatable["schema_version"]
    history = []
    for version in range(current, max(1, current - HISTORY_VERSIONS), -1):
        try:
            operations = await migrations.diff_versions(
                call.service, call.tenant, app_slug, ds_slug, name, version - 1, version
            )
        except DataServiceError:  # a version that was not kept
            continue
        history.append({"version": version, "operations": [op.as_dict() for op in operations]})
    return history


async def datatable_page(call: Call):
    app_slug, ds_slug, name = call.vars["app"], call.vars["ds"], call.vars["table"]
    await call.require(VIEW_APP, app_slug)
    row = await call.service.datatable(call.tenant, app_slug, ds_slug, name)
    operations = await listing.operations(
        call.service,
        call.tenant,
        app_slug,
        datasource_slug=ds_slug,
        datatable_name=name,
        next=None,
        size=PAGE_SIZE,
    )
    datatable = call.serializer.datatable(row, call.service.data_resource(row))
    can_manage = await call.allowed(MANAGE_APP, app_slug)
    return await _render(
        call,
        "dataservice_datatable.html",
        {
            "datatable": datatable,
            "operations": [call.serializer.operation(op) for op in operations.items],
            "history": await _history(call, datatable),
            "can_manage": can_manage,
            "can_change_schema": can_manage and await call.allowed(CHANGE_SCHEMA, app_slug),
            "field_types": FIELD_TYPES,
        },
    )
