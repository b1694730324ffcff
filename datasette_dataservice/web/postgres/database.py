"""``/db(.json)`` of a Postgres-backed database: core's database view contract."""

from __future__ import annotations

from datasette.resources import DatabaseResource
from datasette.stored_queries import stored_query_to_dict
from datasette.utils import make_slot_function, path_with_format
from datasette.utils.asgi import NotFound, Response

from ...dataplane.postgres import execute, introspect
from ...dataplane.postgres.listing import table_counts
from ...dataplane.postgres.tablequery import COUNT_LIMIT
from . import common, hooks, pages, query_list, query_page

COUNT_TIME_LIMIT_MS = 100  # core counts a database page's tables with this budget each


@common.view
async def database_view(datasette, request) -> Response:
    target, database = common.target_of(datasette, request)
    format_ = request.url_vars.get("format") or "html"
    private = await common.visible(
        datasette,
        request,
        "view-database",
        DatabaseResource(database=database),
        "You do not have permission to view this database",
    )
    sql = (request.args.get("sql") or "").strip()
    if sql:
        url = common.Urls(datasette).query(database)
        if request.url_vars.get("format"):
            url = path_with_format(path=url, format=request.url_vars["format"])
        return Response.redirect(url + "?" + request.query_string)
    if format_ not in ("html", "json"):
        raise NotFound(f"Invalid format: {format_}")

    async with execute.connection(target) as conn:
        relations = await introspect.relations(conn, target.schema)
        shown = await query_page.shown_relations(datasette, request, database, relations)
        table_names = [n for n in shown if not relations[n].is_view]
        limit_ms = min(execute.time_limit(datasette), COUNT_TIME_LIMIT_MS * len(table_names))
        counts = await table_counts(conn, target.schema, table_names, limit_ms)
        foreign_keys = await introspect.foreign_keys(conn, target.schema, list(relations))
        size = await introspect.schema_size(conn, target.schema)
        default_sql = await query_page.default_sql(conn, relations, shown)

    tables = [
        {
            "name": name,
            "columns": relations[name].column_names,
            "primary_keys": relations[name].pks,
            "count": counts[name],
            "count_truncated": counts[name] == COUNT_LIMIT + 1,
            "hidden": False,
            "fts_table": None,
            "foreign_keys": foreign_keys[name],
            "private": shown[name],
        }
        for name in table_names
    ]
    views = [{"name": n, "private": shown[n]} for n in shown if relations[n].is_view]
    queries = await query_list.list_queries(
        datasette, database, actor=request.actor, limit=5, include_private=True
    )
    queries_count = (
        await query_list.count_queries(datasette, database, actor=request.actor)
        if queries.has_more
        else len(queries.queries)
    )
    allow_execute_sql = await common.can_execute_sql(datasette, request, database)
    table_columns = query_page.editor_columns(relations, shown) if allow_execute_sql else {}
    data = {
        "ok": True,
        "database": database,
        "private": private,
        "path": common.Urls(datasette).database(database),
        "size": size,
        "tables": tables,
        "hidden_count": 0,
        "views": views,
        "queries": [stored_query_to_dict(q) for q in queries.queries],
        "queries_more": queries.has_more,
        "queries_count": queries_count,
        "allow_execute_sql": allow_execute_sql,
        "table_columns": table_columns,
        "metadata": await datasette.get_database_metadata(database),
    }
    if format_ == "json":
        response = Response.json(data)
        if datasette.cors:
            from datasette.utils import add_cors_headers

            add_cors_headers(response.headers)
        return response
    context = {
        **data,
        "database_color": common.database_color(database),
        "database_actions": hooks.database_actions(datasette, request, database),
        "default_sql": default_sql,
        "top_database": make_slot_function("top_database", datasette, request, database=database),
    }
    return await pages.render(
        datasette, request, "dataservice_postgres_database.html", context, view_name="database"
    )
