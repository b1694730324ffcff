"""``/db/table/pk(.json)`` of a Postgres-backed table: core's row view contract.

Core finds a row of a table without a primary key by rowid; a Postgres-backed flat_table
without one has a ``rowid`` identity column for the purpose (providers/postgres_ddl.py).
A view has neither, so its row URLs answer as core's do: "Row not found".
"""

from __future__ import annotations

import time

from datasette.extras import ExtraScope
from datasette.utils import urlsafe_components
from datasette.utils.asgi import BadRequest, NotFound, Response

from ...dataplane.postgres import execute, tablequery
from ...dataplane.postgres.tablequery import shown_sql
from ..json_output import render_json
from . import cells, common, csv_export, hooks, labels, pages, renderers
from . import extras as blocks
from .render import rows_as_lists


@common.view
async def row_view(datasette, request) -> Response:
    start = time.perf_counter()
    resolved = await common.resolve_relation(datasette, request)
    target, database, name = resolved.target, resolved.database, resolved.name
    format_, relation, private = resolved.format, resolved.relation, resolved.private
    pk_values = urlsafe_components(request.url_vars["pks"])
    pks = relation.pks if relation.pks and not relation.is_view else ["rowid"]
    if len(pk_values) != len(pks):
        raise BadRequest("URL row identifier does not match the primary key for this table")
    if pks == ["rowid"] and relation.column("rowid") is None:
        raise NotFound("Row not found")
    found = tablequery.row_query(relation, target.schema, pks, pk_values)
    if found is None:
        raise NotFound("Row not found")  # SQLite: a number never equals such text
    sql, params = found
    async with execute.connection(target) as conn:
        (result,) = await execute.read(
            conn, [(sql, params)], execute.time_limit(datasette), shown=shown_sql(sql)
        )
    if not result.rows:
        raise NotFound("Row not found")
    converters = await common.converters(datasette, database, relation, result)
    rows = common.rows_as_dicts(result.columns, rows_as_lists(result.rows, converters))
    if format_ == "csv":
        return await csv_export.rows_csv(datasette, request, database, name, result.columns, rows)
    if format_ == "html":
        found = await labels.expand(
            datasette, request, target, database, name, rows, result.columns, True, every=True
        )
        column_types = await blocks.PageDatasette(datasette, database, relation).get_column_types(
            database, name
        )
        rendered = await cells.rendered_cells(
            datasette, request, database, name, result.columns, rows, pks, column_types
        )
        header, body = pages.display_rows(
            datasette,
            database,
            name,
            result.columns,
            rows,
            pks,
            links=labels.links(found),
            rendered=rendered,
        )
        row = cells.PgRow(result.columns, rows[0])
        context = {
            "database": database,
            "table": name,
            "columns": result.columns,
            "metadata": {},  # as core's row page: no table metadata shown
            "row_actions": await hooks.row_actions(datasette, request, database, name, row),
            "private": private,
            "database_color": common.database_color(database),
            "display_columns": header,
            "display_rows": body,
            "primary_key_values": pk_values,
            "json_url": datasette.urls.path(common.public_path(request) + ".json"),
        }
        response = await pages.render(
            datasette, request, "dataservice_postgres_row.html", context, view_name="row"
        )
        return common.finish(datasette, request, response, private)

    data = {
        "ok": True,
        "database": database,
        "table": name,
        "rows": rows,
        "columns": result.columns,
        "primary_keys": pks,
        "primary_key_values": pk_values,
    }
    requested = common.requested_extras(request, ExtraScope.ROW)
    values = {
        "columns": lambda: result.columns,
        "primary_keys": lambda: pks,
        "query": lambda: {"sql": shown_sql(sql), "params": params},
        "metadata": lambda: common.table_metadata(datasette, database, name),
        "database": lambda: database,
        "table": lambda: name,
        "database_color": lambda: common.database_color(database),
        "private": lambda: private,
        **blocks.row_extras(
            blocks.Page(
                datasette,
                request,
                ExtraScope.ROW,
                database,
                private,
                result.columns,
                rows,
                shown_sql(sql),
                params,
                requested,
                target=target,
                relation=relation,
                pks=pks,
                pk_values=pk_values,
            )
        ),
    }
    data.update(await common.resolve_extras(requested, ExtraScope.ROW, values))
    data["query_ms"] = (time.perf_counter() - start) * 1000
    if renderers.is_plugin_format(datasette, format_):
        response = await renderers.render(
            datasette,
            request,
            format_,
            columns=result.columns,
            rows=rows,
            sql=(data.get("query") or {}).get("sql"),
            database=database,
            table=name,
            view_name="row",
            data=data,
        )
        return common.finish(datasette, request, response, private)
    response = render_json(request, request.args, data, None, truncated=False)
    return common.finish(datasette, request, response, private)
