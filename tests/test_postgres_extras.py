"""Every ``?_extra=`` block core offers on a table, row or query page answers on a
Postgres-backed database with core's shape and values for the same datatable on SQLite
(ISSUE 14). Each combination {flat_table, jsonb} runs once per engine and every extra's
answer is compared, after taking out what is engine-specific by nature: SQL text, the DDL
of ``table_definition``/``view_definition`` (each engine's own dialect) and core's
``ResolvedTable`` repr in ``debug``.

Core has no ``_extra=`` on a database page (``/db.json``); its ``metadata`` is compared in
test_metadata_is_shown_on_every_page.
"""

from __future__ import annotations

import urllib.parse

import pytest
import pytest_asyncio
from conftest import (
    RUN_PREFIX,
    _schema_numbers,
    close_data_service,
    path_of,
    postgres_config_for,
)
from datasette.extras import ExtraScope
from datasette.views.table_extras import table_extra_registry
from test_contract import ROWS, start_service

PROVIDERS = ["flat_table", "jsonb"]
# Done elsewhere (issue 14's facets and CSV/labels work): left out of this comparison.
OTHERS = {
    "facet_results",
    "facets_timed_out",
    "suggested_facets",
    "sorted_facet_results",
    "expandable_columns",
}


def names(scope: ExtraScope) -> list[str]:
    return [
        cls.key()
        for cls in table_extra_registry.public_classes_for_scope(scope)
        if cls.key() not in OTHERS
    ]


def normalised(scope: ExtraScope, name: str, value, is_view: bool):
    """The answer without what differs by engine by nature."""
    if name in ("query", "count_sql"):
        return {"sql": "<sql>", "params": value["params"]} if name == "query" else "<sql>"
    if name in ("table_definition", "view_definition"):
        return value is None
    if name == "debug":
        value = dict(value)
        if scope is ExtraScope.TABLE:
            value["resolved"] = "<resolved>"
        elif scope is ExtraScope.ROW:
            value["resolved"] = {**value["resolved"], "sql": "<sql>"}
        return value
    if name == "column_details":
        # A PostgreSQL primary key is NOT NULL; SQLite's INTEGER PRIMARY KEY (the jsonb
        # datatable's document table) is not declared so.
        value = {k: {**d, "notnull": d["notnull"] or d["is_pk"]} for k, d in value.items()}
    return value


@pytest_asyncio.fixture(params=PROVIDERS, scope="module", loop_scope="module")
async def pair(request, tmp_path_factory):
    """The same app, datatable and rows on SQLite and on PostgreSQL."""
    tmp = tmp_path_factory.mktemp(request.param)
    prefix = f"{RUN_PREFIX}extras{next(_schema_numbers)}_"
    configs = {
        "sqlite": None,
        "postgres": {
            "main": {"dsn": request.getfixturevalue("postgres_dsn"), "schema_prefix": prefix}
        },
    }
    services = {}
    try:
        for engine, config in configs.items():
            service = await start_service(tmp, request.param, engine, config)
            services[engine] = service
            assert (await service.insert(ROWS)).status_code == 201
        yield services
    finally:
        for service in services.values():
            await close_data_service(service.ds)


def urls(service, scope: ExtraScope) -> str:
    """A page of each scope, with a query string ``_extra=`` is added to."""
    if scope is ExtraScope.TABLE:
        return service.json_path + "?_size=2&_sort_desc=name&"
    if scope is ExtraScope.ROW:
        return service.table_path + "/1.json?"
    sql = f'select id, name, price from "{service.datatable["table"]}" where id < :top order by id'
    return f"{service.database_path}/-/query.json?{urllib.parse.urlencode({'sql': sql})}&top=4&"


CASES = [(scope, name) for scope in ExtraScope for name in names(scope)]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("scope, name", CASES, ids=[f"{s.value}-{n}" for s, n in CASES])
async def test_every_extra_answers_as_core(pair, scope, name):
    answers = {}
    for engine, service in pair.items():
        response = await service.get(urls(service, scope) + f"_extra={name}")
        answers[engine] = (response.status_code, response.json())
    (status, on_sqlite), (pg_status, on_postgres) = answers["sqlite"], answers["postgres"]
    assert pg_status == status, on_postgres
    if scope is ExtraScope.ROW and status == 404:
        return  # a jsonb datatable's view has no row pages, on either engine
    assert status == 200, on_sqlite
    assert name in on_postgres
    is_view = pair["sqlite"].provider == "jsonb"
    expected = normalised(scope, name, on_sqlite[name], is_view)
    assert normalised(scope, name, on_postgres[name], is_view) == expected


@pytest.mark.asyncio(loop_scope="module")
async def test_definitions_are_postgres_ddl(pair):
    """``table_definition`` and ``view_definition`` give PostgreSQL's own DDL (a dialect
    difference: SQLite's is the text it stored)."""
    service = pair["postgres"]
    body = (
        await service.get(service.json_path + "?_extra=table_definition,view_definition")
    ).json()
    table = service.datatable["table"]
    if service.provider == "jsonb":
        assert body["table_definition"] is None
        assert body["view_definition"].startswith(f'CREATE VIEW "{table}" AS\n')
        assert "jsonb_typeof" in body["view_definition"]
    else:
        assert body["view_definition"] is None
        definition = body["table_definition"]
        assert definition.startswith(f'CREATE TABLE "{table}" (\n  "id" bigint NOT NULL,')
        assert "PRIMARY KEY (id)" in definition
        assert "\n);" in definition


@pytest.mark.asyncio
@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
async def test_foreign_key_tables_counts_the_rows_that_point_here(request, tmp_path, engine):
    service = await start_service(tmp_path, "flat_table", engine, postgres_config_for(request))
    try:
        assert (await service.insert(ROWS)).status_code == 201
        schema = {
            "fields": [
                {"name": "line", "type": "integer", "constraints": {"required": True}},
                {"name": "item", "type": "integer"},
            ],
            "primaryKey": ["line"],
            "foreignKeys": [
                {"fields": ["item"], "reference": {"resource": "items", "fields": ["id"]}}
            ],
        }
        response = await service.post(
            "/-/apps/shop/datasources/main/datatables", {"name": "lines", "json_schema": schema}
        )
        assert response.status_code == 201, response.text
        lines = response.json()
        rows = [{"line": 1, "item": 1}, {"line": 2, "item": 1}, {"line": 3, "item": 2}]
        response = await service.post(path_of(lines["insert_url"]), {"rows": rows})
        assert response.status_code == 201, response.text
        body = (await service.get(service.table_path + "/1.json?_extra=foreign_key_tables")).json()
        database = service.datatable["database"]
        assert body["foreign_key_tables"] == [
            {
                "other_table": lines["table"],
                "column": "id",
                "other_column": "item",
                "count": 2,
                "link": f"/{database}/{lines['table']}?item=1",
            }
        ]
    finally:
        await close_data_service(service.ds)
