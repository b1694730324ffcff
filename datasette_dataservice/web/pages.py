"""HTML pages for browsers: the same data as the JSON endpoints, in Datasette's look."""

from __future__ import annotations

from datasette.utils.asgi import Response

from ..permissions import CREATE_APP, MANAGE_APP, VIEW_APP
from ..service import listing
from .context import Call

PAGE_SIZE = 1000


async def _render(call: Call, template: str, context: dict) -> Response:
    html = await call.datasette.render_template(template, context, request=call.request)
    return Response.html(html)


async def apps_page(call: Call):
    page = await listing.apps(
        call.service, call.tenant, include_inactive=False, next=None, size=PAGE_SIZE
    )
    apps = [
        call.serializer.app(app) for app in page.items if await call.allowed(VIEW_APP, app["slug"])
    ]
    return await _render(
        call,
        "dataservice_apps.html",
        {"apps": apps, "can_create": await call.allowed(CREATE_APP)},
    )


async def app_page(call: Call):
    slug = call.vars["app"]
    await call.require(VIEW_APP, slug)
    app = await call.service.app(call.tenant, slug)
    datasources = await listing.datasources(
        call.service, call.tenant, slug, include_inactive=False, next=None, size=PAGE_SIZE
    )
    datatables = await listing.datatables(
        call.service, call.tenant, slug, include_inactive=False, next=None, size=PAGE_SIZE
    )
    serializer = call.serializer
    return await _render(
        call,
        "dataservice_app.html",
        {
            "app": serializer.app(app),
            "datasources": [serializer.datasource(d) for d in datasources.items],
            "datatables": [
                serializer.datatable(t, call.service.data_resource(t)) for t in datatables.items
            ],
            "can_manage": await call.allowed(MANAGE_APP, slug),
        },
    )


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
    return await _render(
        call,
        "dataservice_datatable.html",
        {
            "datatable": call.serializer.datatable(row, call.service.data_resource(row)),
            "operations": [call.serializer.operation(op) for op in operations.items],
        },
    )
