"""``/db/-/query(.json)?sql=`` on a Postgres-backed database: core's query view contract.

The SQL must pass core's own check (``validate_sql_select``: a SELECT, WITH or EXPLAIN),
then runs as one statement in a READ ONLY transaction, with ``statement_timeout`` set to
``sql_time_limit_ms`` and ``search_path`` set to the datasource's schema, so users write
``select * from shop_orders``. ``:name`` parameters come from the query string, as in core;
one missing or empty is bound as NULL: core binds "" on SQLite, which PostgreSQL cannot read
as a number or date (a 400 where SQLite finds no rows).
"""

from __future__ import annotations

from typing import Any

import psycopg
from datasette.extras import ExtraScope
from datasette.renderer import json_renderer
from datasette.resources import DatabaseResource
from datasette.utils import InvalidSql, validate_sql_select
from datasette.utils.asgi import NotFound, Response
from datasette.views.base import DatasetteError

from ...dataplane.postgres import execute
from ...dataplane.postgres.sqltext import to_psycopg
from . import cells, common, hooks, pages
from . import extras as blocks
from .render import rows_as_lists


def row_cap(datasette) -> int:
    """Core's truncation of a query's rows (database.py: max_returned_rows)."""
    cap = datasette.max_returned_rows
    return cap + 1 if cap == datasette.page_size else cap


@common.view
async def query_view(datasette, request) -> Response:
    target, database = common.target_of(datasette, request)
    format_ = request.url_vars.get("format") or "html"
    if format_ not in ("html", "json"):
        raise NotFound(f"Invalid format: {format_}")
    private = await common.visible(
        datasette, request, "execute-sql", DatabaseResource(database=database), "execute-sql"
    )
    args = {key: request.args.get(key) for key in request.args}
    sql = args.pop("sql", None)
    if format_ == "json" and not sql:
        raise DatasetteError("?sql= is required", status=400)

    names: list[str] = []
    named_values: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    columns: list[str] = []
    truncated = False
    error = None
    if sql:
        try:
            validate_sql_select(sql)
        except InvalidSql as invalid:
            raise DatasetteError(str(invalid), title="Invalid SQL", status=400) from None
        statement, names = to_psycopg(sql)
        named_values = {n: args.get(n) or "" for n in names if not n.startswith("_")}
        missing = [n for n in names if n.startswith("_") and n not in args]
        if missing:
            error = f"You did not supply a value for binding parameter :{missing[0]}."
        else:
            bind = {n: args.get(n) or None for n in names}
            limit_ms = execute.time_limit(datasette, request)
            try:
                result, truncated = await execute.run_user_sql(
                    target, statement, bind, limit_ms, row_cap(datasette)
                )
                async with execute.connection(target) as conn:
                    converters = await common.query_converters(datasette, database, conn, result)
            except psycopg.Error as failure:
                error = execute.message_of(failure)
            else:
                columns = result.columns
                rows = common.rows_as_dicts(columns, rows_as_lists(result.rows, converters))

    if format_ == "html":
        context = {
            "database": database,
            "private": private,
            "database_color": common.database_color(database),
            "sql": sql or "",
            "parameters": [(n, named_values.get(n, "")) for n in names if not n.startswith("_")],
            "error": error,
            "truncated": truncated,
            "columns": columns,
            "display_columns": pages.display_rows(datasette, database, None, columns, [], [])[0],
            "display_rows": pages.display_rows(
                datasette,
                database,
                None,
                columns,
                rows,
                [],
                await cells.rendered_cells(
                    datasette, request, database, None, columns, rows, [], {}
                ),
            )[1],
            "metadata": await datasette.get_database_metadata(database),
            "query_actions": hooks.query_actions(
                datasette, request, database, sql or "", named_values
            ),
        }
        return await pages.render(
            datasette, request, "dataservice_postgres_query.html", context, view_name="database"
        )

    data: dict[str, Any] = {"ok": True, "rows": rows, "columns": columns}
    extras = common.requested_extras(request, ExtraScope.QUERY)
    if extras:
        values = {
            "columns": lambda: columns,
            "query": lambda: {"sql": sql, "params": named_values},
            "metadata": lambda: datasette.get_database_metadata(database),
            "database": lambda: database,
            "database_color": lambda: common.database_color(database),
            "private": lambda: private,
            **blocks.query_extras(
                blocks.Page(
                    datasette,
                    request,
                    ExtraScope.QUERY,
                    database,
                    private,
                    columns,
                    rows,
                    sql,
                    named_values,
                    extras,
                )
            ),
        }
        data.update(await common.resolve_extras(extras, ExtraScope.QUERY, values))
    return json_renderer(request, request.args, data, error, truncated=truncated)
