"""Core's table-level helper endpoints (views/table.py) for a Postgres-backed table:

- ``POST /db/table/-/count``: "count all", every row the page's filters match (core's
  ``TableCountView``: JSON errors, "Count query timed out" when out of time);
- ``GET /db/table/-/fragment``: the rows' table alone (``_table.html``), as core's
  ``TableFragmentView`` renders it for its scripts, ``?_row=`` for one row;
- ``GET /db/table/-/autocomplete?q=``: the foreign-key autocomplete of the insert and edit
  forms (``TableAutocompleteView``), SQL in dataplane/postgres/autocomplete.py.

``/db/table/-/schema`` is core's own view on the listing mirror (listings.py).
"""

from __future__ import annotations

from types import SimpleNamespace

from datasette.utils import MultiParams, value_as_boolean
from datasette.utils.asgi import BadRequest, Forbidden, NotFound, Response
from datasette.views.base import DatasetteError
from datasette.views.table import AUTOCOMPLETE_TIME_LIMIT_MS, _fragment_request_for_row

from ...dataplane.postgres import autocomplete, execute, introspect
from ...errors import DataServiceError
from ...service.core import service_for
from . import common, labels
from .render import rows_as_lists
from .table import run, table_query, table_response

# What a count ignores (core counts with the page's filters only)
NOT_COUNTED = {"_col", "_nocol", "_sort", "_sort_desc", "_size", "_next"}


def _method_not_allowed(request) -> Response:
    """Core's ``BaseView.method_not_allowed``."""
    if request.path.endswith(".json") or request.headers.get("content-type") == "application/json":
        return Response.error("Method not allowed", 405)
    return Response.text("Method not allowed", status=405)


async def count_view(datasette, request) -> Response:
    if request.method != "POST":
        return _method_not_allowed(request)
    request = common.public_request(request)
    try:
        return await _count(datasette, request)
    except DataServiceError as error:
        return Response.error(str(error), status=error.status)
    except (NotFound, Forbidden, BadRequest, DatasetteError) as error:
        if getattr(error, "title", None) == "SQL Interrupted":
            return Response.error("Count query timed out", status=400)
        return Response.error(str(error), status=error.status)


async def _count(datasette, request) -> Response:
    resolved = await common.resolve_relation(datasette, request)
    if "_where" in request.args and not await common.can_execute_sql(
        datasette, request, resolved.database
    ):
        raise DatasetteError("_where= is not allowed", status=403)
    args = MultiParams(
        [
            (key, value)
            for key in request.args
            if key not in NOT_COUNTED
            for value in request.args.getlist(key)
        ]
    )
    query = await table_query(datasette, request, resolved, args)
    async with execute.connection(resolved.target) as conn:
        result = await run(
            conn,
            resolved.target,
            query,
            query.count_all_sql,
            query.count_params,
            execute.time_limit(datasette),
        )
    return Response.json(
        {"ok": True, "count": result.rows[0][0]}, headers={"Cache-Control": "no-store"}
    )


@common.view
async def fragment_view(datasette, request) -> Response:
    resolved = await common.resolve_relation(datasette, request)
    relation = resolved.relation

    async def primary_keys(_table: str) -> list[str]:
        return [] if relation.pks == ["rowid"] else relation.pks  # as core sees a rowid table

    as_core = SimpleNamespace(
        table=relation.name,
        is_view=relation.is_view,
        db=SimpleNamespace(primary_keys=primary_keys),
    )
    request = await _fragment_request_for_row(request, as_core)
    return await table_response(datasette, request, fragment=True)


@common.view
async def autocomplete_view(datasette, request) -> Response:
    target, database = common.target_of(datasette, request)
    relation = await introspect.cached_relation(
        service_for(datasette),
        lambda: execute.connection(target),
        target.schema,
        common.table_name(request),
    )
    if relation is None:
        raise NotFound("Table not found")
    if relation.is_view:  # before the permission check, as core
        raise BadRequest("Autocomplete is only available for tables")
    await common.table_visible(datasette, request, database, relation.name)
    pks = relation.pks
    if not pks:  # not a datatable (which has a rowid column where SQLite has its rowid)
        raise BadRequest("Autocomplete needs a primary key, and this table has none")
    label_column = await labels.own_label_column(datasette, target, database, relation)
    q = request.args.get("q") or ""
    initial_arg = request.args.get("_initial")
    initial = (
        not q and bool(initial_arg) and value_as_boolean(initial_arg)
    )  # a 400 if not one (web/exceptions.py)
    if not q and not initial:
        return Response.json({"ok": True, "rows": []})
    params = autocomplete.params_for(q)
    sql = autocomplete.search(relation, target.schema, pks, label_column, initial)
    fallback = autocomplete.fallback(relation, target.schema, pks, label_column)
    result = None
    async with execute.connection(target) as conn:
        for statement in (sql, fallback):
            try:
                (result,) = await execute.read(
                    conn, [(statement, params)], AUTOCOMPLETE_TIME_LIMIT_MS
                )
                break
            except DatasetteError as error:
                if error.title != "SQL Interrupted":
                    raise
    if result is None:  # out of time twice, as core answers then
        return Response.json({"ok": True, "rows": []})
    converters = await common.converters(datasette, database, relation, result)
    rows = common.rows_as_dicts(result.columns, rows_as_lists(result.rows, converters))
    return Response.json({"ok": True, "rows": autocomplete.response_rows(rows, pks, label_column)})
