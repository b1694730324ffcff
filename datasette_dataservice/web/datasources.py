"""Handlers for /-/apps/{app}/datasources and /-/apps/{app}/datasources/{ds}."""

from __future__ import annotations

from ..permissions import MANAGE_APP, VIEW_APP
from ..service import datasources, listing, stats
from . import requests, responses
from .context import Call

DATASOURCE_KEYS = {"name", "slug", "description", "provider_type", "provider_config"}


def _manage(use_case):
    """A handler for a datasource use case that needs dataservice-manage-app (delete, restore)."""

    async def handler(call: Call):
        app_slug, slug = call.vars["app"], call.vars["ds"]
        await call.require(MANAGE_APP, app_slug)
        row = await use_case(call.service, call.tenant, call.actor_id, app_slug, slug)
        return responses.ok(call.serializer.datasource(row))

    return handler


async def list_datasources(call: Call):
    app_slug = call.vars["app"]
    await call.require(VIEW_APP, app_slug)
    page = await listing.datasources(
        call.service,
        call.tenant,
        app_slug,
        include_inactive=await call.include_deleted(app_slug),
        next=call.request.args.get("_next"),
        size=requests.page_size(call.request),
    )
    items = [call.serializer.datasource(row) for row in page.items]
    return responses.page(call.datasette, call.request, "datasources", page, items)


async def create_datasource(call: Call):
    app_slug = call.vars["app"]
    await call.require(MANAGE_APP, app_slug)
    body = await call.body(DATASOURCE_KEYS)
    row = await datasources.create_datasource(
        call.service, call.tenant, call.actor_id, app_slug, body
    )
    return responses.ok(call.serializer.datasource(row), status=201)


async def read_datasource(call: Call):
    app_slug, slug = call.vars["app"], call.vars["ds"]
    await call.require(VIEW_APP, app_slug)
    row = await call.service.datasource(
        call.tenant, app_slug, slug, include_inactive=await call.include_deleted(app_slug)
    )
    return responses.ok(call.serializer.datasource(row))


async def update_datasource(call: Call):
    app_slug, slug = call.vars["app"], call.vars["ds"]
    await call.require(MANAGE_APP, app_slug)
    body = await call.body(DATASOURCE_KEYS)
    row = await datasources.update_datasource(
        call.service, call.tenant, call.actor_id, app_slug, slug, body
    )
    return responses.ok(call.serializer.datasource(row))


delete_datasource = _manage(datasources.delete_datasource)


restore_datasource = _manage(datasources.restore_datasource)


async def datasource_stats(call: Call):
    app_slug, slug = call.vars["app"], call.vars["ds"]
    await call.require(VIEW_APP, app_slug)
    return responses.stats(await stats.datasource_stats(call.service, call.tenant, app_slug, slug))
