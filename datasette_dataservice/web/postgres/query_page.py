"""Core's query.html context (views/database.py ``QueryView``) for the ``?sql=`` and canned
query pages of a Postgres-backed database, and the SQL editor's schema the database page
shares: the tables the actor may see, their columns for autocompletion, and the SQL the
editor starts with."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import markupsafe
from datasette.resources import TableResource
from datasette.stored_queries import StoredQuery
from datasette.utils import (
    InvalidSql,
    make_slot_function,
    path_with_added_args,
    path_with_format,
    path_with_removed_args,
    validate_sql_select,
)
from datasette.utils.asgi import Response
from datasette.views.database import display_rows

from ...dataplane.postgres import execute, introspect
from ...dataplane.postgres.introspect import Relation
from ...providers.postgres_storage import PostgresTarget
from . import cells, common, hooks, pages, renderers


async def shown_relations(
    datasette, request, database: str, relations: dict[str, Relation]
) -> dict[str, bool]:
    """The tables and views the actor may see: name -> private."""
    shown: dict[str, bool] = {}
    for name in relations:
        allowed, private = await datasette.check_visibility(
            request.actor,
            action="view-table",
            resource=TableResource(database=database, table=name),
        )
        if allowed:
            shown[name] = private
    return shown


def editor_columns(relations: dict[str, Relation], shown: dict[str, bool]) -> dict[str, list]:
    """Core's ``table_columns``: the SQL editor's autocompletion (a view without columns)."""
    return {
        name: [] if relations[name].is_view else sorted(relations[name].column_names)
        for name in shown
    }


async def default_sql(conn, relations: dict[str, Relation], shown: dict[str, bool]) -> str:
    """The editor's SQL before any is written: core's ``select * from`` the first table,
    else the engine's version."""
    first = next((n for n in shown if not relations[n].is_view), None)
    if first is None:
        return "select version()"
    return f"select * from {await introspect.quote_ident(conn, first)}"


async def render(
    datasette,
    request,
    *,
    target: PostgresTarget,
    database: str,
    private: bool,
    sql: str | None,
    params: dict[str, Any],
    named_values: dict[str, Any],
    ran,
    metadata: dict[str, Any],
    stored: StoredQuery | None = None,
) -> Response:
    """The query page of ``sql`` (``stored``'s for a canned query) and its outcome ``ran``."""
    allow_execute_sql = await common.can_execute_sql(datasette, request, database)
    table_columns: dict[str, list] = {}
    start_sql = ""
    if allow_execute_sql or not sql:
        async with execute.connection(target) as conn:
            relations = await introspect.relations(conn, target.schema)
            shown = await shown_relations(datasette, request, database, relations)
            if not sql:
                start_sql = await default_sql(conn, relations, shown)
        if allow_execute_sql:
            table_columns = editor_columns(relations, shown)
    query_name = stored.name if stored else None
    rows = [cells.PgRow(ran.columns, row) for row in ran.rows]
    context = {
        "database": database,
        "database_color": common.database_color(database),
        "query": {"sql": sql, "params": params},
        "stored_query": query_name,
        "private": private,
        "error": ran.error,
        "truncated": ran.truncated,
        **show_hide(datasette, request, stored, params),
        "editable": stored is None,
        "allow_execute_sql": allow_execute_sql,
        "default_sql": start_sql,
        "named_parameter_values": named_values,
        "edit_sql_url": edit_sql_url(datasette, database, sql, named_values, allow_execute_sql),
        "display_rows": await display_rows(datasette, database, request, rows, ran.columns),
        "table_columns": table_columns,
        "columns": ran.columns,
        "renderers": await renderers.links(
            datasette,
            request,
            columns=ran.columns,
            rows=ran.rows,
            sql=sql,
            database=database,
            table=None,
            view_name="database",
            query_name=query_name,
        ),
        "url_csv": datasette.urls.path(
            path_with_format(
                request=request,
                path=common.public_path(request),
                format="csv",
                extra_qs={"_size": "max"},
            )
        ),
        "metadata": metadata,
        "top_query": make_slot_function(
            "top_query", datasette, request, database=database, sql=sql
        ),
        "top_stored_query": make_slot_function(
            "top_stored_query", datasette, request, database=database, query_name=query_name
        ),
        "query_actions": hooks.query_actions(
            datasette, request, database, sql or "", params, query_name
        ),
    }
    return await pages.render(
        datasette, request, "dataservice_postgres_query.html", context, view_name="database"
    )


def show_hide(datasette, request, stored: StoredQuery | None, args: dict) -> dict[str, Any]:
    """Core's show/hide SQL link: ``hide_sql`` queries hide it unless ``?_show_sql=1``."""
    path = common.public_path(request)
    hidden = ""
    if stored is not None and stored.hide_sql:
        if args.get("_show_sql"):
            link, text = path_with_removed_args(request, {"_show_sql"}, path=path), "hide"
            hidden = '<input type="hidden" name="_show_sql" value="1">'
        else:
            link, text = path_with_added_args(request, {"_show_sql": 1}, path=path), "show"
    elif args.get("_hide_sql"):
        link, text = path_with_removed_args(request, {"_hide_sql"}, path=path), "show"
        hidden = '<input type="hidden" name="_hide_sql" value="1">'
    else:
        link, text = path_with_added_args(request, {"_hide_sql": 1}, path=path), "hide"
    return {
        "hide_sql": text == "show",
        "show_hide_link": datasette.urls.path(link),
        "show_hide_text": text,
        "show_hide_hidden": markupsafe.Markup(hidden),
    }


def edit_sql_url(
    datasette, database: str, sql: str | None, named_values: dict, allow_execute_sql: bool
) -> str | None:
    """Core's "Edit SQL" link: a SELECT without magic parameters, for who may run SQL."""
    if not sql or not allow_execute_sql or ":_" in sql:
        return None
    try:
        validate_sql_select(sql)
    except InvalidSql:
        return None
    url = common.Urls(datasette).query(database)
    return url + "?" + urlencode({"sql": sql, **named_values})
