"""DataTables over HTTP, for every provider: materialize, schema, listing, rename, audit trail."""

from __future__ import annotations

import sqlite3

import pytest
from conftest import assert_error, create_app, create_datasource, create_datatable, insert_row
from conftest import path_of as p

PROVIDERS = ["flat_table", "jsonb"]
BASE = "/-/apps/shop/datasources/main/datatables"
ADA = {"id": 1, "email": "ada@example.com", "name": "Ada", "created_at": None}
BOB = {"id": 2, "email": "bob@example.com", "name": "Bob", "created_at": "2024-10-30T12:00:00Z"}


async def main(ds, root, provider_type="flat_table"):
    await create_app(ds, root, name="Shop")
    return await create_datasource(ds, root, "shop", slug="main", provider_type=provider_type)


async def columns(ds, root, database, table):
    response = await ds.client.get(f"/{database}/{table}.json?_extra=columns", headers=root)
    assert response.status_code == 200, (table, response.status_code)
    return response.json()["columns"]


async def operations(ds, root, path):
    response = await ds.client.get(path, headers=root)
    assert response.status_code == 200, response.text[:300]
    return response.json()["operations"]


@pytest.mark.asyncio
@pytest.mark.parametrize("provider_type", PROVIDERS)
async def test_create_materialized_is_served_by_datasette(ds, root, users_schema, provider_type):
    datasource = await main(ds, root, provider_type)
    table = await create_datatable(ds, root, "shop", "main", "users", users_schema)
    database = datasource["database"]
    assert table["is_materialized"] is True and table["database"] == database
    assert table["physical_table_name"] == "shop_users"
    field_names = ["id", "email", "name", "created_at"]
    if provider_type == "jsonb":
        assert table["table"] == "shop_users_view"
        assert await columns(ds, root, database, "shop_users") == ["id", "data"]
        assert await columns(ds, root, database, "shop_users_view") == ["_id", *field_names]
    else:
        assert table["table"] == "shop_users"
        assert await columns(ds, root, database, "shop_users") == field_names
    for row in (ADA, BOB):
        response = await insert_row(ds, root, table, row)
        assert response.status_code == 201, response.json()
    rows = (await ds.client.get(p(table["json_url"]), headers=root)).json()["rows"]
    if provider_type == "jsonb":
        rows = [{k: v for k, v in row.items() if k != "_id"} for row in rows]
    assert rows == [ADA, BOB]
    query = await ds.client.get(p(table["query_url"]), headers=root)
    assert query.status_code == 200 and len(query.json()["rows"]) == 2
    assert (await ds.client.get(p(table["table_url"]), headers=root)).status_code == 200


@pytest.mark.asyncio
@pytest.mark.parametrize("provider_type", PROVIDERS)
async def test_create_unmaterialized_then_materialize(ds, root, users_schema, provider_type):
    await main(ds, root, provider_type)
    table = await create_datatable(
        ds, root, "shop", "main", "users", users_schema, materialize=False
    )
    assert table["is_materialized"] is False
    assert (await ds.client.get(p(table["json_url"]), headers=root)).status_code == 404
    stats = (await ds.client.get("/-/apps/shop/datatables/stats.json", headers=root)).json()
    assert stats["materialized_count"] == 0 and stats["tables"][0]["row_count"] is None

    response = await ds.client.post(f"{BASE}/users/materialize", headers=root)
    assert response.status_code == 200, response.json()
    assert response.json()["is_materialized"] is True
    assert (await insert_row(ds, root, table, ADA)).status_code == 201
    assert len((await ds.client.get(p(table["json_url"]), headers=root)).json()["rows"]) == 1
    assert_error(await ds.client.post(f"{BASE}/users/materialize", headers=root), 409)
    ops = await operations(ds, root, f"{BASE}/users/operations.json")
    assert [op["operation"] for op in ops] == ["create_datatable", "materialize", "insert_rows"]
    materialize = ops[1]
    assert materialize["actor"] == "root" and materialize["status"] == "applied"
    assert any("CREATE TABLE" in s and "shop_users" in s for s in materialize["sql"])
    assert materialize["schema_after"] == users_schema


@pytest.mark.asyncio
async def test_schema_json_returns_exactly_the_descriptor(ds, root):
    await main(ds, root)
    schema = {
        "fields": [
            {"name": "id", "type": "integer", "title": "Id", "constraints": {"required": True}},
            {"name": "born", "type": "date", "format": "%Y-%m-%d", "description": "Birthday"},
            {"name": "tags", "type": "array"},
        ],
        "primaryKey": ["id"],
        "missingValues": ["", "NA"],
    }
    await create_datatable(ds, root, "shop", "main", "people", schema)
    for path in (f"{BASE}/people/schema.json", f"{BASE}/people/schema.json?version=1"):
        response = await ds.client.get(path, headers=root)
        assert response.status_code == 200 and response.json() == schema, path
    seed = "/api/apps/shop/datasources/main/datatables/people/schema/"
    assert (await ds.client.get(seed, headers=root)).json() == schema
    assert_error(await ds.client.get(f"{BASE}/people/schema.json?version=2", headers=root), 400)
    assert_error(await ds.client.get(f"{BASE}/people/schema.json?version=x", headers=root), 400)
    assert_error(await ds.client.get(f"{BASE}/nobody/schema.json", headers=root), 404)


@pytest.mark.asyncio
async def test_cross_datasource_listing_and_stats(ds, root, users_schema):
    await create_app(ds, root, name="Shop")
    await create_datasource(ds, root, "shop", slug="a")
    await create_datasource(ds, root, "shop", slug="b", provider_type="jsonb")
    t1 = await create_datatable(ds, root, "shop", "a", "t1", users_schema)
    await create_datatable(ds, root, "shop", "a", "t2", users_schema, materialize=False)
    t3 = await create_datatable(ds, root, "shop", "b", "t3", users_schema)
    for table, rows in ((t1, [ADA, BOB]), (t3, [ADA])):
        for row in rows:
            assert (await insert_row(ds, root, table, row)).status_code == 201

    async def names(query=""):
        response = await ds.client.get(f"/-/apps/shop/datatables.json{query}", headers=root)
        assert response.status_code == 200, (query, response.text[:300])
        body = response.json()
        assert body["count"] == len(body["datatables"])
        return [(t["datasource"], t["name"]) for t in body["datatables"]]

    assert await names() == [("a", "t1"), ("a", "t2"), ("b", "t3")]
    assert await names("?datasource=a") == [("a", "t1"), ("a", "t2")]
    assert await names("?is_materialized=true") == [("a", "t1"), ("b", "t3")]
    assert await names("?is_materialized=false") == [("a", "t2")]
    assert await names("?datasource=a&is_materialized=0") == [("a", "t2")]
    assert_error(await ds.client.get("/-/apps/shop/datatables.json?datasource=zz"), 404)
    assert_error(await ds.client.get("/-/apps/shop/datatables.json?is_materialized=maybe"), 400)

    stats = (await ds.client.get("/-/apps/shop/datatables/stats.json", headers=root)).json()
    assert (stats["table_count"], stats["materialized_count"], stats["row_count"]) == (3, 2, 3)
    assert stats["by_datasource"] == {
        "a": {"table_count": 2, "materialized_count": 1, "row_count": 2},
        "b": {"table_count": 1, "materialized_count": 1, "row_count": 1},
    }
    assert stats["by_provider_type"]["jsonb"]["row_count"] == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("provider_type", PROVIDERS)
async def test_update_description(ds, root, users_schema, provider_type):
    await main(ds, root, provider_type)
    created = await create_datatable(ds, root, "shop", "main", "users", users_schema)
    response = await ds.client.patch(f"{BASE}/users", json={"description": "New"}, headers=root)
    assert response.status_code == 200, response.json()
    updated = response.json()
    assert updated["description"] == "New" and updated["name"] == "users"
    assert updated["schema_hash"] == created["schema_hash"]
    assert (await ds.client.get(f"{BASE}/users.json", headers=root)).json()["description"] == "New"
    ops = await operations(ds, root, f"{BASE}/users/operations.json")
    assert ops[-1]["operation"] == "update_datatable"
    assert ops[-1]["details"]["after"] == {"description": "New"}


@pytest.mark.asyncio
@pytest.mark.parametrize("provider_type", PROVIDERS)
async def test_rename_keeps_rows_and_renames_the_physical_table(
    ds, root, users_schema, provider_type
):
    datasource = await main(ds, root, provider_type)
    table = await create_datatable(ds, root, "shop", "main", "users", users_schema)
    await create_datatable(ds, root, "shop", "main", "orders", users_schema)
    for row in (ADA, BOB):
        assert (await insert_row(ds, root, table, row)).status_code == 201
    assert_error(await ds.client.patch(f"{BASE}/users", json={"name": "Orders"}, headers=root), 409)
    assert_error(await ds.client.patch(f"{BASE}/users", json={"name": "9x"}, headers=root), 400)

    response = await ds.client.patch(f"{BASE}/users", json={"name": "customers"}, headers=root)
    assert response.status_code == 200, response.json()
    renamed = response.json()
    assert renamed["name"] == "customers" and renamed["id"] == table["id"]
    assert renamed["physical_table_name"] == "shop_customers"
    rows = (await ds.client.get(p(renamed["json_url"]), headers=root)).json()["rows"]
    assert [row["email"] for row in rows] == [ADA["email"], BOB["email"]]
    database = datasource["database"]
    for old in ("shop_users", table["table"]):
        assert (await ds.client.get(f"/{database}/{old}.json", headers=root)).status_code == 404
    assert_error(await ds.client.get(f"{BASE}/users.json", headers=root), 404)
    assert (await ds.client.get(f"{BASE}/customers.json", headers=root)).status_code == 200
    ops = await operations(ds, root, f"{BASE}/customers/operations.json")
    assert ops[-1]["operation"] == "rename_datatable"
    assert any("RENAME TO" in s for s in ops[-1]["sql"])


@pytest.mark.asyncio
@pytest.mark.parametrize("provider_type", PROVIDERS)
async def test_delete_and_restore(ds, root, users_schema, provider_type):
    await main(ds, root, provider_type)
    table = await create_datatable(ds, root, "shop", "main", "users", users_schema)
    assert (await insert_row(ds, root, table, ADA)).status_code == 201
    response = await ds.client.delete(f"{BASE}/users", headers=root)
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert_error(await ds.client.get(f"{BASE}/users.json", headers=root), 404)
    hidden = await ds.client.get(f"{BASE}/users.json?include_deleted=1", headers=root)
    assert hidden.status_code == 200 and hidden.json()["is_active"] is False
    assert (await ds.client.get(f"{BASE}.json", headers=root)).json()["count"] == 0
    again = await ds.client.post(
        BASE, json={"name": "users", "json_schema": users_schema}, headers=root
    )
    assert "deleted" in assert_error(again, 409)["error"]

    response = await ds.client.post(f"{BASE}/users/restore", headers=root)
    assert response.status_code == 200 and response.json()["is_active"] is True
    assert len((await ds.client.get(p(table["json_url"]), headers=root)).json()["rows"]) == 1
    assert_error(await ds.client.post(f"{BASE}/users/restore", headers=root), 409)
    ops = [op["operation"] for op in await operations(ds, root, f"{BASE}/users/operations.json")]
    assert ops[-2:] == ["delete_datatable", "restore_datatable"]


@pytest.mark.asyncio
async def test_restore_when_datasource_deleted_is_not_found(ds, root, users_schema):
    await main(ds, root)
    await create_datatable(ds, root, "shop", "main", "users", users_schema)
    await ds.client.delete(f"{BASE}/users", headers=root)
    await ds.client.delete("/-/apps/shop/datasources/main", headers=root)
    body = assert_error(await ds.client.post(f"{BASE}/users/restore", headers=root), 404)
    assert "main" in body["error"]


@pytest.mark.asyncio
@pytest.mark.parametrize("provider_type", PROVIDERS)
async def test_app_operations_audit_trail(ds, root, users_schema, provider_type):
    await main(ds, root, provider_type)
    await create_datatable(ds, root, "shop", "main", "users", users_schema)
    ops = await operations(ds, root, "/-/apps/shop/operations.json")
    assert [op["operation"] for op in ops] == [
        "create_app",
        "create_datasource",
        "create_datatable",
        "materialize",
    ]
    assert {(op["actor"], op["status"]) for op in ops} == {("root", "applied")}
    assert [op["target"] for op in ops[2:]] == ["shop/main/users"] * 2
    statements = ops[3]["sql"]
    assert any(s.startswith("CREATE TABLE") for s in statements)
    assert any(s.startswith("CREATE VIEW") for s in statements) == (provider_type == "jsonb")
    assert isinstance(ops[3]["duration_ms"], float)


@pytest.mark.asyncio
async def test_schema_operations_is_append_only(ds, root, users_schema):
    await main(ds, root)
    await create_datatable(ds, root, "shop", "main", "users", users_schema)
    catalog = ds.get_database("_dataservice")
    for sql in ("update schema_operations set actor = 'mallory'", "delete from schema_operations"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            await catalog.execute_write(sql)
    # Datasette's own write API cannot rewrite history either, not even for root.
    response = await ds.client.post(
        "/_dataservice/schema_operations/1/-/update",
        json={"update": {"actor": "mallory"}},
        headers=root,
    )
    assert_error(response, 403)
    actors = {op["actor"] for op in await operations(ds, root, "/-/apps/shop/operations.json")}
    assert actors == {"root"}


@pytest.mark.asyncio
async def test_invalid_schema_lists_every_problem(ds, root):
    await main(ds, root)
    schema = {
        "fields": [
            {"name": "a", "type": "integr"},
            {"name": "a", "type": "string"},
            {"name": "b", "type": "integer", "constraints": {"minimum": "x"}},
        ],
        "primaryKey": ["zzz"],
    }
    response = await ds.client.post(BASE, json={"name": "bad", "json_schema": schema}, headers=root)
    errors = assert_error(response, 400)["errors"]
    assert len(errors) >= 4 and all(e.startswith("json_schema") for e in errors)
    for needle in ("integr", "clashes", "minimum", "zzz"):
        assert any(needle in e for e in errors), needle
    response = await ds.client.post(BASE, json={"name": "9bad", "json_schema": []}, headers=root)
    assert len(assert_error(response, 400)["errors"]) == 2  # the name and the schema
    assert (await ds.client.get(f"{BASE}.json", headers=root)).json()["count"] == 0
    assert "shop_bad" not in await ds.get_database("shop_main").table_names()


@pytest.mark.asyncio
async def test_foreign_keys_must_reference_a_datatable(ds, root, users_schema):
    await main(ds, root)
    orders = {
        "fields": [{"name": "id", "type": "integer"}, {"name": "user_id", "type": "integer"}],
        "primaryKey": ["id"],
        "foreignKeys": [{"fields": "user_id", "reference": {"resource": "users", "fields": "id"}}],
    }
    response = await ds.client.post(
        BASE, json={"name": "orders", "json_schema": orders}, headers=root
    )
    assert "users" in assert_error(response, 400)["error"]
    users = await create_datatable(ds, root, "shop", "main", "users", users_schema)
    table = await create_datatable(ds, root, "shop", "main", "orders", orders)
    database = ds.get_database("shop_main")
    assert (await database.foreign_keys_for_table("shop_orders"))[0]["other_table"] == "shop_users"
    assert table["json_schema"] == orders
    assert (await insert_row(ds, root, users, ADA)).status_code == 201
    assert (await insert_row(ds, root, table, {"id": 1, "user_id": 1})).status_code == 201
    refused = await insert_row(ds, root, table, {"id": 2, "user_id": 99})
    body = assert_error(refused, 400)
    assert [e["type"] for e in body["report"]["errors"]] == ["foreign-key"]


@pytest.mark.asyncio
async def test_duplicate_names_conflict_case_insensitively(ds, root, users_schema):
    await main(ds, root)
    await create_datatable(ds, root, "shop", "main", "users", users_schema)
    for name in ("users", "Users", "USERS"):
        body = {"name": name, "json_schema": users_schema}
        assert_error(await ds.client.post(BASE, json=body, headers=root), 409)
    assert (await ds.client.get(f"{BASE}.json", headers=root)).json()["count"] == 1
    await create_datasource(ds, root, "shop", slug="other")
    await create_datatable(ds, root, "shop", "other", "users", users_schema)  # other datasource


@pytest.mark.asyncio
async def test_jsonb_name_colliding_with_a_view_is_a_conflict(ds, root, users_schema):
    await main(ds, root, "jsonb")
    await create_datatable(ds, root, "shop", "main", "users", users_schema)
    body = {"name": "users_view", "json_schema": users_schema}
    assert_error(await ds.client.post(BASE, json=body, headers=root), 409)
    assert (await ds.client.get(f"{BASE}.json", headers=root)).json()["count"] == 1


@pytest.mark.asyncio
async def test_jsonb_physical_table_only_takes_objects(ds, root, users_schema):
    await main(ds, root, "jsonb")
    table = await create_datatable(ds, root, "shop", "main", "users", users_schema)
    response = await ds.client.post(
        p(table["insert_url"]), json={"row": {"data": [1]}}, headers=root
    )
    assert_error(response, 400)


CONSTRAINED = {
    "fields": [
        {"name": "id", "type": "integer"},
        {
            "name": "email",
            "type": "string",
            "constraints": {"required": True, "unique": True, "maxLength": 20},
        },
        {"name": "age", "type": "integer", "constraints": {"minimum": 0, "maximum": 150}},
        {"name": "status", "type": "string", "constraints": {"enum": ["active", "inactive"]}},
        {"name": "vip", "type": "boolean"},
    ],
    "primaryKey": ["id"],
}
GOOD = {"id": 1, "email": "a@example.com", "age": 30, "status": "active", "vip": True}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "bad, error_type",
    [
        ({"email": None}, "constraint-error"),
        ({"id": 2, "email": "b@example.com", "age": 1.5}, "type-error"),
        ({"id": 2}, "unique-error"),
        ({"id": 1, "email": "b@example.com"}, "primary-key"),
        ({"id": 2, "email": "b@example.com", "age": -1}, "constraint-error"),
        ({"id": 2, "email": "b@example.com", "age": 151}, "constraint-error"),
        ({"id": 2, "email": "x" * 21}, "constraint-error"),
        ({"id": 2, "email": "b@example.com", "status": "gone"}, "constraint-error"),
        ({"id": 2, "email": "b@example.com", "vip": 2}, "type-error"),
        ({"id": 2, "email": "b@example.com", "age": "old"}, "type-error"),
    ],
)
async def test_flat_table_constraints_refuse_bad_rows_with_a_report(ds, root, bad, error_type):
    """The validator answers first, in frictionless' words; the engine constraints behind
    it are tested on their own in test_sqlite_ddl.py."""
    await main(ds, root)
    table = await create_datatable(ds, root, "shop", "main", "people", CONSTRAINED)
    assert (await insert_row(ds, root, table, GOOD)).status_code == 201
    body = assert_error(await insert_row(ds, root, table, {**GOOD, **bad}), 400)
    assert body["report"]["errors"][0]["type"] == error_type
    assert body["report"]["errors"][0]["rowNumber"] == 1
    rows = (await ds.client.get(p(table["json_url"]), headers=root)).json()["rows"]
    assert rows == [{**GOOD, "vip": 1}]
