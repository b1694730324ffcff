"""Bulk import and validate endpoints, and the import command, on both providers."""

from __future__ import annotations

import asyncio
import tracemalloc
from pathlib import Path

import pytest
import pytest_asyncio
from click.testing import CliRunner
from conftest import (
    assert_error,
    create_app,
    create_datasource,
    create_datatable,
    make_datasette,
    path_of,
)
from datasette.cli import cli

from datasette_dataservice.demo import seed_demo
from datasette_dataservice.service.core import service_for
from datasette_dataservice.service.importer import import_rows

SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "email", "type": "string", "format": "email"},
        {"name": "score", "type": "number", "constraints": {"minimum": 0}},
    ],
    "primaryKey": ["id"],
}
BASE = "/-/apps/a/datasources/d/datatables/t"
GOOD_CSV = "id,email,score\n1,ada@example.com,1.5\n2,alan@example.org,2\n"
UPLOADS = {
    "csv": (GOOD_CSV, "text/csv"),
    "tsv": (GOOD_CSV.replace(",", "\t"), "text/tab-separated-values"),
    "json": (
        '[{"id": 1, "email": "ada@example.com", "score": 1.5},'
        ' {"id": 2, "email": "alan@example.org", "score": 2}]',
        "application/json",
    ),
    "ndjson": (
        '{"id": 1, "email": "ada@example.com", "score": 1.5}\n'
        '{"id": 2, "email": "alan@example.org", "score": 2}\n',
        "application/x-ndjson",
    ),
}


COMBINATIONS = [(p, e) for p in ("flat_table", "jsonb") for e in ("sqlite", "postgres")]


@pytest_asyncio.fixture
async def ds(engine_ds):
    """This module's Datasette can put datasources on Postgres too, in Postgres cases
    (imports there use COPY)."""
    return engine_ds


@pytest_asyncio.fixture(params=COMBINATIONS, ids=["-".join(c) for c in COMBINATIONS])
async def table(request, ds, root):
    provider, engine = request.param
    await create_app(ds, root, name="a")
    await create_datasource(
        ds, root, "a", slug="d", provider_type=provider, provider_config={"engine": engine}
    )
    return await create_datatable(ds, root, "a", "d", "t", SCHEMA)


async def stored(ds, root, table) -> list[dict]:
    rows = (await ds.client.get(path_of(table["json_url"]), headers=root)).json()["rows"]
    return sorted(({k: v for k, v in r.items() if k != "_id"} for r in rows), key=lambda r: r["id"])


EXPECTED = [
    {"id": 1, "email": "ada@example.com", "score": 1.5},
    {"id": 2, "email": "alan@example.org", "score": 2},
]


@pytest.mark.asyncio
@pytest.mark.parametrize("format", list(UPLOADS))
async def test_each_format_imports(ds, root, table, format):
    body, content_type = UPLOADS[format]
    response = await ds.client.post(
        BASE + "/import", content=body, headers={**root, "content-type": content_type}
    )
    assert response.status_code == 201, response.json()
    result = response.json()
    assert (result["state"], result["rows_read"], result["rows_written"]) == ("done", 2, 2)
    assert await stored(ds, root, table) == EXPECTED
    status = await ds.client.get(f"{BASE}/imports/{result['id']}.json", headers=root)
    assert status.json()["state"] == "done"


@pytest.mark.asyncio
async def test_bad_rows_refuse_the_whole_import_with_a_report(ds, root, table):
    upload = GOOD_CSV + "3,not-an-email,1\n4,d@example.com,-1\n"
    response = await ds.client.post(BASE + "/import?format=csv", content=upload, headers=root)
    body = assert_error(response, 400)
    errors = [(e["rowNumber"], e["fieldName"], e["type"]) for e in body["report"]["errors"]]
    assert errors == [(4, "email", "type-error"), (5, "score", "constraint-error")]
    assert await stored(ds, root, table) == []


@pytest.mark.asyncio
async def test_skip_keeps_the_valid_rows(ds, root, table):
    upload = GOOD_CSV + "3,not-an-email,1\n1,dup@example.com,3\n"
    response = await ds.client.post(
        BASE + "/import?format=csv&on_invalid=skip", content=upload, headers=root
    )
    assert response.status_code == 201, response.json()
    result = response.json()
    assert (result["rows_written"], result["rows_invalid"]) == (2, 2)
    types = sorted(e["type"] for e in result["report"]["errors"])
    assert types in (["type-error", "unique-error"], ["primary-key", "type-error"])
    assert await stored(ds, root, table) == EXPECTED


@pytest.mark.asyncio
async def test_upsert_by_primary_key(ds, root, table):
    await ds.client.post(BASE + "/import?format=csv", content=GOOD_CSV, headers=root)
    update = "id,email,score\n2,turing@example.org,9\n3,new@example.com,0\n"
    response = await ds.client.post(
        BASE + "/import?format=csv&mode=upsert", content=update, headers=root
    )
    assert response.status_code == 201, response.json()
    assert await stored(ds, root, table) == [
        EXPECTED[0],
        {"id": 2, "email": "turing@example.org", "score": 9},
        {"id": 3, "email": "new@example.com", "score": 0},
    ]


@pytest.mark.asyncio
async def test_malformed_uploads_are_400s(ds, root, table):
    for query, body in [
        ("format=json", "{not json"),
        ("format=json", '{"id": 1}'),
        ("format=ndjson", '{"id": 1}\nnope\n'),
        ("format=xml", "<a/>"),
        ("format=csv", ""),
    ]:
        response = await ds.client.post(f"{BASE}/import?{query}", content=body, headers=root)
        assert_error(response, 400)
    assert await stored(ds, root, table) == []


@pytest.mark.asyncio
async def test_validate_writes_nothing(ds, root, table):
    response = await ds.client.post(
        BASE + "/validate",
        json={"rows": [{"id": 1, "email": "x"}, {"id": "two"}]},
        headers=root,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is False
    found = {(e["rowNumber"], e["fieldName"], e["type"]) for e in body["report"]["errors"]}
    assert {(1, "email", "type-error"), (2, "id", "type-error")} <= found
    csv_response = await ds.client.post(
        BASE + "/validate", content=GOOD_CSV, headers={**root, "content-type": "text/csv"}
    )
    assert csv_response.json()["valid"] is True
    assert await stored(ds, root, table) == []


@pytest.mark.asyncio
async def test_import_needs_manage_permission(ds, table):
    response = await ds.client.post(BASE + "/import?format=csv", content=GOOD_CSV)
    assert_error(response, 401)


@pytest.mark.asyncio
async def test_import_memory_stays_flat(ds, root, table):
    """A 100,000-row upload streams through without being held in memory."""
    lines = (f"{i},user{i}@example.com,{i % 100}\n".encode() for i in range(1, 100_001))

    async def chunks():
        yield b"id,email,score\n"
        batch = []
        for line in lines:
            batch.append(line)
            if len(batch) == 2000:
                yield b"".join(batch)
                batch = []
        yield b"".join(batch)

    service = service_for(ds)
    datatable = await service.datatable("", "a", "d", "t")
    tracemalloc.start()
    status = await import_rows(service, datatable, chunks(), format="csv", actor="test")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert (status.state, status.rows_written) == ("done", 100_000)
    assert peak < 40 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB for a ~4 MB upload"


def test_cli_import(tmp_path):

    async def setup():
        datasette = make_datasette(tmp_path / "data")
        await datasette.invoke_startup()
        root = {"Authorization": f"Bearer {await datasette.create_token('root')}"}
        await create_app(datasette, root, name="a")
        await create_datasource(datasette, root, "a", slug="d")
        datatable = await create_datatable(datasette, root, "a", "d", "t", SCHEMA)
        datasette.close()
        return datatable

    async def check(datatable):
        datasette = make_datasette(tmp_path / "data")
        await datasette.invoke_startup()
        root = {"Authorization": f"Bearer {await datasette.create_token('root')}"}
        rows = await stored(datasette, root, datatable)
        log = (await datasette.client.get("/-/apps/a/operations.json", headers=root)).json()
        datasette.close()
        return rows, [op["operation"] for op in log["operations"]]

    datatable = asyncio.run(setup())
    upload = tmp_path / "rows.csv"
    upload.write_text(GOOD_CSV + "3,bad,1\n")
    arguments = ["dataservice", "import", str(tmp_path / "data"), "a", "d", "t", str(upload)]
    runner = CliRunner()
    refused = runner.invoke(cli, arguments)
    assert refused.exit_code == 1, refused.output
    assert "row 4" in refused.output
    kept = runner.invoke(cli, [*arguments, "--on-invalid", "skip"])
    assert kept.exit_code == 0, kept.output
    assert "2 written, 1 invalid" in kept.output
    rows, operations = asyncio.run(check(datatable))
    assert rows == EXPECTED
    assert operations[-2:] == ["import_rows", "import_rows"]


@pytest.mark.asyncio
async def test_self_references_across_batches_and_null_objects(ds, root):
    await create_app(ds, root, name="s")
    await create_datasource(ds, root, "s", slug="d")
    schema = {
        "fields": [
            {"name": "id", "type": "integer"},
            {"name": "up", "type": "integer"},
            {"name": "extra", "type": "object"},
        ],
        "primaryKey": ["id"],
        "foreignKeys": [{"fields": ["up"], "reference": {"resource": "", "fields": ["id"]}}],
    }
    table = await create_datatable(ds, root, "s", "d", "tree", schema)
    upload = 'id,up,extra\n1,,\n2,1,\n3,2,"{""a"": 1}"\n'
    response = await ds.client.post(
        "/-/apps/s/datasources/d/datatables/tree/import?format=csv&batch_size=2",
        content=upload,
        headers=root,
    )
    assert response.status_code == 201, response.json()
    rows = (await ds.client.get(path_of(table["json_url"]), headers=root)).json()["rows"]
    assert [(r["id"], r["up"], r["extra"]) for r in rows] == [
        (1, None, None),
        (2, 1, None),
        (3, 2, '{"a": 1}'),
    ]
    orphan = "id,up,extra\n9,99,\n"
    refused = await ds.client.post(
        "/-/apps/s/datasources/d/datatables/tree/import?format=csv", content=orphan, headers=root
    )
    assert assert_error(refused, 400)["report"]["errors"][0]["type"] == "foreign-key"


@pytest.mark.asyncio
async def test_the_readme_import_example_runs_as_written(ds, root):
    """README: import docs/examples/users.csv into the demo's users (mode=upsert)."""
    assert await seed_demo(ds)
    csv = Path(__file__).resolve().parents[1] / "docs" / "examples" / "users.csv"
    response = await ds.client.post(
        "/-/apps/demo/datasources/users-db/datatables/users/import?mode=upsert",
        content=csv.read_bytes(),
        headers={**root, "Content-Type": "text/csv"},
    )
    assert response.status_code in (200, 201), response.text
    rows = (await ds.client.get("/demo_users-db/demo_users.json?_shape=array", headers=root)).json()
    assert [r["id"] for r in rows] == [1, 2, 3, 4]
