"""Output formats from plugins (``register_output_renderer``) on Postgres-backed pages: the
renderer core would call for ``/db/table.{ext}``, ``/db/table/pk.{ext}`` or
``/db/-/query.{ext}``, called with the same arguments (``call_with_supported_arguments``),
its answer turned into a response as core does (views/table.py, row.py, database.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from datasette.utils import CustomRow, call_with_supported_arguments, path_with_format
from datasette.utils.asgi import NotFound, Request, Response

from . import common
from .mount import PG_MOUNT

BUILT_IN = ("html", "json", "csv")


def is_known(datasette, format_: str) -> bool:
    """Whether a page can answer in ``format_``: core's own formats or a plugin's."""
    return format_ in BUILT_IN or format_ in datasette.renderers


def is_plugin_format(datasette, format_: str) -> bool:
    return format_ not in BUILT_IN and format_ in datasette.renderers


def rows_like_sqlite(columns: list[str], rows: list[dict[str, Any]]) -> list[CustomRow]:
    """Rows as core passes them to a renderer: ``sqlite3.Row``-like (values when iterated,
    ``row["col"]`` and ``row[0]`` both work, ``keys()``)."""
    return [CustomRow(columns, ((c, row[c]) for c in columns)) for row in rows]


def public_request(request) -> Request:
    """The request as core's views see it: at its public path, not the internal mount's."""
    scope = request.scope
    path = common.public_path(request)
    base = scope["path"][: -len(path)] if scope["path"].endswith(path) else ""
    base = base[: -len(PG_MOUNT)] if base.endswith(PG_MOUNT) else base
    raw = (scope.get("raw_path") or scope["path"].encode()).replace(PG_MOUNT.encode(), b"", 1)
    return Request(dict(scope, path=base + path, raw_path=raw, route_path=path), request.receive)


async def render(
    datasette,
    request,
    format_: str,
    *,
    columns: list[str],
    rows: list[dict[str, Any]],
    sql: str | None,
    database: str,
    table: str | None,
    view_name: str,
    data: dict[str, Any],
    truncated: bool = False,
    error: str | None = None,
    query_name: str | None = None,
) -> Response:
    request = public_request(request)
    like_sqlite = rows_like_sqlite(columns, rows)
    if view_name == "row" or table is None:  # core's row and query data hold its rows too
        data = {**data, "rows": like_sqlite}
    result = call_with_supported_arguments(
        datasette.renderers[format_][0],
        datasette=datasette,
        columns=columns,
        rows=like_sqlite,
        sql=sql,
        query_name=query_name,
        database=database,
        table=table,
        request=request,
        view_name=view_name,
        truncated=truncated,
        error=error,
        # These will be deprecated in Datasette 1.0:
        args=request.args,
        data=data,
    )
    if asyncio.iscoroutine(result):
        result = await result
    if result is None:
        raise NotFound("No data")
    if isinstance(result, dict):
        return Response(
            body=result.get("body"),
            status=result.get("status_code") or 200,
            content_type=result.get("content_type", "text/plain"),
            headers=result.get("headers"),
        )
    if isinstance(result, Response):
        return result
    raise TypeError(f"{result} should be dict or Response")


async def links(
    datasette,
    request,
    *,
    columns: list[str],
    rows: list[dict[str, Any]],
    sql: str | None,
    database: str,
    table: str | None,
    view_name: str,
    query_name: str | None = None,
    extra_qs: dict[str, str] | None = None,
) -> dict[str, str]:
    """The "This data as" links of a row or query page: each renderer whose ``can_render``
    says yes, as core's row and query views list them."""
    out = {}
    for key, (_, can_render) in datasette.renderers.items():
        it_can_render = call_with_supported_arguments(
            can_render,
            datasette=datasette,
            columns=columns,
            rows=rows_like_sqlite(columns, rows),
            sql=sql,
            query_name=query_name,
            database=database,
            table=table,
            request=public_request(request),
            view_name=view_name,
        )
        if asyncio.iscoroutine(it_can_render):
            it_can_render = await it_can_render
        if it_can_render:
            out[key] = datasette.urls.path(
                path_with_format(
                    request=request,
                    path=common.public_path(request),
                    format=key,
                    extra_qs=extra_qs or {},
                )
            )
    return out
