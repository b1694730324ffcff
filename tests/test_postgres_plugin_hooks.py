"""Datasette's plugin hooks are called on a Postgres-backed database's pages with the
arguments core passes on the same pages of the same datatable on SQLite (ISSUE 14): a
recording plugin sees both and the records are compared, after taking out what differs by
engine by nature (SQL text). The template hooks get core's template name (``table.html``...),
by which plugins choose what to add.

Metadata (titles, descriptions, source, license) shows on every page as core shows it.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
from datasette import hookimpl
from datasette.plugins import pm
from markupsafe import Markup
from test_postgres_extras import pair  # noqa: F401  (the fixture: one service per engine)

PLUGIN = "test-postgres-plugin-hooks"


def request_of(request) -> str | None:
    return None if request is None else request.full_path


def row_of(row) -> Any:
    return None if row is None else dict(zip(row.keys(), row, strict=True))


class Recorder:
    """Records each hook call with its arguments, in a comparable form."""

    def __init__(self):
        self.calls: list[tuple] = []

    def record(self, hook: str, **args) -> None:
        shown = {}
        for name, value in args.items():
            if name == "datasette":
                value = type(value).__name__
            elif name == "request":
                value = request_of(value)
            elif name == "row":
                value = row_of(value)
            elif name == "sql":
                value = "<engine specific>" if value else value
            elif name == "column_type":
                value = None if value is None else value.name
            elif name == "params":
                value = dict(value or {})
            elif isinstance(value, list | tuple):
                value = list(value)
            shown[name] = value
        self.calls.append((hook, shown))

    @hookimpl
    def render_cell(self, row, value, column, table, pks, database, datasette, request):
        self.record(
            "render_cell",
            row=row,
            value=value,
            column=column,
            table=table,
            pks=pks,
            database=database,
            datasette=datasette,
            request=request,
        )
        if value == "Ada":
            return Markup("<b class='recorded'>ADA</b>")
        return None

    @hookimpl
    def table_actions(self, datasette, actor, database, table, request):
        self.record("table_actions", datasette=datasette, actor=actor, database=database,
                    table=table, request=request)  # fmt: skip
        return [{"href": "/recorded-table", "label": "Recorded table action"}]

    @hookimpl
    def view_actions(self, datasette, actor, database, view, request):
        self.record("view_actions", datasette=datasette, actor=actor, database=database,
                    view=view, request=request)  # fmt: skip
        return [{"href": "/recorded-view", "label": "Recorded view action"}]

    @hookimpl
    def row_actions(self, datasette, actor, request, database, table, row):
        self.record("row_actions", datasette=datasette, actor=actor, request=request,
                    database=database, table=table, row=row)  # fmt: skip
        return [{"href": "/recorded-row", "label": "Recorded row action"}]

    @hookimpl
    def database_actions(self, datasette, actor, database, request):
        self.record("database_actions", datasette=datasette, actor=actor, database=database,
                    request=request)  # fmt: skip
        return [{"href": "/recorded-database", "label": "Recorded database action"}]

    @hookimpl
    def query_actions(self, datasette, actor, database, query_name, request, sql, params):
        self.record("query_actions", datasette=datasette, actor=actor, database=database,
                    query_name=query_name, request=request, sql=sql, params=params)  # fmt: skip
        return [{"href": "/recorded-query", "label": "Recorded query action"}]

    @hookimpl
    def extra_template_vars(self, template, database, table, columns, view_name, request,
                            datasette):  # fmt: skip
        self.record("extra_template_vars", template=template, database=database, table=table,
                    columns=columns, view_name=view_name, request=request,
                    datasette=datasette)  # fmt: skip
        return {"recorded_var": "RECORDED-VAR"}

    @hookimpl
    def extra_css_urls(self, template, database, table, columns, view_name, request, datasette):
        self.record("extra_css_urls", template=template, database=database, table=table,
                    columns=columns, view_name=view_name, request=request,
                    datasette=datasette)  # fmt: skip
        return ["/recorded.css"]

    @hookimpl
    def extra_js_urls(self, template, database, table, columns, view_name, request, datasette):
        self.record("extra_js_urls", template=template, database=database, table=table,
                    columns=columns, view_name=view_name, request=request,
                    datasette=datasette)  # fmt: skip
        return ["/recorded.js"]

    @hookimpl
    def extra_body_script(self, template, database, table, columns, view_name, request,
                          datasette):  # fmt: skip
        self.record("extra_body_script", template=template, database=database, table=table,
                    columns=columns, view_name=view_name, request=request,
                    datasette=datasette)  # fmt: skip
        return "var recorded = 1;"


@pytest.fixture
def recorder():
    recorder = Recorder()
    pm.register(recorder, name=PLUGIN)
    try:
        yield recorder
    finally:
        pm.unregister(name=PLUGIN)


def pages(service) -> dict[str, str]:
    table = service.datatable["table"]
    sql = f'select id, name from "{table}" where id < :top order by id'
    query = urllib.parse.urlencode({"sql": sql, "top": "3"})
    return {
        "table": service.json_path.removesuffix(".json") + "?_size=2",
        "row": service.table_path + "/1",
        "database": service.database_path,
        "query": f"{service.database_path}/-/query?{query}",
        "table-json": service.json_path + "?_size=2&_extra=render_cell",
        "row-json": service.table_path + "/1.json?_extra=render_cell",
        "query-json": f"{service.database_path}/-/query.json?{query}&_extra=render_cell",
        "queries": f"{service.database_path}/-/queries",
    }


PAGES = ["table", "row", "database", "query", "table-json", "row-json", "query-json", "queries"]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("page", PAGES)
async def test_hooks_get_core_arguments(pair, recorder, page):  # noqa: F811
    records, bodies = {}, {}
    for engine, service in pair.items():
        recorder.calls.clear()
        response = await service.get(pages(service)[page])
        assert response.status_code == 200, response.text
        records[engine] = list(recorder.calls)
        bodies[engine] = response.text
    assert records["sqlite"], "no hook was called on SQLite"
    assert records["postgres"] == records["sqlite"]
    if page in ("table", "query") or (page == "row" and pair["sqlite"].provider == "flat_table"):
        for engine in ("sqlite", "postgres"):  # what the hooks return shows, as in core
            assert "<b class='recorded'>ADA</b>" in bodies[engine], engine
    if page == "queries":
        return
    if not page.endswith("-json"):
        for text in ("/recorded.css", "/recorded.js", "var recorded = 1;"):
            assert text in bodies["postgres"]
        label = {
            "table": "Recorded view action"
            if pair["sqlite"].provider == "jsonb"
            else "Recorded table action",
            "row": "Recorded row action",
            "database": "Recorded database action",
            "query": "Recorded query action",
        }[page]
        assert label in bodies["sqlite"]
        assert label in bodies["postgres"]


METADATA = {
    "title": "The Shop",
    "description": "Everything the shop sells",
    "source": "The till",
    "source_url": "https://example.com/till",
    "license": "CC0",
    "license_url": "https://example.com/cc0",
}


FRAGMENTS = [
    ">{kind} The Shop",  # the h1
    '<div class="metadata-description">',
    "{kind} Everything the shop sells",
    '<a href="{kind} https://example.com/till">',
    '<a href="{kind} https://example.com/cc0">{kind} CC0</a>',
    "<dt>name</dt><dd>Who it is</dd>",
]


@pytest.mark.asyncio(loop_scope="module")
async def test_metadata_is_shown_on_every_page(pair):  # noqa: F811
    """Database, table and column metadata show where core shows them (the row page shows
    none, as core's), and the ``metadata`` extra and database JSON carry them."""
    shown, texts = {}, {}
    for engine, service in pair.items():
        ds = service.ds
        database = service.datatable["database"]
        table = service.json_path.removesuffix(".json").rsplit("/", 1)[1]
        for key, value in METADATA.items():
            await ds.set_database_metadata(database, key, f"Database {value}")
            await ds.set_resource_metadata(database, table, key, f"Table {value}")
        await ds.set_column_metadata(database, table, "name", "description", "Who it is")
        try:
            urls = pages(service)
            for page in ("table", "row", "database", "query"):
                response = await service.get(urls[page])
                assert response.status_code == 200
                texts[(engine, page)] = response.text
            table_json = (await service.get(urls["table-json"] + "&_extra=metadata")).json()
            row_json = (await service.get(urls["row-json"] + "&_extra=metadata")).json()
            query_json = (await service.get(urls["query-json"] + "&_extra=metadata")).json()
            database_json = (await service.get(service.database_path + ".json")).json()
            shown[engine] = (
                table_json["metadata"],
                row_json.get("metadata"),
                query_json["metadata"],
                database_json["metadata"],
            )
        finally:
            internal = ds.get_internal_database()
            for sql in ("metadata_databases", "metadata_resources", "metadata_columns"):
                await internal.execute_write(f"DELETE FROM {sql}")
    assert shown["postgres"] == shown["sqlite"]
    assert shown["sqlite"][0]["title"] == "Table The Shop"
    for page in ("table", "row", "database", "query"):
        for kind in ("Table", "Database"):
            for fragment in FRAGMENTS:
                fragment = fragment.format(kind=kind)
                on_sqlite = fragment in texts[("sqlite", page)]
                assert (fragment in texts[("postgres", page)]) == on_sqlite, (page, fragment)
    for fragment in FRAGMENTS:  # the comparison compared something
        assert fragment.format(kind="Table") in texts[("sqlite", "table")]
        assert fragment.format(kind="Database") in texts[("sqlite", "database")] or (
            "<dt>" in fragment
        )
