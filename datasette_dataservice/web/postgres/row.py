"""``/db/table/pk(.json)`` of a Postgres-backed table: core's row view contract.

Core finds a row of a table without a primary key by rowid; a Postgres-backed flat_table
without one has a ``rowid`` identity column for the purpose (providers/postgres_ddl.py).
A view has neither, so its row URLs answer as core's do: "Row not found".
"""

from __future__ import annotations

import time

import markupsafe
from datasette.extras import ExtraScope
from datasette.utils import make_slot_function, path_from_row_pks, urlsafe_components
from datasette.utils.asgi import BadRequest, NotFound, Response
from datasette.views.table import row_label_from_label_column

from ...dataplane.postgres import execute, tablequery
from ...dataplane.postgres.tablequery import shown_sql
from ..json_output import render_json
from . import cells, common, csv_export, hooks, labels, page_data, pages, renderers, table_rows
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
        response = await row_page(
            datasette, request, resolved, pks, pk_values, result.columns, rows, sql, params, start
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


async def row_page(
    datasette,
    request,
    resolved: common.Resolved,
    pks,
    pk_values,
    columns,
    rows,
    sql,
    params,
    start: float,
) -> Response:
    """Core's row.html context (views/row.py): the primary key first and in bold, every
    foreign key labelled, the edit and delete buttons the actor may use, the tables whose
    rows refer to this one."""
    target, database, name, relation = (
        resolved.target,
        resolved.database,
        resolved.name,
        resolved.relation,
    )
    columns = [c for c in columns if c in pks] + [c for c in columns if c not in pks]
    found = await labels.expand(
        datasette, request, target, database, name, rows, columns, True, every=True
    )
    page = blocks.Page(
        datasette,
        request,
        ExtraScope.ROW,
        database,
        resolved.private,
        columns,
        rows,
        shown_sql(sql),
        params,
        set(),
        target=target,
        relation=relation,
        pks=pks,
        pk_values=pk_values,
    )
    column_types = await blocks.column_types(page)
    rendered = await cells.rendered_cells(
        datasette, request, database, name, columns, rows, pks, column_types
    )
    body = table_rows.display_rows(
        datasette,
        database,
        name,
        columns,
        rows,
        pks,
        link_column=False,
        links=labels.links(found),
        rendered=rendered,
    )
    for cell in body[0]:
        if cell["column"] in pks:
            cell["value"] = markupsafe.Markup("<strong>{}</strong>").format(cell["value"])
    is_table = not relation.is_view
    label_column = (
        await labels.own_label_column(datasette, target, database, relation) if is_table else None
    )
    row = body[0]
    row.pk_path = path_from_row_pks(rows[0], pks, False, False)
    row.row_path = path_from_row_pks(rows[0], pks, False)
    row.row_label = row_label_from_label_column(rows[0], label_column)
    permissions = (
        await table_rows.row_permissions(datasette, request, database, name) if is_table else {}
    )
    hook_row = cells.PgRow(columns, rows[0])
    context = {
        "database": database,
        "table": name,
        "private": resolved.private,
        "columns": columns,
        "metadata": {},  # as core's row page: no table metadata shown
        "foreign_key_tables": await blocks.foreign_key_tables(page),
        "database_color": common.database_color(database),
        "display_columns": await blocks.display_columns(page, set(), link_column=False),
        "display_rows": body,
        "custom_table_templates": pages.custom_table_templates(database, name, "row"),
        "row_mutation_ui": any(permissions.values()),
        "table_page_data": await page_data.table_page_data(
            datasette, request, database, relation, insert=False
        ),
        "row_actions": [
            *page_data.row_buttons(permissions, row.row_path, row.pk_path, row.row_label),
            *await hooks.row_actions(datasette, request, database, name, hook_row),
        ],
        "top_row": make_slot_function(
            "top_row", datasette, request, database=database, table=name, row=hook_row
        ),
        "primary_key_values": pk_values,
        "query_ms": (time.perf_counter() - start) * 1000,
        "renderers": await renderers.links(
            datasette,
            request,
            columns=columns,
            rows=rows,
            sql=shown_sql(sql),
            database=database,
            table=name,
            view_name="row",
        ),
    }
    return await pages.render(
        datasette, request, "dataservice_postgres_row.html", context, view_name="row"
    )
