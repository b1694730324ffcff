"""Bounded input and hostile names: 413/400 answers, names always quoted, never a 500."""

from __future__ import annotations

import json

import pytest
import pytest_asyncio
from conftest import (
    assert_error,
    create_app,
    create_datasource,
    insert_row,
    make_datasette,
    path_of,
)


@pytest_asyncio.fixture
async def small(tmp_path):
    datasette = make_datasette(
        tmp_path / "data",
        max_body_bytes=2000,
        max_rows_per_request=5,
        max_fields=3,
        max_name_length=10,
        max_json_depth=5,
    )
    await datasette.invoke_startup()
    root = {"Authorization": f"Bearer {await datasette.create_token('root')}"}
    await create_app(datasette, root, name="a")
    await create_datasource(datasette, root, "a", slug="d")
    yield datasette, root
    datasette.close()


TABLES = "/-/apps/a/datasources/d/datatables"


@pytest.mark.asyncio
async def test_limits_answer_413_and_400(small):
    ds, root = small
    big = {"name": "x", "description": "y" * 3000}
    assert_error(await ds.client.post("/-/apps", json=big, headers=root), 413)
    deep: dict = {"name": "deep"}
    cursor = deep
    for _ in range(10):
        cursor["description"] = {}
        cursor = cursor["description"]
    body = assert_error(await ds.client.post("/-/apps", json=deep, headers=root), 400)
    assert "levels deep" in body["error"]
    many = {"fields": [{"name": f"f{i}", "type": "string"} for i in range(4)]}
    body = assert_error(
        await ds.client.post(TABLES, json={"name": "t", "json_schema": many}, headers=root), 400
    )
    assert "at most 3 fields" in body["error"]
    long = {"fields": [{"name": "x" * 11, "type": "string"}]}
    body = assert_error(
        await ds.client.post(TABLES, json={"name": "t", "json_schema": long}, headers=root), 400
    )
    assert "longer than 10" in body["error"]
    table = (
        await ds.client.post(
            TABLES, json={"name": "t", "json_schema": {"fields": [{"name": "n"}]}}, headers=root
        )
    ).json()
    rows = {"rows": [{"n": str(i)} for i in range(6)]}
    response = await ds.client.post(path_of(table["insert_url"]), json=rows, headers=root)
    assert_error(response, 413)


@pytest.mark.asyncio
async def test_very_deep_json_is_a_400_not_a_crash(small):
    ds, root = small
    body = "[" * 100_000 + "]" * 100_000
    response = await ds.client.post(
        "/-/apps", content=body[:1900], headers={**root, "content-type": "application/json"}
    )
    assert_error(response, 400)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "name",
    ['x"; drop table y; --', "sqlite_master", "SQLITE_temp", "a b", "", "1abc", "ä"],
)
async def test_hostile_datatable_names_are_refused(tmp_path, name):
    ds = make_datasette(tmp_path / "data")
    await ds.invoke_startup()
    root = {"Authorization": f"Bearer {await ds.create_token('root')}"}
    await create_app(ds, root, name="a")
    await create_datasource(ds, root, "a", slug="d")
    schema = {"fields": [{"name": "x", "type": "string"}]}
    response = await ds.client.post(
        TABLES, json={"name": name, "json_schema": schema}, headers=root
    )
    assert_error(response, 400)


@pytest.mark.asyncio
@pytest.mark.parametrize("provider_type", ["flat_table", "jsonb"])
async def test_hostile_field_names_are_quoted_and_round_trip(tmp_path, provider_type):
    ds = make_datasette(tmp_path / "data")
    await ds.invoke_startup()
    root = {"Authorization": f"Bearer {await ds.create_token('root')}"}
    await create_app(ds, root, name="a")
    await create_datasource(ds, root, "a", slug="d", provider_type=provider_type)
    names = ['x"; drop table y; --', "select", "order", "from", "it's", "naïve", "a.b", "[x]"]
    schema = {"fields": [{"name": n, "type": "string"} for n in names]}
    response = await ds.client.post(TABLES, json={"name": "t", "json_schema": schema}, headers=root)
    assert response.status_code == 201, response.json()
    table = response.json()
    row = {n: f"value of {n}" for n in names}
    assert (await insert_row(ds, root, table, row)).status_code == 201
    stored = (await ds.client.get(path_of(table["json_url"]), headers=root)).json()["rows"]
    assert [{k: v for k, v in r.items() if k not in ("_id", "rowid")} for r in stored] == [row]
    sql = 'select "select", "it\'s" from ' + json.dumps(table["table"])
    response = await ds.client.get(
        f"/{table['database']}/-/query.json", params={"sql": sql}, headers=root
    )
    assert response.json()["rows"] == [{"select": "value of select", "it's": "value of it's"}]


@pytest.mark.asyncio
async def test_names_differing_only_in_case_are_refused(tmp_path):
    ds = make_datasette(tmp_path / "data")
    await ds.invoke_startup()
    root = {"Authorization": f"Bearer {await ds.create_token('root')}"}
    await create_app(ds, root, name="a")
    await create_datasource(ds, root, "a", slug="d")
    schema = {"fields": [{"name": "x", "type": "string"}]}
    assert (
        await ds.client.post(TABLES, json={"name": "People", "json_schema": schema}, headers=root)
    ).status_code == 201
    response = await ds.client.post(
        TABLES, json={"name": "people", "json_schema": schema}, headers=root
    )
    assert_error(response, 409)
    twins = {"fields": [{"name": "Email", "type": "string"}, {"name": "email", "type": "string"}]}
    response = await ds.client.post(
        TABLES, json={"name": "twins", "json_schema": twins}, headers=root
    )
    assert_error(response, 400)
