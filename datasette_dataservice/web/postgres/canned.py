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

from datasette.resources import QueryResource
from datasette.stored_queries import StoredQuery, stored_query_to_dict
from datasette.utils import tilde_decode
from datasette.utils.asgi import Forbidden, Response
from datasette.views.base import DatasetteError
from datasette.views.database import MagicParameters
from datasette.views.query_helpers import _ensure_stored_query_execution_permissions

from ...dataplane.postgres import execute, introspect
from ...dataplane.postgres.sqltext import to_psycopg
from ...errors import DataServiceError
from ...service.core import service_for
from . import common, query, query_page
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
    params = {**{n: "" for n in named_values}, **args}
    return await query_page.render(
        datasette,
        request,
        target=target,
        database=database,
        private=private,
        sql=stored.sql,
        params=params,
        named_values=named_values,
        ran=ran,
        metadata=metadata,
        stored=stored,
    )
