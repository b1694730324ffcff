"""Frictionless Data Packages: an app out as a package, a package in as a new app.

Export: one resource per active datatable, named ``{datasource}-{datatable}`` (lowercase),
its Table Schema with foreign keys naming resources, its rows as CSV written so frictionless
reads back the same values (see :mod:`..schema.csv_cells`), read page by page.

Import: a zip with ``datapackage.json`` and CSV files becomes a new app with one datasource
and one datatable per resource, created referenced-first, then loaded through the importer.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import zipfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from ..catalog import store
from ..errors import BadRequest, Conflict, DataServiceError
from ..schema.csv_cells import cell_writers
from ..schema.names import slug_problem, slugify
from . import audit, importer
from .apps import create_app, delete_app
from .core import DataService
from .datasources import create_datasource
from .datatables import create_datatable, table_spec
from .package_check import (
    BATCH_ROWS,
    PACKAGE_FILE,
    PackageResource,
    check_members,
    member_chunks,
    plan_resources,
    read_descriptor,
    validate_package_rows,
)
from .purge import purge_datatable

PAGE_ROWS = 1_000
DEFAULT_DATASOURCE = "data"

# Export ---------------------------------------------------------------------------------------


def resource_name(datatable: dict[str, Any]) -> str:
    """``{datasource}-{datatable}``, lowercase: a valid resource name, unique in the app
    (datasource slugs have no "_" and datatable names no "-", so the split is unambiguous)."""
    return f"{datatable['datasource_slug']}-{datatable['name'].lower()}"


async def app_datatables(service: DataService, tenant: str, app_slug: str):
    app = await service.app(tenant, app_slug)
    rows = await service.read(store.list_datatables, app["id"], include_inactive=False)
    return app, rows


def package_descriptor(
    app: dict[str, Any], datatables: list[dict[str, Any]], path_of: Callable[[dict, str], str]
) -> dict[str, Any]:
    """The Data Package descriptor; ``path_of(datatable, resource name)`` gives each path."""
    names = {(t["datasource_id"], t["name"].lower()): resource_name(t) for t in datatables}
    resources = []
    for datatable in datatables:
        schema = json.loads(datatable["json_schema"])
        for fk in schema.get("foreignKeys") or []:
            reference = fk.get("reference") or {}
            if reference.get("resource"):
                key = (datatable["datasource_id"], reference["resource"].lower())
                reference["resource"] = names.get(key, reference["resource"])
        name = resource_name(datatable)
        resource = {
            "name": name,
            "path": path_of(datatable, name),
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": schema,
            "dataservice": {
                "datasource": datatable["datasource_slug"],
                "datatable": datatable["name"],
            },
        }
        if datatable["description"]:
            resource["description"] = datatable["description"]
        resources.append(resource)
    return {
        "name": app["slug"],
        "title": app["name"],
        "description": app["description"] or "",
        "resources": resources,
    }


async def stored_rows(service: DataService, datatable: dict[str, Any]) -> AsyncIterator[list]:
    """Pages of rows (values in field order), read a page at a time in insertion order."""
    if not datatable["is_materialized"]:
        return
    spec = table_spec(datatable)
    names = [f["name"] for f in spec.fields]
    async for page in service.provider_for(datatable).read_pages(spec, names, PAGE_ROWS):
        yield page


async def csv_text(service: DataService, datatable: dict[str, Any]) -> AsyncIterator[str]:
    """The datatable as CSV text, in chunks: the header, then a chunk per page of rows."""
    schema = json.loads(datatable["json_schema"])
    writers = cell_writers(schema)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([f["name"] for f in schema["fields"]])
    yield buffer.getvalue()
    async for page in stored_rows(service, datatable):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(
            [write(value) for write, value in zip(writers, row, strict=True)] for row in page
        )
        yield buffer.getvalue()


async def export_package(
    service: DataService, tenant: str, app_slug: str, out_path: str | Path
) -> dict[str, Any]:
    """Write the app as a zipped Data Package (``datapackage.json``, ``data/*.csv``)."""
    app, datatables = await app_datatables(service, tenant, app_slug)
    descriptor = package_descriptor(app, datatables, lambda _, name: f"data/{name}.csv")
    with zipfile.ZipFile(out_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        text = json.dumps(descriptor, indent=2, ensure_ascii=False)
        archive.writestr(PACKAGE_FILE, text + "\n")
        for datatable, resource in zip(datatables, descriptor["resources"], strict=True):
            with archive.open(resource["path"], "w", force_zip64=True) as data:
                async for chunk in csv_text(service, datatable):
                    await asyncio.to_thread(data.write, chunk.encode("utf-8"))
    return descriptor


# Import ---------------------------------------------------------------------------------------


class _LoadFailed(Exception):
    def __init__(self, resource: PackageResource, status: importer.ImportStatus):
        super().__init__(status.error)
        self.resource, self.status = resource, status


async def import_package(
    service: DataService,
    tenant: str,
    actor: str | None,
    zip_path: str | Path,
    *,
    name: str | None = None,
    slug: str | None = None,
    provider_type: str = "flat_table",
    max_uncompressed_bytes: int | None = None,
) -> dict[str, Any]:
    """Create an app from a zipped Data Package; returns its app, datasource and resources.

    Everything is checked before anything is created: the descriptor, every schema, the
    foreign keys between resources (their order, no cycles) and every row, with the same
    row validator the imports use (and what one import batch cannot see: keys unique across
    batches, references to rows of later batches). A package that fails is refused whole
    with its report, and the catalog never saw it. Creating and loading can still fail
    afterwards (the engine refusing a schema, a crash, a concurrent write); then what was
    created is undone: the datatables are purged (tables dropped, catalog rows gone) and
    the app and datasource are soft-deleted. They are not erased: the audit trail is
    append-only and refers to them by id, and an erased app's id would be reused by the
    next app, which would inherit those operations.
    """
    service.provider_class(provider_type, "sqlite")  # an unknown provider is refused first
    if slug is not None:
        problem = slug_problem(slug, "app")
        if problem:
            raise BadRequest(problem)
        if await service.read(store.slug_exists, "apps", "tenant", tenant, slug):
            raise Conflict(f'An app with slug "{slug}" already exists')
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as error:
        raise BadRequest(f"the upload is not a zip file: {error}") from error
    with archive:
        check_members(archive, max_uncompressed_bytes)
        descriptor, base = read_descriptor(archive)
        resources = plan_resources(archive, descriptor, base, provider_type)
        report = await asyncio.to_thread(validate_package_rows, archive, resources)
        if not report["valid"]:
            invalid = [t["name"] for t in report["tasks"] if not t["valid"]]
            raise DataServiceError(
                f"invalid rows in resource(s) {', '.join(invalid)}: nothing was created",
                status=400,
                report=report,
            )
        app_name = name or _text(descriptor.get("title")) or _text(descriptor.get("name"))
        body = {
            "name": app_name or "Imported data package",
            "slug": slug
            or await _free_slug(service, tenant, name or descriptor.get("name"), app_name),
            "description": _text(descriptor.get("description")) or "",
        }
        datasource = {
            "name": _datasource_slug(descriptor),
            "slug": _datasource_slug(descriptor),
            "provider_type": provider_type,
        }
        return await _create(service, tenant, actor, archive, resources, body, datasource)


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


async def _free_slug(service, tenant: str, wanted: Any, app_name: str | None) -> str:
    """From ``?name=`` if given, else the package name: unique, like a derived app slug."""
    base = slugify(_text(wanted) or "") or slugify(app_name or "") or "package"
    if slug_problem(base, "app"):
        base = "package"
    candidate, n = base, 2
    while await service.read(store.slug_exists, "apps", "tenant", tenant, candidate):
        candidate, n = f"{base[: 50 - len(str(n)) - 1]}-{n}", n + 1
    return candidate


def _datasource_slug(descriptor: dict) -> str:
    """The datasource our own export names on every resource, else "data"."""
    named = {
        (r.get("dataservice") or {}).get("datasource") if isinstance(r, dict) else None
        for r in descriptor["resources"]
    }
    (slug,) = named if len(named) == 1 else (None,)
    if isinstance(slug, str) and slug_problem(slug, "datasource") is None:
        return slug
    return DEFAULT_DATASOURCE


async def _create(service, tenant, actor, archive, resources, body, ds_body) -> dict:
    app = await create_app(service, tenant, actor, body)
    created: list[dict] = []
    ds_slug = ds_body["slug"]
    try:
        datasource = await create_datasource(service, tenant, actor, app["slug"], ds_body)
        for resource in resources:
            definition = {
                "name": resource.datatable,
                "description": resource.description,
                "json_schema": resource.schema,
            }
            created.append(
                await create_datatable(service, tenant, actor, app["slug"], ds_slug, definition)
            )
        loaded = []
        for resource, datatable in zip(resources, created, strict=True):
            loaded.append(
                (resource.position, await _load(service, actor, archive, resource, datatable))
            )
        loaded = [result for _, result in sorted(loaded, key=lambda item: item[0])]
    except BaseException as error:
        await _undo(service, tenant, actor, app, created)
        if isinstance(error, _LoadFailed):
            raise DataServiceError(
                f'resource "{error.resource.name}": {error.status.error}; nothing was kept',
                status=400,
                report=error.status.report(),
            ) from error
        raise
    details = {"resources": [{k: r[k] for k in ("name", "rows_written")} for r in loaded]}
    await service.write(
        lambda conn: audit.record(
            conn,
            tenant=tenant,
            app_id=app["id"],
            datasource_id=datasource["id"],
            operation="import_package",
            target_type="app",
            target=app["slug"],
            actor=actor,
            details=details,
        )
    )
    app = await service.app(tenant, app["slug"])
    datasource = await service.datasource(tenant, app["slug"], ds_slug)
    return {"app": app, "datasource": datasource, "resources": loaded}


async def _load(service, actor, archive, resource: PackageResource, datatable: dict) -> dict:
    # The importer checks self references against stored rows and its own batch, so a table
    # that references itself loads in one batch (its rows were all validated above).
    self_reference = any(
        not fk["reference"]["resource"] for fk in resource.schema.get("foreignKeys") or []
    )
    batch_size = max(BATCH_ROWS, resource.rows + 1) if self_reference else BATCH_ROWS
    status = await importer.import_rows(
        service,
        datatable,
        _chunks(archive, resource.member),
        format=resource.format,
        actor=actor,
        batch_size=batch_size,
    )
    if status.state != "done":
        raise _LoadFailed(resource, status)
    return {
        "name": resource.name,
        "datatable": datatable,
        "rows_written": status.rows_written,
        "report": status.report(),
    }


async def _chunks(archive: zipfile.ZipFile, member: str) -> AsyncIterator[bytes]:
    chunks = member_chunks(archive, member)
    try:
        while chunk := await asyncio.to_thread(next, chunks, b""):
            yield chunk
    finally:
        chunks.close()  # the importer may stop reading early


async def _undo(service, tenant, actor, app: dict, created: list[dict]) -> None:
    """Best effort, newest first (a table is purged before the tables it references)."""
    for datatable in reversed(created):
        try:
            await purge_datatable(
                service,
                tenant,
                actor,
                app["slug"],
                datatable["datasource_slug"],
                datatable["name"],
                datatable["name"],
            )
        except Exception:  # noqa: BLE001 - keep undoing the rest
            pass
    try:
        await delete_app(service, tenant, actor, app["slug"])
    except Exception:  # noqa: BLE001
        pass
