"""The HTML pages of the Postgres data plane, in Datasette's look (its base.html, its CSS
classes: ``rows-and-columns``, ``filters``, ``sql``), from dataservice_postgres_*.html."""

from __future__ import annotations

import urllib.parse
from typing import Any

from datasette.filters import Filters
from datasette.utils import (
    append_querystring,
    make_slot_function,
    path_with_format,
    path_with_replaced_args,
    to_css_class,
)
from datasette.utils.asgi import Response
from jinja2 import Template

from ...dataplane.postgres.introspect import Relation
from ...dataplane.postgres.tablequery import TableQuery, shown_sql
from . import cells, common, extras, hooks, labels, page_data, table_rows
from .facets import Facets

# The page core draws for the same request: its template's name is what the template hooks
# (``extra_template_vars``, ``extra_js_urls``, ...) get as ``template``, and plugins choose by it.
CORE_TEMPLATES = {
    "dataservice_postgres_table.html": "table.html",
    "dataservice_postgres_row.html": "row.html",
    "dataservice_postgres_database.html": "database.html",
    "dataservice_postgres_query.html": "query.html",
    "dataservice_postgres_queries.html": "query_list.html",
}


def core_named(datasette, request, name: str) -> Template:
    """The plugin's template ``name`` under the name of core's template for the same page.

    A copy: the environment caches the template itself, which keeps its own name."""
    template = datasette.get_jinja_environment(request).get_template(name)
    named = object.__new__(type(template))
    named.__dict__.update(template.__dict__)
    named.name = CORE_TEMPLATES[name]
    return named


async def render(datasette, request, template: str, context: dict[str, Any], **kw) -> Response:
    """Render a page; ``pg_urls`` and ``crumb_links`` stand in for ``urls.database`` and the
    breadcrumbs, which look the database up among Datasette's own."""
    context = {
        **context,
        "pg_urls": common.Urls(datasette),
        "crumb_links": await common.crumbs(
            datasette, request, context["database"], context.get("table")
        ),
    }
    alternate = datasette.absolute_url(
        request,
        datasette.urls.path(path_with_format(path=common.public_path(request), format="json"))
        + (f"?{request.query_string}" if request.query_string else ""),
    )
    html = await datasette.render_template(
        core_named(datasette, request, template),
        {**context, "alternate_url_json": alternate},
        request=request,
        view_name=kw.get("view_name", "database"),
    )
    link = f'<{alternate}>; rel="alternate"; type="application/json+datasette"'
    return Response.html(html, headers={"Link": link})


async def table_page(
    datasette,
    request,
    *,
    database: str,
    target,
    relation: Relation,
    query: TableQuery,
    rows: list[dict[str, Any]],
    count: int | None,
    next_url: str | None,
    private: bool,
    human: str,
    query_ms: float,
    facets: Facets,
    display_columns: list[dict[str, Any]],
    definitions: dict[str, str | None],
    links: dict[str, str] | None = None,
    renderers: dict[str, str] | None = None,
    fragment: bool = False,
) -> Response:
    """Core's table.html context (views/table.py): ``display_columns`` is core's extra of
    that name, ``definitions`` its ``table_definition`` and ``view_definition``; with
    ``fragment``, only the rows' table in it, as core's ``/-/fragment`` renders it."""
    name, columns = relation.name, list(query.columns)
    core_pks = [] if relation.pks == ["rowid"] else relation.pks  # as core sees a rowid table
    pks = cells.display_pks(core_pks, name, relation.is_view)
    column_types = await extras.PageDatasette(datasette, database, relation).get_column_types(
        database, name
    )
    link_pk = core_pks if len(core_pks) == 1 and not relation.is_view else []
    rendered = await cells.rendered_cells(
        datasette, request, database, name, columns, rows, pks, column_types, skip=link_pk
    )
    link_column = not relation.is_view
    body = table_rows.display_rows(
        datasette,
        database,
        name,
        columns,
        rows,
        core_pks,
        link_column=link_column,
        links=links,
        rendered=rendered,
        label_column=(
            await labels.own_label_column(datasette, target, database, relation)
            if link_column
            else None
        ),
        permissions=(
            await table_rows.row_permissions(datasette, request, database, name)
            if link_column
            else None
        ),
        truncate=datasette.setting("truncate_cells_html"),
    )
    json_url = datasette.urls.path(
        path_with_format(request=request, path=common.public_path(request), format="json")
    )
    renderers = renderers or {"json": json_url}
    sort = query.sort
    if not sort and not query.sort_desc and len(relation.pks) == 1:
        sort = relation.pks[0]
    table_data = await page_data.table_page_data(datasette, request, database, relation)
    context = {
        "database": database,
        "table": relation.name,
        "is_view": relation.is_view,
        "columns": columns,
        "all_columns": relation.column_names,
        "metadata": await common.table_metadata(datasette, database, name),
        "actions": hooks.table_actions(datasette, request, database, name, relation.is_view),
        "private": private,
        "database_color": common.database_color(database),
        "count": count,
        "count_truncated": count == 10001,
        "human_description_en": human,
        "filters": Filters(query.pairs),
        "filter_columns": columns + [c for c in relation.column_names if c not in columns],
        "extra_wheres_for_ui": page_data.extra_wheres(request),
        "display_columns": display_columns,
        "display_rows": body,
        "is_sortable": any(c["sortable"] for c in display_columns),
        "sort": sort,
        "sort_desc": query.sort_desc,
        "next_url": next_url,
        "append_querystring": append_querystring,
        "path_with_replaced_args": path_with_replaced_args,
        "fix_path": lambda path: datasette.urls.path(path),
        "primary_keys": core_pks,
        "query": {"sql": shown_sql(query.sql), "params": query.shown_params},
        "allow_execute_sql": await common.can_execute_sql(datasette, request, database),
        "form_hidden_args": [
            (key, value)
            for key in request.args
            if key.startswith("_") and key not in ("_sort", "_sort_desc", "_next", "_filter")
            for value in request.args.getlist(key)
        ],
        "query_ms": query_ms,
        "renderers": renderers,
        "expandable_columns": bool(links),
        "settings": datasette.settings_dict(),
        "datasette_allow_facet": "true" if datasette.setting("allow_facet") else "false",
        "table_page_data": table_data,
        "table_insert_ui": table_data.get("insertRow"),
        "custom_table_templates": custom_table_templates(database, name),
        "top_table": make_slot_function(
            "top_table", datasette, request, database=database, table=name
        ),
        **definitions,
        **csv_export_urls(datasette, request, labelled=bool(links)),
        **await facets.page_context(),
    }
    if fragment:
        html = await datasette.render_template(
            context["custom_table_templates"], context, request=request, view_name="table"
        )
        return Response.html(html)
    return await render(
        datasette, request, "dataservice_postgres_table.html", context, view_name="table"
    )


def custom_table_templates(database: str, table: str, page: str = "table") -> list[str]:
    """Core's templates for a table or row page's rows: the table's own, then core's."""
    db, name = to_css_class(database), to_css_class(table)
    return [f"_table-{db}-{name}.html", f"_table-{page}-{db}-{name}.html", "_table.html"]


def csv_export_urls(datasette, request, labelled: bool) -> dict[str, Any]:
    """The page's CSV link and the advanced export form's target, as core's table view
    builds them (``url_csv``, ``url_csv_path``, ``url_csv_hidden_args``)."""
    url_csv = datasette.urls.path(
        path_with_format(
            request=request,
            path=common.public_path(request),
            format="csv",
            extra_qs={"_size": "max", **({"_labels": "on"} if labelled else {})},
        )
    )
    return {
        "url_csv": url_csv,
        "url_csv_path": url_csv.split("?")[0],
        "url_csv_hidden_args": [
            (key, value)
            for key, value in urllib.parse.parse_qsl(request.query_string)
            if key not in ("_labels", "_facet", "_size")
        ]
        + [("_size", "max")],
    }
