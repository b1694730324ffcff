"""``.csv`` of Postgres-backed tables, rows and queries, through core's own ``stream_csv``
(views/base.py): the same headings, ``{col}_label`` columns, ``_dl``, ``_header=off``,
``_trace``, ``max_csv_mb`` and error handling, so the bytes match core's.

Core streams (``?_stream=on``) by asking for page after page; here one server-side cursor
(dataplane/postgres/stream.py) reads every row in the page's order, a chunk per "page",
so memory stays bounded and a view needs no offsets. The cursor's connection goes back to
the pool when the response ends, however it ends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from datasette.utils import CustomRow
from datasette.utils.asgi import AsgiStream, Response
from datasette.views.base import stream_csv

from ...dataplane.postgres.stream import RowStream, without_limit
from ...dataplane.postgres.tablequery import SORT_ALIAS, TableQuery
from . import common, labels
from .render import Converter, rows_as_lists

Fetch = Callable[..., Awaitable[tuple[dict[str, Any], None, None]]]


def _rows(columns: list[str], values: list[list]) -> list:
    """Rows as core hands them to the CSV writer: values in column order; a row holding
    bytes also answers ``row[pk]`` (core links such cells to the row's blob)."""
    return [
        CustomRow(columns, zip(columns, row, strict=True)) if _has_bytes(row) else row
        for row in values
    ]


def _has_bytes(row: list) -> bool:
    return any(isinstance(value, bytes) for value in row)


async def _respond(datasette, request, database: str, fetch: Fetch, stream: RowStream | None):
    """Core's ``stream_csv``; the cursor closes when the body ends (or never starts)."""
    try:
        response = await stream_csv(datasette, fetch, request, database)
    except BaseException:
        if stream is not None:
            await stream.close()
        raise
    if stream is None or not isinstance(response, AsgiStream):
        if stream is not None:
            await stream.close()
        return response
    body = response.stream_fn

    async def stream_fn(writer) -> None:
        try:
            await body(writer)
        finally:
            await stream.close()

    response.stream_fn = stream_fn
    return response


async def table_csv(
    datasette, request, resolved: common.Resolved, query: TableQuery, limit_ms: int
) -> Response | AsgiStream:
    """``/db/table.csv``: the page (or with ``_stream``, every row) of ``query``."""
    target, database, name, relation = (
        resolved.target,
        resolved.database,
        resolved.name,
        resolved.relation,
    )
    # core streams page after page while there is a next one: after none with ``_size=0``
    streaming = bool(request.args.get("_stream")) and query.page_size != 0
    sql = without_limit(query.sql) if streaming else query.sql
    cursor = RowStream(target, sql, query.params, limit_ms)
    converters: list[Converter | None] | None = None
    pks = [] if relation.pks == ["rowid"] else relation.pks

    async def fetch(request, _next=None):
        nonlocal converters
        if _next is None:
            chunk = await cursor.open(reader=query.raw_where)
            if not streaming:  # one page: all of it, then the connection goes back
                while not cursor.exhausted:
                    chunk += await cursor.fetch()
                await cursor.close()
        else:
            chunk = await cursor.fetch()
        result = cursor.result
        assert result is not None
        if converters is None:
            converters = await common.converters(datasette, database, relation, result)
        values = rows_as_lists(chunk, converters)
        columns = list(result.columns)
        if SORT_ALIAS in columns:
            at = columns.index(SORT_ALIAS)
            columns.pop(at)
            for row in values:
                row.pop(at)
        if not streaming:
            values = values[: query.page_size]
        dicts = common.rows_as_dicts(columns, values)
        found = await labels.expand(
            datasette, request, target, database, name, dicts, columns, False, conn=cursor.conn
        )
        if found.expanded:
            values = [[row[c] for c in columns] for row in dicts]
        data = {
            "columns": query.columns,
            "rows": _rows(columns, values),
            "table": name,
            "primary_keys": pks,
            "expanded_columns": found.expanded,
            # any truthy token: stream_csv asks for more while there is more
            "next": None if cursor.exhausted else "more",
        }
        return data, None, None

    response = await _respond(datasette, request, database, fetch, cursor)
    return common.finish(datasette, request, response, resolved.private)


async def rows_csv(
    datasette, request, database: str, table: str | None, columns: list[str], rows: list
) -> Response | AsgiStream:
    """A row page's or a query's ``.csv``: rows already read (one page, as core's)."""

    async def fetch(request, _next=None):
        values = [[row[c] for c in columns] for row in rows]
        data: dict[str, Any] = {"columns": columns, "rows": _rows(columns, values)}
        if table is not None:
            data["table"] = table
        return data, None, None

    return await _respond(datasette, request, database, fetch, None)
