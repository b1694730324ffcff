"""CSV on Postgres-backed databases (issue 14): ``/db/table.csv`` (filters, ``_sort``,
``_size``, ``_stream``, ``_dl``, ``_labels``), ``/db/table/pk.csv`` and
``/db/-/query.csv`` give the bytes core gives for the same datatable on SQLite, and a
stream sends every row, however many pages that is."""

from __future__ import annotations

import re
import urllib.parse

import pytest
from conftest import close_data_service
from datasette import hookimpl
from datasette.plugins import pm
from test_contract import ENGINES, PROVIDERS, ROWS, start_service, without_volatile

SETTINGS = {"default_page_size": 4, "max_returned_rows": 6}
MANY = [
    {"id": 100 + i, "name": f"n{i % 7}", "price": i * 1.5, "active": i % 2 == 0} for i in range(23)
]
HEADERS = ("content-type", "content-disposition", "cache-control", "referrer-policy")


async def answers(tmp_path, postgres_config, provider, paths) -> dict[str, list]:
    """engine -> [(path, status, chosen headers, body)] for each of ``paths(service)``."""
    out = {}
    for engine in ENGINES:
        config = postgres_config if engine == "postgres" else None
        service = await start_service(tmp_path, provider, engine, config, settings=SETTINGS)
        try:
            response = await service.insert(ROWS + MANY)
            assert response.status_code == 201, response.text
            out[engine] = []
            for path in paths(service):
                response = await service.get(path)
                headers = {k: response.headers.get(k) for k in HEADERS}
                out[engine].append((path, response.status_code, headers, response.content))
        finally:
            await close_data_service(service.ds)
    return out


def table_csv(service) -> str:
    return service.json_path.rsplit(".json", 1)[0] + ".csv"


def csv_paths(service) -> list[str]:
    table = table_csv(service)
    sql = urllib.parse.urlencode(
        {"sql": f'select id, name, price, active from "{service.datatable["table"]}" where id < :n'}
        | {"n": 110}
    )
    return [
        table,
        table + "?_size=2",
        table + "?_size=max",
        table + "?_sort=price",
        table + "?_sort_desc=name&_size=3",
        table + "?price__gte=3&_sort=name",
        table + "?name__contains=n&_nofacet=1&_nocount=1",
        table + "?_col=name&_col=price",
        table + "?_dl=1",
        table + "?_header=off",
        table + "?_labels=on",
        table + "?_stream=on",
        table + "?_stream=on&_sort_desc=price",
        table + "?_stream=on&_size=2&price__gt=3",
        table + "?_stream=on&_next=3",  # 400, as core
        table + "?_sort=nope",  # 400
        table + "?_size=x",  # 400
        f"{service.table_path}/1.csv",
        f"{service.table_path}/999.csv",
        f"{service.database_path}/-/query.csv?{sql}",
        f"{service.database_path}/-/query.csv?{sql}&_dl=1",
        f"{service.database_path}/-/query.csv",  # 400: ?sql= is required
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_csv_is_byte_for_byte_what_core_gives(tmp_path, postgres_config, provider):
    runs = await answers(tmp_path, postgres_config, provider, csv_paths)
    for on_sqlite, on_postgres in zip(runs["sqlite"], runs["postgres"], strict=True):
        assert on_postgres[:3] == on_sqlite[:3]
        if on_sqlite[1] == 200:  # error pages name the engine's own SQL
            assert on_postgres[3] == on_sqlite[3], on_sqlite[0]


@pytest.mark.asyncio
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_stream_sends_every_row(tmp_path, postgres_config, provider):
    """More rows than max_returned_rows and than a page: all of them, once, in order."""
    runs = await answers(
        tmp_path, postgres_config, provider, lambda s: [table_csv(s) + "?_stream=1&_sort=price"]
    )
    for engine in ENGINES:
        ((_, status, _, body),) = runs[engine]
        lines = body.decode().splitlines()
        assert status == 200 and len(lines) == 1 + len(ROWS) + len(MANY), (engine, body)
    assert runs["postgres"] == runs["sqlite"]


# Output renderers from plugins --------------------------------------------------------------


class ProbeRenderer:
    """A plugin with an output renderer (``.probe``) that records what it is called with."""

    def __init__(self):
        self.calls: list[dict] = []

    @hookimpl
    def register_output_renderer(self, datasette):
        def render(
            datasette, columns, rows, sql, query_name, database, table, request, view_name,
            truncated, error, args, data,
        ):  # fmt: skip
            self.calls.append(
                {
                    "columns": columns,
                    "rows": [list(row) for row in rows],
                    "by_name": [{c: row[c] for c in row.keys()} for row in rows],
                    "by_index": [row[0] for row in rows],
                    "sql": isinstance(sql, str),  # each engine's own SQL
                    "query_name": query_name,
                    "database": database,
                    "table": table,
                    "path": request.path,
                    "view_name": view_name,
                    "truncated": truncated,
                    "error": error,
                    "args": {k: args.getlist(k) for k in args},
                    "data": without_volatile(
                        {**data, "rows": [dict(row) for row in data.get("rows") or []]}
                    ),
                    "data_rows": {type(row).__name__ for row in data.get("rows") or []},
                }
            )
            return {"body": f"{len(rows)} rows", "content_type": "text/x-probe"}

        return {"extension": "probe", "render": render}


def probe_paths(service) -> list[str]:
    table = service.json_path.rsplit(".json", 1)[0]
    relation = service.datatable["table"]
    sql = urllib.parse.urlencode({"sql": f'select id, name from "{relation}" where id < 3'})
    return [
        table + ".probe?_size=2&_sort=name",
        table + ".probe?price__gte=3&_labels=on",
        f"{service.table_path}/1.probe",
        f"{service.database_path}/-/query.probe?{sql}",
        table + ".tsv?_size=3",
        table + ".tsv?_dl=1&_col=name",
        f"{service.database_path}/-/query.tsv?{sql}",
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_plugin_renderers_are_called_as_core_calls_them(tmp_path, postgres_config, provider):
    probe = ProbeRenderer()
    pm.register(probe, name="probe-renderer")
    try:
        runs = await answers(tmp_path, postgres_config, provider, probe_paths)
    finally:
        pm.unregister(name="probe-renderer")
    calls = len(probe.calls) // 2
    assert calls == 4
    for on_sqlite, on_postgres in zip(probe.calls[:calls], probe.calls[calls:], strict=True):
        on_sqlite["data_rows"] = {"dict" if t == "dict" else "row" for t in on_sqlite["data_rows"]}
        on_postgres["data_rows"] = {
            "dict" if t == "dict" else "row" for t in on_postgres["data_rows"]
        }
        assert on_postgres == on_sqlite
    for on_sqlite, on_postgres in zip(runs["sqlite"], runs["postgres"], strict=True):
        assert on_sqlite[1] == 200
        assert on_postgres == on_sqlite
    tsv = runs["postgres"][4][3].decode()
    assert "id\tname\tprice\tactive" in tsv.splitlines()[0] and "\t9.5\t1\t" in tsv
    disposition = runs["postgres"][5][2]["content-disposition"]
    assert re.fullmatch(r'attachment; filename="shop_items(_view)?\.tsv"', disposition)


def export_parts(html: str) -> tuple[list[str], list[str]]:
    """The page's export links and its CSV form's fields, as a person sees them."""
    links = re.search(r'<p class="export-links">(.*?)</p>', html, re.S).group(1)
    form = re.search(
        r'<form class="core" action="([^"]*\.csv)" method="get">(.*?)</form>', html, re.S
    )
    assert form, "no CSV export form"
    names = re.findall(r'name="([^"]+)"', form.group(2))
    return re.findall(r">([^<>]+)</a>", links), names


@pytest.mark.asyncio
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_the_table_page_offers_csv_as_core_does(tmp_path, postgres_config, provider):
    """The HTML table page links its CSV (and every format) and has core's CSV export form."""

    def pages(service) -> list[str]:
        page = service.json_path.rsplit(".json", 1)[0]
        return [page, page + "?price__gte=3&_sort=name"]

    found = await answers(tmp_path, postgres_config, provider, pages)
    for (path, status, _, body), (_, pg_status, _, pg_body) in zip(
        found["sqlite"], found["postgres"], strict=True
    ):
        assert status == pg_status == 200, path
        expected = export_parts(body.decode())
        assert "CSV" in expected[0] and "json" in expected[0]
        assert export_parts(pg_body.decode()) == expected, path
