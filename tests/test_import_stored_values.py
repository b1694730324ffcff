"""What lands in each database by the import's fast paths, against the reference paths
(issue 16): the rows the API reads back and, on PostgreSQL, the stored text of every row
(``t::text``: a NUMERIC column keeps the scale of the text it is given, so 5 and 5.0
differ there while the API reads both as 5.0).

- CSV: the columnar fast path (Arrow checks; COPY of Arrow's CSV, SQLite tuples from Arrow)
  against the reference row validator and the row writers;
- JSON arrays and NDJSON: the fast readers, Arrow's columns of validated records for
  PostgreSQL's COPY (``columnar_copy.records_table``) and SQLite's 0/1 booleans, against
  the reference readers and the row path.
"""

from __future__ import annotations

import json

import psycopg
import psycopg.conninfo
import pytest
import pytest_asyncio
from conftest import POSTGRES_DSN, create_app, create_datasource, create_datatable, path_of

from datasette_dataservice.providers import columnar_copy, postgres_rows
from datasette_dataservice.providers.columnar_copy import copy_csv, records_table
from datasette_dataservice.schema import csv_blocks
from datasette_dataservice.service import import_fast
from datasette_dataservice.service.core import service_for
from datasette_dataservice.service.importer import import_rows


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(csv_blocks, "BLOCK_BYTES", 64)


@pytest_asyncio.fixture
async def ds(engine_ds):
    return engine_ds


def encode(rows: list, fmt: str) -> bytes:
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False).encode()
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()


def stored_text(provider, table: dict) -> list[str]:
    """Every stored row of a Postgres table as PostgreSQL's own text, by id."""
    target = provider.target
    dsn = psycopg.conninfo.make_conninfo(POSTGRES_DSN, dbname=target.database)
    name = provider.table(table["physical_table_name"])
    with psycopg.connect(dsn) as conn:
        return [row[0] for row in conn.execute(f"SELECT t::text FROM {name} t ORDER BY id")]


# -- CSV ------------------------------------------------------------------------------------

CSV_SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer"},
        {"name": "text", "type": "string"},
        {"name": "n", "type": "number"},
        {"name": "ok", "type": "boolean"},
        {"name": "at", "type": "datetime"},
        {"name": "day", "type": "date"},
        {"name": "y", "type": "year"},
        {"name": "mail", "type": "string", "format": "email"},
    ],
    "primaryKey": ["id"],
}
WRITE_CSV = (
    "id,text,n,ok,at,day,y,mail\n"
    "5,,5.0,,,,,\n"
    "6,,5,,,,,\n"
    "7,,12345678901234.0,,,,,\n"
    '1,"",0.1,true,2024-01-31T10:00:00Z,2024-02-29,2024,a@b.co\n'
    "2,,1e20,false,2024-01-30T10:00:00+01:00,,,\n"
    '3,"a ""quoted"", multi\nline \\N text",-0,,2024-01-02T03:04:05.123456,'
    "0001-01-01,0001,x@y.org\n"
    "4,日本語,123456789012345.5,true,,2024-12-31,9999,\n"
)


@pytest_asyncio.fixture
async def root(ds):
    return {"Authorization": f"Bearer {await ds.create_token('root')}"}


@pytest.mark.asyncio
@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
@pytest.mark.parametrize("provider", ["flat_table", "jsonb"])
async def test_the_fast_path_stores_what_the_reference_stores(ds, root, engine, provider):
    await create_app(ds, root, name="a")
    await create_datasource(
        ds, root, "a", slug="d", provider_type=provider, provider_config={"engine": engine}
    )
    stored = {}
    for name, enabled in (("fast", True), ("reference", False)):
        table = await create_datatable(ds, root, "a", "d", name, CSV_SCHEMA)
        service = service_for(ds)
        datatable = await service.datatable("", "a", "d", name)

        async def chunks():
            yield WRITE_CSV.encode()

        import_fast.ENABLED = enabled
        try:
            status = await import_rows(service, datatable, chunks(), format="csv", actor="t")
        finally:
            import_fast.ENABLED = True
        assert status.state == "done", status.error
        rows = (await ds.client.get(path_of(table["json_url"]), headers=root)).json()["rows"]
        stored[name] = sorted(({k: v for k, v in r.items() if k != "_id"} for r in rows), key=str)
        if engine == "postgres" and provider == "flat_table":  # NUMERIC keeps the text's scale
            stored[name + " text"] = stored_text(service.provider_for(datatable), table)
    assert stored["fast"] == stored["reference"]
    assert stored.get("fast text") == stored.get("reference text")
    assert len(stored["fast"]) == 7


# -- JSON and NDJSON ------------------------------------------------------------------------

JSON_SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer"},
        {"name": "text", "type": "string"},
        {"name": "n", "type": "number"},
        {"name": "ok", "type": "boolean"},
        {"name": "at", "type": "datetime"},
        {"name": "day", "type": "date"},
        {"name": "y", "type": "year"},
    ],
    "primaryKey": ["id"],
}
EDGE_RECORDS = [
    {"id": 1, "text": "", "n": 0.1, "ok": True, "at": "2024-01-31T10:00:00Z", "day": "2024-02-29"},
    {"id": 2, "text": None, "n": 1e20, "ok": False, "at": "2024-01-30T10:00:00+01:00", "y": 0},
    {"id": 3, "text": 'a "q", multi\nline \\N \\. \t text', "n": -0.0, "ok": None, "y": 9999},
    {"id": 4, "text": "日本語 😀", "n": 123456789012345.5, "at": "2024-01-02T03:04:05.123456"},
    {"id": 5, "text": "\r\n", "n": 5, "day": "0001-01-01", "y": 2024},
    {"id": 6, "text": ",", "n": 2**53, "at": "9999-12-31T23:59:59Z"},
    {"id": 7, "text": "x", "n": 2**53 + 1},
    {"id": 8, "text": "nul \u0000 inside", "n": 1e-7},
    {"id": 9, "text": "-", "n": 5.0},
    {"id": 2**63 - 1, "text": "big", "n": -(2**53)},
]


@pytest.mark.asyncio
@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
@pytest.mark.parametrize("fmt", ["json", "ndjson"])
async def test_the_json_fast_path_stores_what_the_reference_stores(ds, engine, fmt, monkeypatch):
    """Records written by Arrow (Postgres: CSV text for COPY; SQLite: 0/1 booleans) read back
    as the row path's, with the same outcome: each edge record alone (some fall back to the
    row path, the others need not), then the clean ones together."""
    root = {"Authorization": f"Bearer {await ds.create_token('root')}"}
    await create_app(ds, root, name="a")
    config = {"engine": engine}
    await create_datasource(
        ds, root, "a", slug="d", provider_type="flat_table", provider_config=config
    )
    uploads = [[{**r, "id": r["id"] % 2**62 + 100 * k}] for k, r in enumerate(EDGE_RECORDS)]
    uploads.append([{**r, "id": r["id"] + 10_000} for r in EDGE_RECORDS[:6]])
    uploads.append([EDGE_RECORDS[-1]])
    taken: list[bool] = []

    def counted(fields, rows):
        table = columnar_copy.records_table(fields, rows)
        taken.append(table is not None)
        return table

    stored: dict[str, list] = {}
    for name, enabled in (("fast", True), ("reference", False)):
        table = await create_datatable(ds, root, "a", "d", name, JSON_SCHEMA)
        datatable = await service_for(ds).datatable("", "a", "d", name)
        monkeypatch.setattr(import_fast, "ENABLED", enabled)
        fallback = counted if enabled else (lambda fields, rows: None)
        monkeypatch.setattr(postgres_rows, "records_table", fallback)
        outcomes = []
        for records in uploads:

            async def chunks(records=records):
                yield encode(records, fmt)

            status = await import_rows(service_for(ds), datatable, chunks(), format=fmt, actor="t")
            outcomes.append((status.state, status.error, status.rows_written))
        url = path_of(table["json_url"])
        rows = (await ds.client.get(url, params={"_size": "max"}, headers=root)).json()["rows"]
        stored[name] = [outcomes, sorted(rows, key=lambda row: row["id"])]
        if engine == "postgres":  # the stored text too: NUMERIC keeps a number's scale
            stored[name].append(stored_text(service_for(ds).provider_for(datatable), table))
    assert stored["fast"] == stored["reference"]
    assert len(stored["fast"][1]) >= 10
    if engine == "postgres":
        assert any(taken) and not all(taken), taken


def test_records_the_row_path_must_write():
    """records_table declines what Arrow's CSV could not write as the row path's COPY does."""
    fields = [{"name": "a", "type": "integer"}, {"name": "s", "type": "string"}]
    assert records_table(fields, [{"a": 2**63, "s": "x"}]) is None  # beyond BIGINT
    assert records_table(fields, [{"a": 1, "s": "\ud800"}]) is None  # not UTF-8
    assert records_table(fields, [{"a": 1, "s": "a\x00b"}]) is None  # NUL
    assert records_table(fields, [{"a": True, "s": "x"}]) is None  # a bool is no integer
    assert records_table(fields, [{"a": 1, "s": 5}]) is None
    assert records_table([*fields, {"name": "o", "type": "any"}], [{"a": 1, "s": "x"}]) is None
    numbers = [{"name": "n", "type": "number"}]
    table = records_table(numbers, [{"n": 5}, {"n": 5.0}, {"n": -0.0}, {"n": None}, {"n": 1e20}])
    assert copy_csv(numbers, table) == b'"5"\n"5.0"\n"-0.0"\n\n"1e+20"\n'  # psycopg's text
