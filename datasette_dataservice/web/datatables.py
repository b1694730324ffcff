"""Handlers for datatables: per datasource, across an app, their schemas and operations."""

from __future__ import annotations

from datasette.utils.asgi import Response

from ..errors import BadRequest, DataServiceError
from ..permissions import CHANGE_SCHEMA, MANAGE_APP, PURGE, VIEW_APP
from ..service import (
    datatables,
    import_progress,
    importer,
    listing,
    migrations,
    purge,
    softdelete,
    stats,
    writes,
)
from . import requests, responses, uploads
from .context import Call

CREATE_KEYS = {"name", "description", "json_schema", "materialize"}
UPDATE_KEYS = {"name", "description", "json_schema", "renames", "schema_hash", "on_invalid"}
PLAN_KEYS = {"json_schema", "renames"}


def _path(call: Call) -> tuple[str, str, str]:
    return call.vars["app"], call.vars["ds"], call.vars["table"]


def _manage(use_case):
    """A handler for a datatable use case that needs dataservice-manage-app and answers
    with the datatable (delete, restore, materialize)."""

    async def handler(call: Call):
        app_slug, ds_slug, name = _path(call)
        await call.require(MANAGE_APP, app_slug)
        row = await use_case(call.service, call.tenant, call.actor_id, app_slug, ds_slug, name)
        return responses.ok(_serialize(call, row))

    return handler


def _serialize(call: Call, row: dict) -> dict:
    return call.serializer.datatable(row, call.service.data_resource(row))


async def _list(call: Call, datasource_slug: str | None, is_materialized: bool | None):
    app_slug = call.vars["app"]
    await call.require(VIEW_APP, app_slug)
    page = await listing.datatables(
        call.service,
        call.tenant,
        app_slug,
        datasource_slug=datasource_slug,
        is_materialized=is_materialized,
        include_inactive=await call.include_deleted(app_slug),
        next=call.request.args.get("_next"),
        size=requests.page_size(call.request),
    )
    items = [_serialize(call, row) for row in page.items]
    return responses.page(call.datasette, call.request, "datatables", page, items)


async def list_datatables(call: Call):
    return await _list(call, call.vars["ds"], requests.flag(call.request, "is_materialized"))


async def list_app_datatables(call: Call):
    """``GET /-/apps/{app}/datatables.json[?datasource=&is_materialized=]``"""
    return await _list(
        call,
        call.request.args.get("datasource"),
        requests.flag(call.request, "is_materialized"),
    )


async def create_datatable(call: Call):
    app_slug, ds_slug = call.vars["app"], call.vars["ds"]
    await call.require(MANAGE_APP, app_slug)
    body = await call.body(CREATE_KEYS)
    row = await datatables.create_datatable(
        call.service, call.tenant, call.actor_id, app_slug, ds_slug, body
    )
    return responses.ok(_serialize(call, row), status=201)


async def read_datatable(call: Call):
    app_slug, ds_slug, name = _path(call)
    await call.require(VIEW_APP, app_slug)
    row = await call.service.datatable(
        call.tenant, app_slug, ds_slug, name, include_inactive=await call.include_deleted(app_slug)
    )
    return responses.ok(_serialize(call, row))


async def update_datatable(call: Call):
    """PUT/PATCH: name and description, or a schema change (PATCH merges into the schema)."""
    app_slug, ds_slug, name = _path(call)
    await call.require(MANAGE_APP, app_slug)
    body = await call.body(UPDATE_KEYS)
    if not {"json_schema", "renames", "on_invalid", "schema_hash"} & set(body):
        row = await datatables.update_datatable(
            call.service, call.tenant, call.actor_id, app_slug, ds_slug, name, body
        )
        return responses.ok(_serialize(call, row))
    await call.require(CHANGE_SCHEMA, app_slug)
    if "name" in body and body["name"] != name:
        raise BadRequest('rename the datatable in its own request, without "json_schema"')
    row = await migrations.change_schema(
        call.service,
        call.tenant,
        call.actor_id,
        app_slug,
        ds_slug,
        name,
        body,
        partial=call.request.method == "PATCH",
        expected_hash=_expected_hash(call, body),
    )
    return responses.ok(_serialize(call, row))


def _expected_hash(call: Call, body: dict) -> str | None:
    """From ``If-Match`` (an ETag, quotes optional) or the body's ``schema_hash``."""
    header = call.request.headers.get("if-match")
    if header:
        return header.strip().removeprefix("W/").strip('"')
    value = body.get("schema_hash")
    if value is not None and not isinstance(value, str):
        raise BadRequest('"schema_hash" must be the string the datatable was read with')
    return value


async def plan_schema_change(call: Call):
    """The dry run: operations, SQL, and the rows that would fail. Nothing changes."""
    app_slug, ds_slug, name = _path(call)
    await call.require(VIEW_APP, app_slug)
    await call.require(CHANGE_SCHEMA, app_slug)  # it scans every row of the table
    body = await call.body(PLAN_KEYS)
    plan = await migrations.plan_schema_change(
        call.service, call.tenant, app_slug, ds_slug, name, body
    )
    return responses.ok(plan)


async def schema_diff(call: Call):
    app_slug, ds_slug, name = _path(call)
    await call.require(VIEW_APP, app_slug)
    await call.service.datatable(call.tenant, app_slug, ds_slug, name)  # 404 before 400
    versions = [requests.optional_int(call.request, key) for key in ("from", "to")]
    if None in versions:
        raise BadRequest('"from" and "to" are required: two schema version numbers')
    operations = await migrations.diff_versions(
        call.service, call.tenant, app_slug, ds_slug, name, *versions
    )
    return responses.ok(
        {"from": versions[0], "to": versions[1], "operations": [op.as_dict() for op in operations]}
    )


async def delete_datatable(call: Call):
    """Soft delete; ``?purge=true&confirm={name}`` drops the table for good."""
    app_slug, ds_slug, name = _path(call)
    if requests.flag(call.request, "purge"):
        await call.require(PURGE, app_slug)
        result = await purge.purge_datatable(
            call.service,
            call.tenant,
            call.actor_id,
            app_slug,
            ds_slug,
            name,
            call.request.args.get("confirm"),
        )
        return responses.ok(result)
    return await _manage(softdelete.delete_datatable)(call)


restore_datatable = _manage(softdelete.restore_datatable)


materialize_datatable = _manage(datatables.materialize_datatable)


async def read_schema(call: Call):
    """The Table Schema alone, as a descriptor file would hold it."""
    app_slug, ds_slug, name = _path(call)
    await call.require(VIEW_APP, app_slug)
    schema = await datatables.schema_of(
        call.service,
        call.tenant,
        app_slug,
        ds_slug,
        name,
        version=requests.optional_int(call.request, "version"),
    )
    return Response.json(schema)


async def datatable_operations(call: Call):
    app_slug, ds_slug, name = _path(call)
    await call.require(VIEW_APP, app_slug)
    page = await listing.operations(
        call.service,
        call.tenant,
        app_slug,
        datasource_slug=ds_slug,
        datatable_name=name,
        include_inactive=await call.include_deleted(app_slug),
        next=call.request.args.get("_next"),
        size=requests.page_size(call.request),
    )
    items = [call.serializer.operation(op) for op in page.items]
    return responses.page(call.datasette, call.request, "operations", page, items)


async def datatables_stats(call: Call):
    app_slug = call.vars["app"]
    await call.require(VIEW_APP, app_slug)
    return responses.stats(await stats.datatables_stats(call.service, call.tenant, app_slug))


async def validate_rows(call: Call):
    """Validate rows without writing: a JSON body ``{"rows": [...]}`` or a CSV/TSV upload."""
    app_slug, ds_slug, name = _path(call)
    await call.require(VIEW_APP, app_slug)
    datatable = await call.service.datatable(call.tenant, app_slug, ds_slug, name)
    upload = uploads.format_of(call.request)
    if upload in ("csv", "tsv"):
        body = await requests.body_bytes(call.request, call.service.config.max_body_bytes)
        report = await writes.validate_table(datatable, uploads.table_of(body, upload))
    else:
        body = await call.body({"row", "rows"})
        report = await writes.validate_rows(call.service, datatable, uploads.rows_of(body))
    return responses.ok({"valid": report["valid"], "report": report})


async def import_rows(call: Call):
    """Stream an upload (CSV, TSV, JSON array, NDJSON) into the datatable, validated."""
    app_slug, ds_slug, name = _path(call)
    await call.require(MANAGE_APP, app_slug)
    datatable = await call.service.datatable(call.tenant, app_slug, ds_slug, name)
    args = call.request.args
    batch_size = requests.optional_int(call.request, "batch_size") or 10_000
    status = await importer.import_rows(
        call.service,
        datatable,
        uploads.body_chunks(call.receive),
        format=uploads.format_of(call.request) or "",
        actor=call.actor_id,
        mode=args.get("mode", "insert"),
        on_invalid=args.get("on_invalid", "refuse"),
        batch_size=min(batch_size, 100_000),
    )
    body = status.as_dict()
    if status.state == "done":
        return responses.ok(body, status=201)
    error = DataServiceError(status.error or "the import failed", status=400, report=body["report"])
    return responses.error(error)


async def import_status(call: Call):
    app_slug, ds_slug, name = _path(call)
    await call.require(VIEW_APP, app_slug)
    datatable = await call.service.datatable(call.tenant, app_slug, ds_slug, name)
    status = await import_progress.import_status(
        call.service, datatable["id"], call.vars["import_id"]
    )
    if status is None:
        raise DataServiceError(f'Import "{call.vars["import_id"]}" not found', status=404)
    return responses.ok(status.as_dict())
