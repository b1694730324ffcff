"""Handlers for /-/apps and /-/apps/{app}: list, create, read, update, delete, restore."""

from __future__ import annotations

from datasette.utils.asgi import Response

from ..permissions import CREATE_APP, MANAGE_APP, VIEW_APP
from ..service import apps, listing, stats
from . import requests, responses
from .context import Call
from .openapi import openapi_document

APP_KEYS = {"name", "slug", "description"}


def _manage(use_case):
    """A handler for an app use case that needs dataservice-manage-app (delete, restore)."""

    async def handler(call: Call):
        slug = call.vars["app"]
        await call.require(MANAGE_APP, slug)
        app = await use_case(call.service, call.tenant, call.actor_id, slug)
        return responses.ok(call.serializer.app(app))

    return handler


async def list_apps(call: Call):
    page = await listing.apps(
        call.service,
        call.tenant,
        include_inactive=await call.include_deleted(),
        next=call.request.args.get("_next"),
        size=requests.page_size(call.request),
    )
    visible = [app for app in page.items if await call.allowed(VIEW_APP, app["slug"])]
    items = [call.serializer.app(app) for app in visible]
    return responses.page(call.datasette, call.request, "apps", page, items)


async def create_app(call: Call):
    await call.require(CREATE_APP)
    body = await call.body(APP_KEYS)
    app = await apps.create_app(call.service, call.tenant, call.actor_id, body)
    return responses.ok(call.serializer.app(app), status=201)


async def read_app(call: Call):
    slug = call.vars["app"]
    await call.require(VIEW_APP, slug)
    app = await call.service.app(
        call.tenant, slug, include_inactive=await call.include_deleted(slug)
    )
    return responses.ok(call.serializer.app(app))


async def update_app(call: Call):
    slug = call.vars["app"]
    await call.require(MANAGE_APP, slug)
    body = await call.body({"name", "description"})
    app = await apps.update_app(call.service, call.tenant, call.actor_id, slug, body)
    return responses.ok(call.serializer.app(app))


delete_app = _manage(apps.delete_app)


restore_app = _manage(apps.restore_app)


async def app_stats(call: Call):
    slug = call.vars["app"]
    await call.require(VIEW_APP, slug)
    return responses.stats(await stats.app_stats(call.service, call.tenant, slug))


async def app_operations(call: Call):
    slug = call.vars["app"]
    await call.require(VIEW_APP, slug)
    page = await listing.operations(
        call.service,
        call.tenant,
        slug,
        include_inactive=await call.include_deleted(slug),
        next=call.request.args.get("_next"),
        size=requests.page_size(call.request),
    )
    items = [call.serializer.operation(op) for op in page.items]
    return responses.page(call.datasette, call.request, "operations", page, items)


async def openapi_json(call: Call):
    server = call.datasette.absolute_url(call.request, call.datasette.urls.path("/"))
    return Response.json(openapi_document(server.rstrip("/")))
