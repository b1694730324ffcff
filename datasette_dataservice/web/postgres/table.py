"""``/db/table(.json)`` of a Postgres-backed table or view: core's table view contract."""

from __future__ import annotations

import time
from typing import Any

import psycopg
from datasette.extras import ExtraScope
from datasette.filters import Filters
from datasette.resources import TableResource
from datasette.utils import filters_should_redirect, path_with_added_args, tilde_encode
from datasette.utils.asgi import Response
from datasette.views.base import DatasetteError

from ...dataplane.boolean_filters import Readings
from ...dataplane.filter_values import checked_arguments, refuse_nul
from ...dataplane.postgres import execute, filters, introspect, tablequery
from ...dataplane.postgres.tablequery import SORT_ALIAS, TableQuery, shown_sql
from ...dataplane.postgres.through import resolve_throughs
from ...dataplane.through import requested_throughs
from ...service.core import service_for
from ..core_filters import boolean_readings
from ..json_output import render_json
from . import common, csv_export, facets, labels, pages, renderers
from . import extras as blocks


def _redirect(datasette, request) -> Response | None:
    """Core's redirects for the filter form (``_filter_column``, ``_sort_by_desc``)."""
    args: Any = filters_should_redirect(request.args)
    if not args and "_sort_by_desc" in request.args:
        args = {"_sort_desc": request.args.get("_sort"), "_sort_by_desc": None, "_sort": None}
    if not args:
        return None
    path = datasette.urls.path(
        path_with_added_args(request, args, path=common.public_path(request))
    )
    response = Response.redirect(path)
    response.headers["Link"] = f"<{path}>; rel=preload"
    return response


def page_size_of(datasette, request) -> int:
    """The page size core's row truncation compares with (before validation)."""
    size = request.args.get("_size")
    if size == "max":
        return datasette.max_returned_rows
    return int(size) if size and size.isdigit() else datasette.page_size


def fetch_cap(datasette, size: int) -> int:
    """How many rows core lets a table query return (database.py's truncation)."""
    cap = datasette.max_returned_rows
    return cap + 1 if cap == size else cap


def next_page(
    datasette, request, relation, query: TableQuery, rows, sort_values: list
) -> tuple[str | None, str | None]:
    """Core's ``next`` token and ``next_url`` (views/table.py ``_next_value_and_url``)."""
    size = query.page_size
    if not 0 < size < len(rows):
        return None, None
    keyset = query.offset is None and bool(relation.pks) and not relation.is_view
    if not keyset:
        token = str(int(request.args.get("_next") or 0) + size)
        return token, common.url_with_args(datasette, request, {"_next": token})
    last = rows[-2]
    token = ",".join(tilde_encode(str(last[pk])) for pk in relation.pks)
    args = {"_next": token}
    if query.sort_column:
        prefix = sort_values[-2] if sort_values else last[query.sort_column]
        token = f"{'$null' if prefix is None else tilde_encode(str(prefix))},{token}"
        args = {"_next": token}
        args["_sort" if query.sort else "_sort_desc"] = query.sort_column
    return token, common.url_with_args(datasette, request, args)


async def run(conn, target, query: TableQuery, sql: str, params, limit_ms: int) -> execute.Result:
    """The plugin's own SQL in one round trip; with ``?_where=`` SQL, as a user's query:
    one statement, in a READ ONLY transaction."""
    if not query.raw_where:
        (result,) = await execute.read(conn, [(sql, params)], limit_ms, shown=shown_sql(sql))
        return result
    try:  # no more rows than the page's LIMIT asks for, even if the SQL lost it (a comment)
        cap = query.page_size + 1
        result, _ = await execute.run_user_sql(target, sql, params, limit_ms, cap)
    except psycopg.Error as error:
        raise DatasetteError(execute.message_of(error), title="Invalid SQL", status=400) from None
    return result


async def count_rows(conn, target, query: TableQuery, limit_ms: int) -> int | None:
    try:
        result = await run(conn, target, query, query.count_sql, query.count_params, limit_ms)
    except DatasetteError as error:
        if error.title == "SQL Interrupted":
            return None  # core: a count that runs out of time is no count
        raise
    return result.rows[0][0]


async def _check_special_arguments(datasette, request, database: str) -> None:
    """``?_where=`` needs execute-sql, ``_facet*`` the allow_facet setting, as in core."""
    if "_where" in request.args and not await common.can_execute_sql(datasette, request, database):
        raise DatasetteError("_where= is not allowed", status=403)
    facets.check_allowed(datasette, request)


async def _boolean_readings(datasette, database: str, relation, request) -> Readings:
    """The boolean fields' readings, looked up only when a boolean column is filtered."""
    if not any(c.kind == "boolean" for c in relation.columns) or not filters.filter_pairs(
        request.args
    ):
        return {}
    return await boolean_readings(datasette, database, relation.name)


async def _view_reals(datasette, database: str, relation) -> frozenset[str]:
    """A jsonb view's columns of Table Schema numbers (a table's are known by their type)."""
    if not relation.is_view:
        return frozenset()
    by_relation = await introspect.catalog_fields(service_for(datasette), database)
    types = by_relation.get(relation.name, common.NO_FIELDS).types
    return frozenset(name for name, kind in types.items() if kind == "number")


async def _throughs(datasette, request, target, database: str, table: str) -> list:
    """The ``_through`` filters, checked as core checks them (view-table on the other table)."""
    if "_through" not in request.args:
        return []
    throughs = requested_throughs(request.args)
    for through in throughs:
        await datasette.ensure_permission(
            action="view-table",
            resource=TableResource(database=database, table=through.table),
            actor=request.actor,
        )
    async with execute.connection(target) as conn:
        return await resolve_throughs(conn, target.schema, table, throughs)


async def table_query(datasette, request, resolved: common.Resolved, args) -> TableQuery:
    """The page's query for ``args`` (the request's, or some of them)."""
    target, database, relation = resolved.target, resolved.database, resolved.relation
    refuse_nul(checked_arguments(args))  # as web/core_filters.py on SQLite
    return tablequery.build(
        relation,
        target.schema,
        args,
        datasette.page_size,
        datasette.max_returned_rows,
        row_cap=fetch_cap(datasette, page_size_of(datasette, request)),
        booleans=await _boolean_readings(datasette, database, relation, request),
        reals=await _view_reals(datasette, database, relation),
        throughs=await _throughs(datasette, request, target, database, resolved.name),
    )


@common.view
async def table_view(datasette, request) -> Response:
    return await table_response(datasette, request)


async def table_response(datasette, request, fragment: bool = False) -> Response:
    """The table page; ``fragment``: only its rows' table, as core's ``/-/fragment``."""
    start = time.perf_counter()
    resolved = await common.resolve_relation(datasette, request)
    target, database, name = resolved.target, resolved.database, resolved.name
    format_, relation, private = resolved.format, resolved.relation, resolved.private
    limit_ms = execute.time_limit(datasette, request)
    redirect = _redirect(datasette, request)
    if redirect is not None:
        return redirect
    await _check_special_arguments(datasette, request, database)
    query = await table_query(datasette, request, resolved, request.args)
    if format_ == "csv":
        return await csv_export.table_csv(datasette, request, resolved, query, limit_ms)
    faceted = await facets.for_table(datasette, request, resolved, query)
    nocount = request.args.get("_nocount") or request.args.get("_shape") in ("array", "object")
    count = None
    async with execute.connection(target) as conn:
        result = await run(conn, target, query, query.sql, query.params, limit_ms)
        # after the rows, as core: a filter's SQL error comes before an unknown _extra
        extras = common.requested_extras(request, ExtraScope.TABLE, validate=format_ != "html")
        if ("count" in extras or format_ == "html") and not nocount:
            count = await count_rows(conn, target, query, limit_ms)

    converters = await common.converters(datasette, database, relation, result)
    values = rows_from(result, converters)
    sort_values = [row.pop(SORT_ALIAS) for row in values] if SORT_ALIAS in result.columns else []
    next_token, next_url = next_page(datasette, request, relation, query, values, sort_values)
    rows = values[: query.page_size]
    found = await labels.expand(
        datasette, request, target, database, name, rows, query.columns, format_ == "html"
    )

    page = blocks.Page(
        datasette,
        request,
        ExtraScope.TABLE,
        database,
        private,
        list(query.columns),
        rows,
        shown_sql(query.sql),
        query.shown_params,
        extras,
        target=target,
        relation=relation,
        pks=[] if relation.pks == ["rowid"] else relation.pks,
    )

    def expandable():
        return labels.expandable_or_found(datasette, target, database, name, found)

    def extra_values() -> dict[str, Any]:
        return {
            **blocks.table_extras(page, sortable=set(relation.column_names), expandable=expandable),
            "count": lambda: count,
            "count_truncated": lambda: count == tablequery.COUNT_LIMIT + 1,
            "count_sql": lambda: shown_sql(query.count_sql),
            "human_description_en": lambda: human_description(query),
            "columns": lambda: list(query.columns),
            "all_columns": lambda: relation.column_names,
            # a rowid table has none, as core says of SQLite's (the rowid stands in)
            "primary_keys": lambda: [] if relation.pks == ["rowid"] else relation.pks,
            "query": lambda: {"sql": shown_sql(query.sql), "params": query.shown_params},
            "database": lambda: database,
            "table": lambda: name,
            "database_color": lambda: common.database_color(database),
            "is_view": lambda: relation.is_view,
            "private": lambda: private,
            "metadata": lambda: common.table_metadata(datasette, database, name),
            "expandable_columns": expandable,
            **faceted.extra_values(),
        }

    if format_ == "html":
        shown = extra_values()
        return await pages.table_page(
            datasette,
            request,
            database=database,
            target=target,
            relation=relation,
            query=query,
            rows=rows,
            count=count,
            next_url=next_url,
            private=private,
            human=human_description(query),
            query_ms=(time.perf_counter() - start) * 1000,
            links=labels.links(found),
            facets=faceted,
            display_columns=await shown["display_columns"](),
            definitions={
                "table_definition": await shown["table_definition"](),
                "view_definition": await shown["view_definition"](),
            },
            renderers=await shown["renderers"](),
            fragment=fragment,
        )
    data = {"ok": True, "next": next_token, "next_url": next_url}
    data.update(await common.resolve_extras(extras, ExtraScope.TABLE, extra_values()))
    data["rows"] = rows
    if renderers.is_plugin_format(datasette, format_):
        response = await renderers.render(
            datasette,
            request,
            format_,
            columns=list(query.columns),
            rows=rows,
            sql=shown_sql(query.sql),
            database=database,
            table=name,
            view_name="table",
            data=data,
        )
        return common.finish(datasette, request, response, private)
    response = render_json(request, request.args, data, None, truncated=False)
    if next_url:
        response.headers["link"] = f'<{next_url}>; rel="next"'
    return common.finish(datasette, request, response, private)


def rows_from(result: execute.Result, converters) -> list[dict[str, Any]]:
    from .render import rows_as_lists

    return common.rows_as_dicts(result.columns, rows_as_lists(result.rows, converters))


def human_description(query: TableQuery) -> str:
    """Core's ``human_description_en``: the filters, then the sort order."""
    text = Filters(query.pairs).human_description_en(extra=query.human_extra)
    if query.sort_column:
        sorted_by = f"sorted by {query.sort_column}{' descending' if query.sort_desc else ''}"
        text = " ".join(b for b in [text, sorted_by] if b)
    return text
