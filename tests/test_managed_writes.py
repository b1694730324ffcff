"""Managed databases are owned by the data service (issue 12, item 6).

Core's writes that skip the row validator (``/-/execute-write``, ``/-/create``, canned write
queries) are refused on managed databases with a pointer to the endpoints that validate;
a soft-deleted datatable refuses every write with 404; and every accepted write to a managed
table leaves exactly one entry in the operations trail: actor, table, operation, row count.
"""

from __future__ import annotations

import json
import sqlite3

import pytest
import pytest_asyncio
from click.testing import CliRunner
from conftest import assert_error, close_data_service, make_datasette
from datasette.cli import cli
from datasette.database import Database
from test_contract import start_service

ENGINES = ["sqlite", "postgres"]
SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "email", "type": "string", "format": "email"},
        {"name": "seen", "type": "datetime"},
        {"name": "role", "type": "string", "constraints": {"enum": ["admin", "user"]}},
    ],
    "primaryKey": ["id"],
}
ADA = {"id": 1, "email": "ada@example.com", "seen": "2024-01-02T03:04:05Z", "role": "admin"}
INVALID = {"id": 2, "email": "not-an-email", "seen": "yesterday", "role": "owner"}
DATATABLE = "/-/apps/shop/datasources/main/datatables/items"


def plain_database(ds, tmp_path) -> Database:
    """A mutable SQLite database the data service does not manage."""
    path = tmp_path / "plain.db"
    sqlite3.connect(path).close()
    return Database(ds, path=str(path), is_mutable=True)


@pytest_asyncio.fixture(params=ENGINES)
async def service(request, tmp_path, postgres_config):
    started = await start_service(
        tmp_path, "flat_table", request.param, postgres_config, schema=SCHEMA
    )
    response = await started.insert([ADA])
    assert response.status_code == 201, response.text
    yield started
    await close_data_service(started.ds)


async def stored_ids(service) -> list[int]:
    return [row["id"] for row in await service.rows()]


async def operations(service) -> list[dict]:
    response = await service.get(DATATABLE + "/operations.json?_size=1000")
    assert response.status_code == 200, response.text
    return response.json()["operations"]


def row_writes(ops: list[dict]) -> list[dict]:
    kinds = {"insert_rows", "upsert_rows", "update_row", "delete_row", "import_rows"}
    return [op for op in ops if op["operation"] in kinds]


# Writes that bypass validation ------------------------------------------------------------


@pytest.mark.asyncio
async def test_execute_write_is_refused_with_a_pointer(service):
    table = service.datatable["table"]
    sql = f"insert into {table} (id, email, seen, role) values (2, 'not-an-email', 'x', 'user')"
    response = await service.post(service.database_path + "/-/execute-write", {"sql": sql})
    body = assert_error(response, 403)
    assert "managed by the data service" in body["error"]
    assert f"{service.database_path}/<table>/-/insert" in body["error"]
    assert await stored_ids(service) == [1]


@pytest.mark.asyncio
async def test_create_cannot_add_an_unmanaged_table(service):
    create = {"table": "scratch", "columns": [{"name": "id", "type": "integer"}]}
    response = await service.post(service.database_path + "/-/create", create)
    body = assert_error(response, 403)
    assert "/-/apps/shop/datasources/main/datatables" in body["error"]
    scratch = await service.get(service.database_path + "/scratch.json")
    assert scratch.status_code == 404


@pytest.mark.asyncio
async def test_create_with_rows_cannot_insert_unvalidated_rows(service):
    """What ``dclient insert --create`` sends: an invalid email, datetime and enum value."""
    row = {**INVALID, "role": "user"}  # an enum value SQLite's CHECK would refuse anyway
    create = {"table": service.datatable["table"], "rows": [row], "pk": "id"}
    response = await service.post(service.database_path + "/-/create", create)
    body = assert_error(response, 403)
    assert "/-/insert" in body["error"]
    assert await stored_ids(service) == [1]


@pytest.mark.asyncio
async def test_unmanaged_databases_keep_cores_write_endpoints(ds, root, tmp_path):
    ds.add_database(plain_database(ds, tmp_path), name="plain")
    create = {"table": "t", "rows": [{"id": 1, "email": "anything"}], "pk": "id"}
    assert (await ds.client.post("/plain/-/create", json=create, headers=root)).status_code == 201
    sql = {"sql": "insert into t (id, email) values (2, 'still anything')"}
    response = await ds.client.post("/plain/-/execute-write", json=sql, headers=root)
    assert response.status_code == 200, response.text
    delete = await ds.client.post("/plain/t/1/-/delete", headers=root)
    assert delete.status_code == 200, delete.text
    rows = (await ds.client.get("/plain/t.json?_shape=array", headers=root)).json()
    assert rows == [{"id": 2, "email": "still anything"}]


@pytest_asyncio.fixture
async def with_queries(tmp_path):
    """A managed database ``shop_main`` with write queries from datasette.yml (trusted),
    from a plugin (trusted) and stored by a user (untrusted), and one in a plain database."""
    insert = "insert into shop_items (id, email, seen, role) values (:id, 'nope', 'x', 'user')"
    ds = make_datasette(tmp_path / "data")
    ds.add_database(plain_database(ds, tmp_path), name="plain")
    ds.config = {
        **ds.config,
        "databases": {
            "shop_main": {"queries": {"configured": {"sql": insert, "write": True}}},
            "plain": {"queries": {"plain_write": {"sql": "create table t (id)", "write": True}}},
        },
    }
    await ds.invoke_startup()
    root = {"Authorization": f"Bearer {await ds.create_token('root')}"}
    assert (await ds.client.post("/-/apps", json={"name": "shop"}, headers=root)).status_code == 201
    source = {"name": "main", "provider_type": "flat_table"}
    response = await ds.client.post("/-/apps/shop/datasources", json=source, headers=root)
    assert response.status_code == 201, response.text
    table = {"name": "items", "json_schema": SCHEMA}
    response = await ds.client.post(
        "/-/apps/shop/datasources/main/datatables", json=table, headers=root
    )
    assert response.status_code == 201, response.text
    await ds.add_query("shop_main", "plugin", insert, is_write=True, is_trusted=True)
    await ds.add_query("shop_main", "stored", insert, is_write=True, source="user")
    yield ds, root
    ds.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("name", ["configured", "plugin", "stored"])
async def test_canned_write_queries_are_refused_on_managed_databases(with_queries, name):
    ds, root = with_queries
    headers = {**root, "Accept": "application/json"}
    response = await ds.client.post(f"/shop_main/{name}", json={"id": "7"}, headers=headers)
    body = assert_error(response, 403)
    assert "/shop_main/<table>/-/insert" in body["error"]
    rows = (await ds.client.get("/shop_main/shop_items.json?_shape=array", headers=root)).json()
    assert rows == []


@pytest.mark.asyncio
async def test_canned_write_queries_still_run_on_plain_databases(with_queries):
    ds, root = with_queries
    headers = {**root, "Accept": "application/json"}
    response = await ds.client.post("/plain/plain_write", json={}, headers=headers)
    assert response.status_code == 200, response.text
    assert await ds.get_database("plain").table_exists("t")


# Soft-deleted datatables refuse every write -------------------------------------------------


@pytest.mark.asyncio
async def test_a_soft_deleted_table_refuses_every_write_with_404(service):
    before = row_writes(await operations(service))
    deleted = await service.ds.client.delete(DATATABLE, headers=service.headers)
    assert deleted.status_code in (200, 204), deleted.text
    table = service.table_path
    for path, body in [
        (f"{table}/-/insert", {"row": {"id": 3}}),
        (f"{table}/-/upsert", {"rows": [{"id": 1, "role": "user"}]}),
        (f"{table}/1/-/update", {"update": {"email": "x"}}),
        (f"{table}/1/-/delete", None),
    ]:
        assert_error(await service.post(path, body), 404)
        anonymous = await service.ds.client.post(path, json=body)  # no 403 confirms it exists
        assert_error(anonymous, 404)
    response = await service.ds.client.post(
        DATATABLE + "/import?format=csv",
        content=b"id,email,seen,role\n3,,,\n",
        headers=service.headers,
    )
    assert_error(response, 404)
    restored = await service.post(DATATABLE + "/restore")
    assert restored.status_code == 200, restored.text
    assert await stored_ids(service) == [1]
    assert row_writes(await operations(service)) == before


# One audit entry per accepted write ---------------------------------------------------------


@pytest.mark.asyncio
async def test_every_accepted_write_leaves_one_audit_entry(service):
    table = service.table_path
    writes = [
        ("insert_rows", f"{table}/-/insert", {"rows": [{"id": 2}, {"id": 3}]}, 2),
        ("upsert_rows", f"{table}/-/upsert", {"rows": [{"id": 2, "role": "user"}]}, 1),
        ("update_row", f"{table}/3/-/update", {"update": {"role": "admin"}}, 1),
        ("delete_row", f"{table}/2/-/delete", None, 1),
    ]
    for operation, path, body, count in writes:
        before = await operations(service)
        response = await service.post(path, body)
        assert response.status_code in (200, 201), (path, response.text)
        (entry,) = (await operations(service))[len(before) :]
        assert entry["operation"] == operation
        assert entry["actor"] == "root"
        assert entry["target"] == "shop/main/items"
        assert entry["status"] == "applied"
        assert entry["details"]["rows"] == count
    before = await operations(service)
    response = await service.ds.client.post(
        DATATABLE + "/import?format=csv",
        content=b"id,email,seen,role\n4,,,\n5,,,\n6,,,\n",
        headers=service.headers,
    )
    assert response.status_code == 201, response.text
    (entry,) = (await operations(service))[len(before) :]
    assert (entry["operation"], entry["actor"], entry["details"]["rows"]) == (
        "import_rows",
        "root",
        3,
    )
    assert await stored_ids(service) == [1, 3, 4, 5, 6]


@pytest.mark.asyncio
async def test_a_refused_write_leaves_no_audit_entry(service):
    before = await operations(service)
    response = await service.post(service.table_path + "/-/insert", {"row": INVALID})
    assert_error(response, 400)
    assert await operations(service) == before


def test_the_import_command_leaves_one_audit_entry(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    upload = tmp_path / "rows.csv"
    upload.write_text("id,email,seen,role\n1,ada@example.com,,\n2,alan@example.org,,user\n")
    runner = CliRunner()
    for arguments in [
        ["create-app", "shop"],
        ["create-datasource", "shop", "main", "--provider-type", "flat_table"],
        ["create-table", "shop", "main", "items", str(schema)],
        ["import", "shop", "main", "items", str(upload)],
    ]:
        result = runner.invoke(cli, ["dataservice", arguments[0], str(data_dir), *arguments[1:]])
        assert result.exit_code == 0, result.output
    with sqlite3.connect(data_dir / "catalog.db") as conn:
        entries = conn.execute(
            "SELECT actor, target, details FROM schema_operations WHERE operation = 'import_rows'"
        ).fetchall()
    ((actor, target, details),) = entries
    assert (actor, target, json.loads(details)["rows"]) == ("cli", "shop/main/items", 2)
