"""What every Postgres data plane view shares: the target, permissions, public URLs,
extras, converters and the response headers core sets."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from datasette.extras import ExtraScope, extra_names_from_request
from datasette.resources import DatabaseResource, TableResource
from datasette.utils import (
    md5_not_usedforsecurity,
    path_with_replaced_args,
    tilde_decode,
)
from datasette.utils.asgi import BadRequest, Forbidden, NotFound, Request, Response
from datasette.views.base import DatasetteError
from datasette.views.table_extras import TABLE_EXTRA_BUNDLES, table_extra_registry

from ...dataplane.postgres import execute, introspect
from ...dataplane.postgres.execute import Result
from ...errors import DataServiceError
from ...providers.postgres_storage import PostgresTarget
from ...service.core import service_for
from ..database_urls import Urls
from . import render, renderers
from .mount import PG_MOUNT

View = Callable[[Any, Any], Awaitable[Response]]
NO_FIELDS = introspect.Fields({})


def view(handler: View) -> View:
    """A data plane view: DataServiceErrors become Datasette errors (JSON or HTML page)."""

    @functools.wraps(handler)
    async def wrapped(datasette, request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response.text("Method not allowed", status=405)  # as core's table view
        try:
            return await handler(datasette, public_request(request))
        except DataServiceError as error:
            raise DatasetteError(str(error), status=error.status) from error

    return wrapped


def public_request(request) -> Request:
    """The request as its user sent it, before the mount re-pointed it (see mount.py): the
    path core's extras, renderers and plugin hooks see is the public one."""
    scope = request.scope
    if PG_MOUNT not in scope.get("path", ""):
        return request
    base = scope["path"][: scope["path"].index(PG_MOUNT)]
    public = dict(scope, path=base + scope["path"][len(base) + len(PG_MOUNT) :])
    raw = scope.get("raw_path")
    if raw is not None:
        mount = PG_MOUNT.encode()
        public["raw_path"] = raw.replace(mount, b"", 1)
    if scope.get("route_path"):
        public["route_path"] = public_path(request)
    return Request(public, request.receive, request.max_post_body_bytes)


def target_of(datasette, request) -> tuple[PostgresTarget, str]:
    name = tilde_decode(request.url_vars["database"])
    target = service_for(datasette).postgres_target(name)
    if target is None:
        raise NotFound("Database not found")
    return target, name


def table_name(request) -> str:
    return tilde_decode(request.url_vars["table"])


@dataclass
class Resolved:
    """What a table or row page is about: the database's target, the table, the format."""

    target: PostgresTarget
    database: str
    name: str
    format: str
    relation: introspect.Relation
    private: bool


async def resolve_relation(datasette, request) -> Resolved:
    """The table (or view) a table or row URL names, or 404; 403 if the actor may not see it."""
    target, database = target_of(datasette, request)
    name = table_name(request)
    format_ = request.url_vars.get("format") or "html"
    if not renderers.is_known(datasette, format_):
        raise NotFound(f"Invalid format: {format_}")
    relation = await introspect.cached_relation(
        service_for(datasette), lambda: execute.connection(target), target.schema, name
    )
    if relation is None:
        raise NotFound("Table not found")
    private = await table_visible(datasette, request, database, name)
    return Resolved(target, database, name, format_, relation, private)


def public_path(request) -> str:
    """The path a user sees (without base_url and without the mount)."""
    path = request.scope.get("route_path") or request.path
    return path[len(PG_MOUNT) :] if path.startswith(PG_MOUNT) else path


def url_with_args(datasette, request, args: dict[str, Any]) -> str:
    """Core's ``path_with_replaced_args`` on the public path, as an absolute URL."""
    path = path_with_replaced_args(request, args, path=public_path(request))
    return datasette.absolute_url(request, datasette.urls.path(path))


async def crumbs(datasette, request, database: str, table: str | None = None) -> list[dict]:
    """Core's breadcrumbs (home / database / table), each shown if the actor may see it."""
    urls, actor, items = Urls(datasette), request.actor, []
    if await datasette.allowed(action="view-instance", actor=actor):
        items.append({"href": datasette.urls.instance(), "label": "home"})
    resource = DatabaseResource(database=database)
    if await datasette.allowed(action="view-database", resource=resource, actor=actor):
        items.append({"href": urls.database(database), "label": database})
    if table is not None:
        resource = TableResource(database=database, table=table)
        if await datasette.allowed(action="view-table", resource=resource, actor=actor):
            items.append({"href": urls.table(database, table), "label": table})
    return items


def database_color(name: str) -> str:
    return md5_not_usedforsecurity(name)[:6]


async def visible(datasette, request, action: str, resource, message: str) -> bool:
    """Core's check_visibility: Forbidden if the actor may not; True if private."""
    allowed, private = await datasette.check_visibility(
        request.actor, action=action, resource=resource
    )
    if not allowed:
        raise Forbidden(message)
    return private


async def table_visible(datasette, request, database: str, table: str) -> bool:
    return await visible(
        datasette,
        request,
        "view-table",
        TableResource(database=database, table=table),
        "You do not have permission to view this table",
    )


async def can_execute_sql(datasette, request, database: str) -> bool:
    return await datasette.allowed(
        action="execute-sql", resource=DatabaseResource(database=database), actor=request.actor
    )


def finish(datasette, request, response: Response, private: bool) -> Response:
    """Core's cache and referrer headers on a table or row response."""
    if datasette.cache_headers and response.status == 200:
        if private:
            response.headers["Cache-Control"] = "private, no-store"
            response.headers["Vary"] = "Cookie"
        else:
            ttl = request.args.get("_ttl")
            if ttl is None or not ttl.isdigit():
                ttl = datasette.setting("default_cache_ttl")
            ttl = int(ttl)
            response.headers["Cache-Control"] = "no-cache" if ttl == 0 else f"max-age={ttl}"
    response.headers["Referrer-Policy"] = "no-referrer"
    if datasette.cors:
        from datasette.utils import add_cors_headers

        add_cors_headers(response.headers)
    return response


# Extras --------------------------------------------------------------------------------------


def requested_extras(request, scope: ExtraScope, validate: bool = True) -> set[str]:
    """The ``?_extra=`` names, validated and expanded exactly as core does (a set: core
    resolves them in its iteration order, so the JSON keys come in the same order)."""
    extras = extra_names_from_request(request)
    if validate:
        table_extra_registry.validate_requested(extras, scope)
    if scope is ExtraScope.TABLE:
        if any(k == "_facet" or k.startswith("_facet_") for k in request.args):
            extras.add("facet_results")
        if request.args.get("_shape") == "object":
            extras.add("primary_keys")
        if "count" in extras:
            extras.add("count_truncated")
        for key, values in TABLE_EXTRA_BUNDLES.items():
            if f"_{key}" in extras:
                extras.update(values)
            extras.discard(f"_{key}")
    return extras


@functools.cache
def public_extras(scope: ExtraScope) -> frozenset[str]:
    return frozenset(cls.key() for cls in table_extra_registry.public_classes_for_scope(scope))


async def resolve_extras(
    extras: set[str], scope: ExtraScope, values: dict[str, Callable[[], Any]]
) -> dict[str, Any]:
    """Each requested public extra from ``values`` (callables, maybe async), in core's
    order; a 400 for one this data plane does not offer."""
    public = public_extras(scope)
    resolved = {}
    for name in extras:
        if name not in public:
            continue
        if name not in values:
            raise BadRequest(f"_extra={name} is not available for Postgres-backed databases")
        value = values[name]()
        if hasattr(value, "__await__"):
            value = await value
        resolved[name] = value
    return resolved


async def table_metadata(datasette, database: str, table: str) -> dict[str, Any]:
    """Core's ``metadata`` extra for a table or row."""
    metadata = await datasette.get_resource_metadata(database, table)
    rows = await datasette.get_internal_database().execute(
        "SELECT column_name, value FROM metadata_columns WHERE database_name = ?"
        " AND resource_name = ? AND key = 'description'",
        [database, table],
    )
    metadata["columns"] = dict(rows)
    return metadata


# Values ------------------------------------------------------------------------------------


async def converters(
    datasette, database: str, relation: introspect.Relation, result: Result
) -> list[render.Converter | None]:
    """A converter for each column of a table or view page, from its datatable field."""
    by_relation = await introspect.catalog_fields(service_for(datasette), database)
    fields = by_relation.get(relation.name, NO_FIELDS)
    return [
        render.converter(
            oid,
            scale,
            fields.types.get(name),
            view=relation.is_view,
            document_order=fields.document_order if name == "data" else (),
        )
        for name, oid, scale in zip(result.columns, result.type_oids, result.scales, strict=True)
    ]


LOOKS_DEPEND_ON_SOURCE = {introspect.NUMERIC, introspect.JSON, introspect.JSONB}


async def query_converters(
    datasette, database: str, conn, result: Result
) -> list[render.Converter | None]:
    """Converters for a ``?sql=`` result: a column read straight from a table looks as that
    table shows it (its datatable field); a computed one as SQLite computes: JSON compact,
    a number as its literal reads."""
    wanted = [
        (i, result.ftables[i], result.ftablecols[i])
        for i, oid in enumerate(result.type_oids)
        if oid in LOOKS_DEPEND_ON_SOURCE and result.ftables and result.ftables[i]
    ]
    names = await introspect.column_sources(
        conn, [(t, n) for _, t, n in wanted], execute.time_limit(datasette)
    )
    sources = {i: names[(t, n)] for i, t, n in wanted if (t, n) in names}
    by_relation = await introspect.catalog_fields(service_for(datasette), database)
    out = []
    for i, (oid, scale) in enumerate(zip(result.type_oids, result.scales, strict=True)):
        if i not in sources:
            out.append(render.converter(oid, scale, computed=oid in LOOKS_DEPEND_ON_SOURCE))
            continue
        relname, attname, view = sources[i]
        fields = by_relation.get(relname, NO_FIELDS)
        field_type = fields.types.get(attname)
        out.append(
            render.converter(
                oid,
                scale,
                field_type or ("number" if oid == introspect.NUMERIC and not view else None),
                view=view,
                computed=view and field_type is None,
                document_order=fields.document_order if attname == "data" else (),
            )
        )
    return out


def rows_as_dicts(columns: list[str], rows: list[list]) -> list[dict[str, Any]]:
    return [dict(zip(columns, row, strict=True)) for row in rows]
