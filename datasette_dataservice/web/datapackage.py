"""Frictionless Data Packages over HTTP: export an app, import a package as a new app.

    GET  /-/apps/{app}/datapackage.json                        the descriptor, absolute CSV paths
    GET  /-/apps/{app}/datapackage.zip                         descriptor + data/*.csv, zipped
    GET  /-/apps/{app}/datasources/{ds}/datatables/{t}/data.csv  exactly the schema's fields
    POST /-/apps/import                                        a zip (application/zip) -> new app

A package upload may be larger than other request bodies: it is bounded by
``PACKAGE_BODY_FACTOR`` x ``max_body_bytes`` (100 MiB by default), and what it unzips to by
``UNZIPPED_FACTOR`` x that. It is spooled to a temporary file, never held in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile

from datasette.utils.asgi import AsgiStream, Response

from ..errors import DataServiceError
from ..permissions import CREATE_APP, VIEW_APP
from ..service import datapackage
from . import requests, responses, uploads
from .context import Call, endpoint
from .serialize import datatable_path

# The patterns of web/routes.py (which imports this module, so they cannot be imported here).
PREFIX = r"^/(?:-|api)/apps"
APP = r"/(?P<app>[^/]+?)"
TABLE = r"/datasources/(?P<ds>[^/]+?)/datatables/(?P<table>[^/]+?)"

PACKAGE_BODY_FACTOR = 10
UNZIPPED_FACTOR = 10
ZIP_TYPES = {"application/zip", "application/x-zip-compressed", "application/octet-stream"}
CHUNK_BYTES = 1 << 16


async def datapackage_json(call: Call):
    """The app as a Data Package descriptor whose resource paths are absolute CSV URLs."""
    app_slug = call.vars["app"]
    await call.require(VIEW_APP, app_slug)
    app, datatables = await datapackage.app_datatables(call.service, call.tenant, app_slug)

    def path_of(datatable: dict, _name: str) -> str:
        path = datatable_path(app_slug, datatable["datasource_slug"], datatable["name"])
        return call.serializer.url(path + "/data.csv")

    return Response.json(datapackage.package_descriptor(app, datatables, path_of))


async def datapackage_zip(call: Call):
    """The zipped package, built in a temporary file (memory stays flat), then streamed."""
    app_slug = call.vars["app"]
    await call.require(VIEW_APP, app_slug)
    handle, path = tempfile.mkstemp(suffix=".zip")
    os.close(handle)
    try:
        await datapackage.export_package(call.service, call.tenant, app_slug, path)
    except BaseException:
        os.unlink(path)
        raise
    return _FileResponse(
        path,
        "application/zip",
        {"content-disposition": f'attachment; filename="{app_slug}-datapackage.zip"'},
    )


async def data_csv(call: Call):
    """A datatable's rows as CSV: a header of field names, values as frictionless reads them."""
    app_slug, ds_slug, name = call.vars["app"], call.vars["ds"], call.vars["table"]
    await call.require(VIEW_APP, app_slug)
    datatable = await call.service.datatable(call.tenant, app_slug, ds_slug, name)

    async def stream(writer) -> None:
        async for chunk in datapackage.csv_text(call.service, datatable):
            await writer.write(chunk)

    return AsgiStream(
        stream,
        content_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'inline; filename="{name}.csv"'},
    )


async def import_package(call: Call):
    """``POST /-/apps/import``: the body is a zipped Data Package; it becomes a new app."""
    await call.require(CREATE_APP)
    content_type = (call.request.headers.get("content-type") or "").split(";")[0].strip()
    if content_type.lower() not in ZIP_TYPES:
        raise DataServiceError(
            "send the Data Package as a zip with Content-Type: application/zip", status=415
        )
    limit = PACKAGE_BODY_FACTOR * call.service.config.max_body_bytes
    length = call.request.headers.get("content-length") or ""
    if requests.DIGITS.fullmatch(length) and int(length) > limit:
        raise DataServiceError(f"the package is larger than {limit} bytes", status=413)
    args = call.request.args
    handle, path = tempfile.mkstemp(suffix=".zip")
    try:
        with os.fdopen(handle, "wb") as spool:
            size = 0
            async for chunk in uploads.body_chunks(call.receive):
                size += len(chunk)
                if size > limit:
                    raise DataServiceError(f"the package is larger than {limit} bytes", status=413)
                spool.write(chunk)
        result = await datapackage.import_package(
            call.service,
            call.tenant,
            call.actor_id,
            path,
            name=args.get("name"),
            slug=args.get("slug"),
            provider_type=args.get("provider_type", "flat_table"),
            max_uncompressed_bytes=UNZIPPED_FACTOR * limit,
        )
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
    serializer = call.serializer
    resources = [
        {
            **resource,
            "datatable": serializer.datatable(
                resource["datatable"], call.service.data_resource(resource["datatable"])
            ),
        }
        for resource in result["resources"]
    ]
    return responses.ok(
        {
            "app": serializer.app(result["app"]),
            "datasource": serializer.datasource(result["datasource"]),
            "resources": resources,
        },
        status=201,
    )


class _FileResponse:
    """Streams a temporary file, then deletes it."""

    def __init__(self, path: str, content_type: str, headers: dict[str, str]):
        self.path, self.content_type, self.headers = path, content_type, headers

    async def asgi_send(self, send) -> None:
        try:
            headers = {
                **self.headers,
                "content-type": self.content_type,
                "content-length": str(os.path.getsize(self.path)),
            }
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [[k.encode(), v.encode()] for k, v in headers.items()],
                }
            )
            with open(self.path, "rb") as data:
                while chunk := await asyncio.to_thread(data.read, CHUNK_BYTES):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            os.unlink(self.path)


ROUTES = [
    # Before the app route, which would read "/-/apps/import" as an app ("import" is a
    # reserved slug, so no app has it).
    (PREFIX + r"/import/?$", endpoint(post=import_package)),
    (PREFIX + APP + r"/datapackage\.json$", endpoint(get=datapackage_json)),
    (PREFIX + APP + r"/datapackage\.zip$", endpoint(get=datapackage_zip)),
    (PREFIX + APP + TABLE + r"/data\.csv$", endpoint(get=data_csv)),
]
