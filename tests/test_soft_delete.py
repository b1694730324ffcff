"""Soft delete means invisible (issue 12 item 4): a soft-deleted datatable's table leaves the
served database, so no SQL, listing or URL reaches its rows or names it; restore brings it all
back unchanged. Parametrized over {flat_table, jsonb} x {sqlite, postgres}."""

from __future__ import annotations

import json
import urllib.parse

import pytest
import pytest_asyncio
from conftest import (
    assert_error,
    close_data_service,
    make_datasette,
    path_of,
    postgres_config_for,
)
from test_contract import COMBINATIONS, ROWS, SCHEMA, start_service

from datasette_dataservice.providers.base import TableSpec
from datasette_dataservice.service.core import service_for
from datasette_dataservice.service.datatables import table_spec

ABSENT = "never_existed"
BASE = "/-/apps/shop/datasources/main/datatables"


@pytest_asyncio.fixture(params=COMBINATIONS, ids=["-".join(c) for c in COMBINATIONS])
async def stocked(request, tmp_path):
    provider, engine = request.param
    postgres_config = postgres_config_for(request)
    service = await start_service(tmp_path, provider, engine, postgres_config)
    service.postgres_config = postgres_config
    if postgres_config:
        service.prefix = postgres_config["main"]["schema_prefix"]  # this test's schemas only
    assert (await service.insert(ROWS)).status_code == 201
    yield service
    await close_data_service(service.ds)


def served_resource(service) -> str:
    """The table or view the datatable's rows are served from."""
    return urllib.parse.unquote(service.json_path.split("?")[0].rsplit("/", 1)[1]).removesuffix(
        ".json"
    )


async def anonymous(service, path: str, method: str = "get", body=None):
    if method == "get":
        return await service.ds.client.get(path)
    return await service.ds.client.post(path, json=body or {})


async def assert_as_if_absent(service, path: str, name: str, method="get", body=None):
    """Non-root gets for ``name`` exactly what it gets for a name that never existed."""
    seen = await anonymous(service, path, method, body)
    never = await anonymous(service, path.replace(name, ABSENT), method, body)
    assert seen.status_code == never.status_code, (path, seen.status_code, seen.text[:300])
    assert seen.text.replace(name, ABSENT) == never.text, (path, seen.text[:300])
    return seen


def query_path(service, sql: str) -> str:
    return f"{service.database_path}/-/query.json?" + urllib.parse.urlencode({"sql": sql})


def catalog_queries(service) -> list[str]:
    """What user SQL can ask the engine about the datasource's tables (on Postgres, of this
    test's schemas only: other tests' tables share the server)."""
    if service.engine == "sqlite":
        return ["select name, tbl_name, sql from sqlite_master"]
    ours = f"like '{service.prefix}%'"
    return [
        f"select schemaname, tablename from pg_tables where schemaname {ours}",
        f"select schemaname, viewname from pg_views where schemaname {ours}",
        f"select schemaname, indexname, indexdef from pg_indexes where schemaname {ours}",
        "select n.nspname, c.relname from pg_class c join pg_namespace n"
        f" on n.oid = c.relnamespace where n.nspname {ours}",
        "select n.nspname, c.conname from pg_constraint c join pg_namespace n"
        f" on n.oid = c.connamespace where n.nspname {ours}",
    ]


async def storage_snapshot(service) -> dict:
    """Everything the engine stores about the datasource's tables, rows included."""
    if service.engine == "sqlite":
        db = service.ds.get_database(service.datatable["database"])
        master = await db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY 2")
        table = service.datatable["physical_table_name"]
        rows = await db.execute(f'SELECT rowid, * FROM "{table}" ORDER BY rowid')
        return {"master": [list(r) for r in master], "rows": [list(r) for r in rows]}
    queries = {
        "relations": "SELECT c.relname, c.relkind FROM pg_class c WHERE c.relnamespace ="
        " %(s)s::regnamespace ORDER BY 1",
        "columns": "SELECT table_name, column_name, data_type, is_nullable, column_default,"
        " is_identity FROM information_schema.columns WHERE table_schema = %(s)s ORDER BY 1,"
        " ordinal_position",
        "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
        " FROM pg_constraint WHERE connamespace = %(s)s::regnamespace ORDER BY 1, 2",
        "indexes": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %(s)s ORDER BY 1",
        "views": "SELECT viewname, definition FROM pg_views WHERE schemaname = %(s)s ORDER BY 1",
        "grants": "SELECT table_name, grantee, privilege_type FROM"
        " information_schema.role_table_grants WHERE table_schema = %(s)s ORDER BY 1, 2, 3",
    }
    target = service_for(service.ds).postgres_target(service.datatable["database"])
    table = f'"{target.schema}"."{service.datatable["physical_table_name"]}"'
    snapshot = {}
    async with target.connect() as conn:  # the datasource's own database
        for key, sql in queries.items():
            cursor = await conn.execute(sql, {"s": target.schema})
            snapshot[key] = await cursor.fetchall()
        order = "id" if service.provider == "jsonb" else "1"
        cursor = await conn.execute(f"SELECT * FROM {table} ORDER BY {order}")
        snapshot["rows"] = await cursor.fetchall()
    return snapshot


@pytest.mark.asyncio
async def test_a_soft_deleted_datatable_is_invisible_and_restore_brings_it_back(stocked):
    service = stocked
    table = service.datatable["physical_table_name"]
    resource = served_resource(service)  # jsonb: the view
    before = await storage_snapshot(service)
    listing_before = (await service.get(f"{service.database_path}.json")).json()
    for name in {table, resource}:  # readable before: the checks below are not vacuous
        response = await anonymous(service, query_path(service, f'select * from "{name}"'))
        assert response.status_code == 200 and len(response.json()["rows"]) == len(ROWS)

    response = await service.ds.client.delete(f"{BASE}/items", headers=service.headers)
    assert response.status_code == 200, response.text

    for name in {table, resource}:
        for sql in (f'select * from "{name}"', f"select count(*) from {name}"):
            response = await assert_as_if_absent(service, query_path(service, sql), name)
            assert response.status_code >= 400
        for path in (
            f"{service.database_path}/{name}",
            f"{service.database_path}/{name}.json",
            f"{service.database_path}/{name}.csv",
            f"{service.database_path}/{name}/1",
            f"{service.database_path}/{name}/1.json",
        ):
            assert (await assert_as_if_absent(service, path, name)).status_code == 404
        for path, body in (
            (f"{service.database_path}/{name}/-/insert", {"row": {"id": 9}}),
            (f"{service.database_path}/{name}/-/upsert", {"rows": [{"id": 1}]}),
            (f"{service.database_path}/{name}/1/-/update", {"update": {"name": "x"}}),
            (f"{service.database_path}/{name}/1/-/delete", {}),
            (f"{service.database_path}/{name}/-/drop", {"confirm": True}),
        ):
            response = await assert_as_if_absent(service, path, name, "post", body)
            assert response.status_code == 404, (path, response.text)
    for sql in catalog_queries(service):
        response = await anonymous(service, query_path(service, sql))
        assert table not in response.text, (sql, response.text[:500])
    listing = await anonymous(service, f"{service.database_path}.json")
    assert listing.status_code == 200 and table not in listing.text
    assert table in json.dumps(listing_before)
    for path in (
        f"{BASE}/items/operations.json",
        f"{BASE}/items.json",
        f"{BASE}/items/schema.json",
    ):
        assert_error(await anonymous(service, path), 404)
    operations = await anonymous(service, "/-/apps/shop/operations.json")
    assert operations.status_code == 200 and "items" not in operations.text
    # Those who may manage the app see it on request, to restore or purge it.
    for path in (f"{BASE}/items/operations.json", "/-/apps/shop/operations.json"):
        response = await service.get(path + "?include_deleted=1")
        assert response.status_code == 200 and "delete_datatable" in response.text

    response = await service.post(f"{BASE}/items/restore")
    assert response.status_code == 200, response.text
    assert await storage_snapshot(service) == before
    listing_after = (await service.get(f"{service.database_path}.json")).json()
    assert listing_after.get("table_columns") == listing_before.get("table_columns")
    assert [t["name"] for t in listing_after["tables"]] == [
        t["name"] for t in listing_before["tables"]
    ]
    for name in {table, resource}:
        response = await anonymous(service, query_path(service, f'select * from "{name}"'))
        assert response.status_code == 200 and len(response.json()["rows"]) == len(ROWS)


ORDERS = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "item_id", "type": "integer"},
    ],
    "primaryKey": ["id"],
    "foreignKeys": [{"fields": ["item_id"], "reference": {"resource": "items", "fields": ["id"]}}],
}


async def create_orders(service) -> dict:
    response = await service.post(
        "/-/apps/shop/datasources/main/datatables", {"name": "orders", "json_schema": ORDERS}
    )
    assert response.status_code == 201, response.text
    orders = response.json()
    row = {"id": 1, "item_id": 1}
    body = {"rows": service.body_rows([row])}
    response = await service.post(path_of(orders["insert_url"]), body)
    assert response.status_code == 201, response.text
    return orders


def without_rows(snapshot: dict) -> dict:
    return {k: v for k, v in snapshot.items() if k != "rows"}


@pytest.mark.asyncio
async def test_foreign_keys_never_cross_between_live_and_deleted_tables(stocked):
    service = stocked
    await create_orders(service)
    before = without_rows(await storage_snapshot(service))
    body = assert_error(
        await service.ds.client.delete(f"{BASE}/items", headers=service.headers), 409
    )
    assert '"orders" has a foreign key to it' in body["error"]

    assert (
        await service.ds.client.delete(f"{BASE}/orders", headers=service.headers)
    ).status_code == 200
    # The deleted child holds no live row: its parent row can go.
    response = await service.post(f"{service.table_path}/1/-/delete")
    assert response.status_code == 200, response.text
    body = assert_error(await service.post(f"{BASE}/orders/restore"), 409)
    assert "item_id" in body["error"] or "FOREIGN KEY" in body["error"].upper(), body
    assert (await service.insert(ROWS[:1])).status_code == 201
    assert (await service.post(f"{BASE}/orders/restore")).status_code == 200

    # A deleted parent: the child is deleted first, restored last.
    for name in ("orders", "items"):
        response = await service.ds.client.delete(f"{BASE}/{name}", headers=service.headers)
        assert response.status_code == 200, response.text
    body = assert_error(await service.post(f"{BASE}/orders/restore"), 409)
    assert 'deleted datatable "items": restore that one first' in body["error"]
    for name in ("items", "orders"):
        assert (await service.post(f"{BASE}/{name}/restore")).status_code == 200
    assert without_rows(await storage_snapshot(service)) == before
    orders = await service.get(
        f"{service.database_path}/-/query.json?sql=select+count(*)+as+n+from+shop_orders"
    )
    assert orders.json()["rows"] == [{"n": 1}]


@pytest.mark.asyncio
async def test_purge_drops_a_deleted_table_from_the_trash(stocked):
    service = stocked
    assert (
        await service.ds.client.delete(f"{BASE}/items", headers=service.headers)
    ).status_code == 200
    response = await service.ds.client.delete(
        f"{BASE}/items?purge=true&confirm=items", headers=service.headers
    )
    assert response.status_code == 200, response.text
    assert await placement(service) == set()
    response = await service.post(
        "/-/apps/shop/datasources/main/datatables", {"name": "items", "json_schema": SCHEMA}
    )
    assert response.status_code == 201, response.text
    assert await service.rows() == []


async def placement(service) -> set[str]:
    """Where the storage holds the datatable's table: "served", "hidden", both or neither."""
    data = service_for(service.ds)
    provider = data.provider_for(await data.datasource("", "shop", "main"))
    return await provider.placement(TableSpec(service.datatable["physical_table_name"], SCHEMA))


@pytest.mark.asyncio
async def test_a_deleted_datasource_keeps_its_tables_apart_from_the_trash(stocked):
    """Deleting a datasource stops serving its database; its tables stay in place, and a
    datatable deleted on its own before stays in the trash through the datasource's restore."""
    service = stocked
    await service.post(
        "/-/apps/shop/datasources/main/datatables", {"name": "gone", "json_schema": SCHEMA}
    )
    assert (
        await service.ds.client.delete(f"{BASE}/gone", headers=service.headers)
    ).status_code == 200
    datasource = "/-/apps/shop/datasources/main"
    assert (await service.ds.client.delete(datasource, headers=service.headers)).status_code == 200
    assert (await anonymous(service, f"{service.database_path}.json")).status_code == 404
    response = await service.ds.client.delete(
        f"{BASE}/gone?purge=true&confirm=gone", headers=service.headers
    )
    assert response.status_code == 200, response.text
    assert (await anonymous(service, f"{service.database_path}.json")).status_code == 404

    assert (await service.post(f"{datasource}/restore")).status_code == 200
    assert len(await service.rows()) == len(ROWS)
    assert await placement(service) == {"served"}


@pytest.mark.asyncio
@pytest.mark.parametrize("crash", ["after_hide", "after_unhide"])
async def test_start_up_puts_the_table_where_the_catalog_says(stocked, tmp_path, crash):
    """A crash between the storage move and the catalog write is put right at the next
    start: storage follows the catalog."""
    service = stocked
    data = service_for(service.ds)
    datatable = await data.datatable("", "shop", "main", "items")
    provider, spec = data.provider_for(datatable), table_spec(datatable)
    if crash == "after_hide":  # the delete's catalog write never happened
        await provider.hide(spec)
        expected, live = {"served"}, True
    else:  # the restore's catalog write never happened
        await service.ds.client.delete(f"{BASE}/items", headers=service.headers)
        await provider.unhide(spec)
        expected, live = {"hidden"}, False
    await restart_and_check(service, tmp_path, expected, live)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "stocked",
    [c for c in COMBINATIONS if c[1] == "sqlite"],
    ids=["-".join(c) for c in COMBINATIONS if c[1] == "sqlite"],
    indirect=True,
)
async def test_start_up_keeps_the_copy_the_catalog_names(stocked, tmp_path, monkeypatch):
    """SQLite moves a table between two files, committed one after the other (on
    PostgreSQL one transaction moves it): a crash between the commits leaves two copies,
    and the next start keeps the one the catalog names."""
    service = stocked
    data = service_for(service.ds)
    datatable = await data.datatable("", "shop", "main", "items")
    provider, spec = data.provider_for(datatable), table_spec(datatable)
    from datasette_dataservice.providers import sqlite_trash

    monkeypatch.setattr(sqlite_trash, "_drop_without_foreign_keys", lambda *args: None)
    await provider.hide(spec)  # copied to the trash, not yet dropped from the database
    monkeypatch.undo()
    await restart_and_check(service, tmp_path, {"served"}, True)


async def restart_and_check(service, tmp_path, expected: set[str], live: bool) -> None:
    assert await placement(service) != expected
    await close_data_service(service.ds)

    provider_name, engine = service.provider, service.engine
    data_dir = tmp_path / f"{provider_name}-{engine}"
    restarted = await start_again(data_dir, service.postgres_config)
    service.ds = restarted  # the fixture closes it
    service.headers = {"Authorization": f"Bearer {await restarted.create_token('root')}"}
    assert await placement(service) == expected
    response = await anonymous(service, service.json_path)
    assert (response.status_code == 200) is live
    if not live:
        assert (await service.post(f"{BASE}/items/restore")).status_code == 200
    assert len(await service.rows()) == len(ROWS)


async def start_again(data_dir, postgres_config):
    datasette = make_datasette(data_dir, postgres=postgres_config)
    await datasette.invoke_startup()
    return datasette
