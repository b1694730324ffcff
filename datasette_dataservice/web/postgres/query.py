"""``/db/-/query(.json)?sql=`` on a Postgres-backed database: core's query view contract.

The SQL must pass core's own check (``validate_sql_select``: a SELECT, WITH or EXPLAIN),
then runs as one statement in a READ ONLY transaction, with ``statement_timeout`` set to
``sql_time_limit_ms`` and ``search_path`` set to the datasource's schema, so users write
``select * from shop_orders``. ``:name`` parameters come from the query string, as in core;
one missing or empty is bound as NULL: core binds "" on SQLite, which PostgreSQL cannot read
as a number or date (a 400 where SQLite finds no rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from datasette.extras import ExtraScope
from datasette.resources import DatabaseResource
from datasette.utils import InvalidSql, validate_sql_select
from datasette.utils.asgi import NotFound, Response
from datasette.views.base import DatasetteError

from ...dataplane.postgres import execute
from ...dataplane.postgres.sqltext import to_psycopg
from ..json_output import render_json
from . import common, csv_export, query_page, renderers
from . import extras as blocks
from .render import rows_as_lists


def row_cap(datasette) -> int:
    """Core's truncation of a query's rows (database.py: max_returned_rows)."""
    cap = datasette.max_returned_rows
    return cap + 1 if cap == datasette.page_size else cap


def format_of(datasette, request) -> str:
    """The format a query page is asked for (``?sql=`` and canned queries alike)."""
    format_ = request.url_vars.get("format") or "html"
    if not renderers.is_known(datasette, format_):
        raise NotFound(f"Invalid format: {format_}")
    return format_


@common.view
async def query_view(datasette, request) -> Response:
    target, database = common.target_of(datasette, request)
    format_ = format_of(datasette, request)
    private = await common.visible(
        datasette, request, "execute-sql", DatabaseResource(database=database), "execute-sql"
    )
    args = {key: request.args.get(key) for key in request.args}
    sql = args.pop("sql", None)
    if format_ != "html" and not sql:
        raise DatasetteError("?sql= is required", status=400)

    names: list[str] = []
    named_values: dict[str, Any] = {}
    ran = Ran()
    if sql:
        try:
            validate_sql_select(sql)
        except InvalidSql as invalid:
            raise DatasetteError(str(invalid), title="Invalid SQL", status=400) from None
        statement, names = to_psycopg(sql)
        named_values = {n: args.get(n) or "" for n in names if not n.startswith("_")}
        missing = [n for n in names if n.startswith("_") and n not in args]
        if missing:
            ran = Ran(error=f"You did not supply a value for binding parameter :{missing[0]}.")
        else:
            bind = {n: args.get(n) or None for n in names}
            ran = await run(datasette, request, target, database, statement, bind)

    if format_ == "html":
        params = {**args, **{n: "" for n in named_values if n not in args}}
        return await query_page.render(
            datasette,
            request,
            target=target,
            database=database,
            private=private,
            sql=sql,
            params=params,
            named_values=named_values,
            ran=ran,
            metadata=await datasette.get_database_metadata(database),
        )

    def metadata():
        return datasette.get_database_metadata(database)

    return await rows_response(
        datasette, request, format_, database, private, sql, named_values, ran, metadata
    )


@dataclass
class Ran:
    """A query's outcome: its columns and rows as core shows them, or PostgreSQL's error."""

    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False
    error: str | None = None


async def run(datasette, request, target, database: str, statement: str, bind: dict) -> Ran:
    """Run a read-only query (psycopg SQL, ``bind`` its values) as ``?sql=`` queries run."""
    limit_ms = execute.time_limit(datasette, request)
    try:
        result, truncated = await execute.run_user_sql(
            target, statement, bind, limit_ms, row_cap(datasette)
        )
        async with execute.connection(target) as conn:
            converters = await common.query_converters(datasette, database, conn, result)
    except psycopg.Error as failure:
        return Ran(error=execute.message_of(failure))
    rows = common.rows_as_dicts(result.columns, rows_as_lists(result.rows, converters))
    return Ran(result.columns, rows, truncated)


async def rows_response(
    datasette,
    request,
    format_: str,
    database: str,
    private: bool,
    sql: str | None,
    params: dict[str, Any],
    ran: Ran,
    metadata: Callable[[], Any],
) -> Response:
    """Core's query JSON (``_shape``, ``_extra``), CSV or a plugin's format for a ``?sql=`` or
    canned query's result."""
    if format_ == "csv":
        if ran.error is not None:  # core: the query's error is the CSV's 400
            raise DatasetteError(ran.error, title="Invalid SQL", status=400)
        return await csv_export.rows_csv(datasette, request, database, None, ran.columns, ran.rows)
    data: dict[str, Any] = {"ok": True, "rows": ran.rows, "columns": ran.columns}
    extras = common.requested_extras(request, ExtraScope.QUERY)
    if extras:
        values = {
            "columns": lambda: ran.columns,
            "query": lambda: {"sql": sql, "params": params},
            "metadata": metadata,
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
                    ran.columns,
                    ran.rows,
                    sql,
                    params,
                    extras,
                )
            ),
        }
        data.update(await common.resolve_extras(extras, ExtraScope.QUERY, values))
    if renderers.is_plugin_format(datasette, format_):
        return await renderers.render(
            datasette,
            request,
            format_,
            columns=ran.columns,
            rows=ran.rows,
            sql=sql,
            database=database,
            table=None,
            view_name="table",
            data=data,
            truncated=ran.truncated,
            error=ran.error,
        )
    return render_json(request, request.args, data, ran.error, truncated=ran.truncated)
