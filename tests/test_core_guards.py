"""Datasette's own schema-changing endpoints cannot desynchronise catalog and tables."""

from __future__ import annotations

import re

import pytest
from conftest import create_app, create_datasource, create_datatable

SCHEMA = {"fields": [{"name": "x", "type": "integer"}]}


@pytest.mark.asyncio
@pytest.mark.parametrize("provider_type", ["flat_table", "jsonb"])
async def test_core_drop_and_alter_are_refused_on_managed_tables(ds, root, provider_type):
    await create_app(ds, root, name="a")
    source = await create_datasource(ds, root, "a", slug="d", provider_type=provider_type)
    datatable = await create_datatable(ds, root, "a", "d", "t", SCHEMA)
    database, table = source["database"], datatable["physical_table_name"]
    alter = {"operations": [{"op": "add_column", "args": {"name": "y", "type": "text"}}]}
    for path, body in [
        (f"/{database}/{table}/-/drop", {"confirm": True}),
        (f"/{database}/{table}/-/alter", alter),
    ]:
        response = await ds.client.post(path, json=body, headers=root)
        assert response.status_code == 403, (path, response.text)
        assert "/-/apps/a/datasources/d/datatables/t" in response.json()["error"]
    assert await ds.get_database(database).table_exists(table)
    response = await ds.client.get(f"/{database}/{table}.json?_extra=columns", headers=root)
    assert "y" not in response.json()["columns"]


@pytest.mark.asyncio
async def test_the_drop_refusal_names_a_purge_that_works_as_written(ds, root):
    await create_app(ds, root, name="a")
    source = await create_datasource(ds, root, "a", slug="d")
    datatable = await create_datatable(ds, root, "a", "d", "people", SCHEMA)
    database, table = source["database"], datatable["physical_table_name"]
    response = await ds.client.post(
        f"/{database}/{table}/-/drop", json={"confirm": True}, headers=root
    )
    assert response.status_code == 403
    url = re.search(r"DELETE (\S+)", response.json()["error"]).group(1)
    purged = await ds.client.delete(url, headers=root)
    assert purged.status_code == 200, purged.text
    assert not await ds.get_database(database).table_exists(table)


@pytest.mark.asyncio
async def test_unmanaged_tables_beside_managed_ones_keep_core_behaviour(ds, root):
    """A table no datatable describes (from before the database was managed, or written by
    another plugin's ``execute_write``, which no route sees) is core's: ``/-/drop`` drops it.
    ``/-/create`` cannot add one (tests/test_managed_writes.py)."""
    await create_app(ds, root, name="a")
    source = await create_datasource(ds, root, "a", slug="d")
    await create_datatable(ds, root, "a", "d", "t", SCHEMA)
    database = source["database"]
    await ds.get_database(database).execute_write("create table scratch (id integer)")
    drop = await ds.client.post(f"/{database}/scratch/-/drop", json={"confirm": True}, headers=root)
    assert drop.status_code == 200
    assert not await ds.get_database(database).table_exists("scratch")


@pytest.mark.asyncio
async def test_catalog_cannot_be_written_through_core_even_by_root(ds, root):
    await create_app(ds, root, name="a")
    for path, body in [
        ("/_dataservice/apps/-/insert", {"row": {"name": "x", "slug": "x"}}),
        ("/_dataservice/apps/1/-/delete", {}),
        ("/_dataservice/apps/-/drop", {"confirm": True}),
    ]:
        response = await ds.client.post(path, json=body, headers=root)
        assert response.status_code == 403, (path, response.text)
    apps = (await ds.client.get("/-/apps.json", headers=root)).json()
    assert [a["slug"] for a in apps["apps"]] == ["a"]


@pytest.mark.asyncio
async def test_a_soft_deleted_datatable_leaves_its_database_until_restored(tmp_path):
    from conftest import make_datasette

    ds = make_datasette(tmp_path / "data")
    await ds.invoke_startup()
    root = {"Authorization": f"Bearer {await ds.create_token('root')}"}
    await create_app(ds, root, name="a")
    source = await create_datasource(ds, root, "a", slug="d")
    await create_datatable(ds, root, "a", "d", "t", SCHEMA)
    table = f"/{source['database']}/a_t.json"
    assert (await ds.client.get(table)).status_code == 200
    assert (await ds.client.get(f"/{source['database']}.json")).json()["tables"]
    await ds.client.delete("/-/apps/a/datasources/d/datatables/t", headers=root)
    assert (await ds.client.get(table)).status_code == 404
    listed = (await ds.client.get(f"/{source['database']}.json")).json()
    assert [t["name"] for t in listed["tables"]] == []
    assert (await ds.client.get(table, headers=root)).status_code == 404  # in the trash
    await ds.client.post("/-/apps/a/datasources/d/datatables/t/restore", headers=root)
    assert (await ds.client.get(table)).status_code == 200
    ds.close()
