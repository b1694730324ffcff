"""``/db/{query}(.json)``: a canned (configured or stored) query of a Postgres-backed
database, as core's QueryView serves one on SQLite.

A table or view of the same name wins, as in core (``table_view_traced`` looks for the table
first). The query must be visible to the actor (``view-query``) and, unless trusted (config
queries are), ``execute-sql`` is needed too (core's
``_ensure_stored_query_execution_permissions``). Write queries stay refused: the plugin denies
``view-query`` for them on every managed database (permissions.py). A read query runs as
``?sql=`` queries do (query.py): READ ONLY, as the datasource's reader role, with the time
limit; its ``:name`` parameters come from the query string, its ``:_actor_id``-style magic
parameters from core's ``MagicParameters``.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import markupsafe
from datasette.resources import QueryResource
from datasette.stored_queries import StoredQuery, stored_query_to_dict
from datasette.utils import (
    InvalidSql,
    make_slot_function,
    path_with_added_args,
    path_with_format,
    path_with_removed_args,
    tilde_decode,
    validate_sql_select,
)
from datasette.utils.asgi import Forbidden, Response
from datasette.views.base import DatasetteError
from datasette.views.database import MagicParameters, display_rows
from datasette.views.query_helpers import _ensure_stored_query_execution_permissions

from ...dataplane.postgres import execute, introspect
from ...dataplane.postgres.sqltext import to_psycopg
from ...errors import DataServiceError
from ...service.core import service_for
from . import common, pages, query
from .table import table_view


async def table_or_query_view(datasette, request) -> Response:
    """``/db/name``: the table or view ``name``, else the canned query ``name``."""
    stored = await stored_query_of(datasette, request)
    if stored is None:
        return await table_view(datasette, request)
    try:
        return await canned_view(datasette, request, stored)
    except DataServiceError as error:
        raise DatasetteError(str(error), status=error.status) from error


async def stored_query_of(datasette, request) -> StoredQuery | None:
    """The canned query a table URL names, unless a table or view has that name."""
    database = tilde_decode(request.url_vars["database"])
    stored = await datasette.get_query(database, common.table_name(request))
    if stored is None:
        return None
    target = service_for(datasette).postgres_target(database)
    if target is None:
        return None
    relation = await introspect.cached_relation(
        service_for(datasette), lambda: execute.connection(target), target.schema, stored.name
    )
    return None if relation is not None else stored


async def canned_view(datasette, request, stored: StoredQuery) -> Response:
    target, database = common.target_of(datasette, request)
    private = await common.visible(
        datasette,
        request,
        "view-query",
        QueryResource(database=database, query=stored.name),
        "You do not have permission to view this query",
    )
    if stored.is_write:  # denied above for managed databases; never run one here regardless
        raise Forbidden("Write queries cannot run on a Postgres-backed database")
    if request.method not in ("GET", "HEAD"):
        return Response.text("Method not allowed", status=405)
    await _ensure_stored_query_execution_permissions(
        datasette, SimpleNamespace(name=database), stored, request.actor
    )
    format_ = query.format_of(datasette, request)

    args = {key: request.args.get(key) for key in request.args}
    statement, names = to_psycopg(stored.sql)
    shown_names = stored.parameters or names
    named_values = {n: args.get(n) or "" for n in shown_names if not n.startswith("_")}
    magic = MagicParameters(stored.sql, args, request, datasette)
    await magic.execute_params()
    bind: dict[str, Any] = {}
    ran = None
    for name in names:
        if not name.startswith("_"):
            bind[name] = args.get(name) or None
            continue
        try:
            bind[name] = magic[name]
        except KeyError:
            ran = query.Ran(error=f"You did not supply a value for binding parameter :{name}.")
    if ran is None:
        ran = await query.run(datasette, request, target, database, statement, bind)

    metadata = stored_query_to_dict(stored)
    metadata.pop("source", None)
    if format_ != "html":
        return await query.rows_response(
            datasette,
            request,
            format_,
            database,
            private,
            stored.sql,
            named_values,
            ran,
            lambda: metadata,
        )
    context = {
        "database": database,
        "database_color": common.database_color(database),
        "private": private,
        "stored_query": stored.name,
        "metadata": metadata,
        "query": {"sql": stored.sql, "params": args},
        "named_parameter_values": named_values,
        "error": ran.error,
        "truncated": ran.truncated,
        "columns": ran.columns,
        "display_rows": await display_rows(
            datasette,
            database,
            request,
            [[r[c] for c in ran.columns] for r in ran.rows],
            ran.columns,
        ),
        "json_url": datasette.urls.path(
            path_with_format(request=request, path=common.public_path(request), format="json")
        ),
        "edit_sql_url": await _edit_sql_url(datasette, request, database, stored, named_values),
        "top_stored_query": make_slot_function(
            "top_stored_query", datasette, request, database=database, query_name=stored.name
        ),
        **_show_hide(datasette, request, stored, args),
    }
    return await pages.render(
        datasette, request, "dataservice_postgres_canned.html", context, view_name="database"
    )


def _show_hide(datasette, request, stored: StoredQuery, args: dict) -> dict[str, Any]:
    """Core's show/hide SQL link: ``hide_sql`` queries hide it unless ``?_show_sql=1``."""
    path = common.public_path(request)
    hidden = ""
    if stored.hide_sql:
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


async def _edit_sql_url(
    datasette, request, database: str, stored: StoredQuery, named_values: dict
) -> str | None:
    """Core's "Edit SQL" link: a SELECT without magic parameters, for who may run SQL."""
    try:
        validate_sql_select(stored.sql)
    except InvalidSql:
        return None
    if ":_" in stored.sql or not await common.can_execute_sql(datasette, request, database):
        return None
    url = common.Urls(datasette).query(database)
    return url + "?" + urlencode({"sql": stored.sql, **named_values})
