"""DataSources over HTTP: providers, provider_config, CRUD, soft delete, restore, stats."""

from __future__ import annotations

import re

import pytest
import pytest_asyncio
from conftest import (
    ISO_SECONDS,
    assert_error,
    create_app,
    create_datasource,
    create_datatable,
    insert_row,
    path_of,
)

BASE = "/-/apps/shop/datasources"


@pytest_asyncio.fixture
async def shop(ds, root):
    return await create_app(ds, root, name="Shop")


async def count(ds, root) -> int:
    return (await ds.client.get(f"{BASE}.json", headers=root)).json()["count"]


@pytest.mark.asyncio
@pytest.mark.parametrize("provider_type", ["flat_table", "jsonb"])
async def test_create_datasource(ds, root, shop, provider_type):
    response = await ds.client.post(
        BASE,
        json={"name": "Main Store", "provider_type": provider_type, "description": "d"},
        headers=root,
    )
    assert response.status_code == 201, response.json()
    datasource = response.json()
    assert datasource["slug"] == "main-store"  # derived from the name
    assert datasource["provider_type"] == provider_type
    assert datasource["provider_config"] == {"engine": "sqlite"}
    assert datasource["engine"] == "sqlite" and datasource["app"] == "shop"
    assert datasource["description"] == "d" and datasource["table_count"] == 0
    assert datasource["is_active"] is True and re.match(ISO_SECONDS, datasource["created_at"])
    # Its storage is a Datasette database, served at once.
    response = await ds.client.get(path_of(datasource["database_url"]), headers=root)
    assert response.status_code == 200
    assert response.json()["database"] == datasource["database"]
    app = (await ds.client.get("/-/apps/shop.json", headers=root)).json()
    assert app["datasource_count"] == 1


@pytest.mark.asyncio
async def test_explicit_provider_config_engine_sqlite(ds, root, shop):
    datasource = await create_datasource(
        ds, root, "shop", slug="cfg", provider_config={"engine": "sqlite"}
    )
    assert datasource["provider_config"] == {"engine": "sqlite"}


@pytest.mark.asyncio
async def test_mongodb_is_not_implemented_yet(ds, root, shop):
    response = await ds.client.post(
        BASE, json={"name": "Docs", "provider_type": "mongodb"}, headers=root
    )
    body = assert_error(response, 501)
    assert "mongodb" in body["error"]
    assert "planned" in body["error"] or "not implemented" in body["error"]
    assert "flat_table" in body["error"] and "jsonb" in body["error"]  # what is available
    assert await count(ds, root) == 0
    assert "shop_docs" not in ds.databases


@pytest.mark.asyncio
@pytest.mark.parametrize("provider_type", ["postgres_table", "FLAT_TABLE", "", 7, None])
async def test_unknown_or_missing_provider_type(ds, root, shop, provider_type):
    response = await ds.client.post(
        BASE, json={"name": "X", "provider_type": provider_type}, headers=root
    )
    body = assert_error(response, 400)
    assert "provider_type" in body["error"]
    assert await count(ds, root) == 0


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "config, word",
    [
        ("sqlite", "object"),
        (["sqlite"], "object"),
        (42, "object"),
        ({"engine": "sqlite", "dsn": "postgresql://x"}, "dsn"),
        ({"engine": "oracle"}, "engine"),
    ],
)
async def test_invalid_provider_config(ds, root, shop, config, word):
    response = await ds.client.post(
        BASE,
        json={"name": "X", "provider_type": "flat_table", "provider_config": config},
        headers=root,
    )
    body = assert_error(response, 400)
    assert "provider_config" in body["error"] and word in body["error"]
    assert await count(ds, root) == 0


@pytest.mark.asyncio
async def test_duplicate_and_invalid_slugs(ds, root, shop):
    await create_datasource(ds, root, "shop", slug="main")
    response = await ds.client.post(
        BASE, json={"name": "Other", "slug": "main", "provider_type": "jsonb"}, headers=root
    )
    assert_error(response, 409)
    response = await ds.client.post(
        BASE, json={"name": "Other", "slug": "Not OK", "provider_type": "jsonb"}, headers=root
    )
    assert "slug" in assert_error(response, 400)["error"]
    assert await count(ds, root) == 1
    # Datasource slugs are per app: another app may reuse "main".
    await create_app(ds, root, name="Other App")
    other = await create_datasource(ds, root, "other-app", slug="main")
    assert other["database"] == "other-app_main" and "other-app_main" in ds.databases


@pytest.mark.asyncio
async def test_list_and_paginate(ds, root, shop):
    slugs = ["a", "b", "c"]
    for slug, provider in zip(slugs, ["flat_table", "jsonb", "flat_table"], strict=True):
        await create_datasource(ds, root, "shop", slug=slug, provider_type=provider)
    response = await ds.client.get(f"{BASE}.json?_size=2", headers=root)
    assert response.status_code == 200, response.text[:300]
    first = response.json()
    assert first["count"] == 3 and [d["slug"] for d in first["datasources"]] == ["a", "b"]
    assert first["next"] is not None
    response = await ds.client.get(path_of(first["next_url"]), headers=root)
    assert response.status_code == 200, response.text[:300]
    second = response.json()
    assert [d["slug"] for d in second["datasources"]] == ["c"] and second["next"] is None
    seed = (await ds.client.get("/api/apps/shop/datasources/", headers=root)).json()
    assert [d["provider_type"] for d in seed["datasources"]] == [
        "flat_table",
        "jsonb",
        "flat_table",
    ]


@pytest.mark.asyncio
async def test_read_by_canonical_and_seed_paths(ds, root, shop):
    created = await create_datasource(ds, root, "shop", slug="users-db")
    canonical = await ds.client.get(f"{BASE}/users-db.json", headers=root)
    seed = await ds.client.get("/api/apps/shop/datasources/users-db/", headers=root)
    assert canonical.status_code == seed.status_code == 200
    assert canonical.json() == seed.json()
    assert canonical.json()["id"] == created["id"]
    assert_error(await ds.client.get(f"{BASE}/nope.json", headers=root), 404)


@pytest.mark.asyncio
async def test_update_name_and_description(ds, root, shop):
    await create_datasource(ds, root, "shop", slug="main", description="old")
    response = await ds.client.patch(
        f"{BASE}/main", json={"name": "Renamed", "description": "new"}, headers=root
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["name"], body["description"], body["slug"]) == ("Renamed", "new", "main")
    again = (await ds.client.get(f"{BASE}/main.json", headers=root)).json()
    assert (again["name"], again["description"]) == ("Renamed", "new")
    # Sending the unchanged immutable values back is fine (a PUT of what was read).
    response = await ds.client.put(
        f"{BASE}/main",
        json={
            "name": "Put",
            "provider_type": "flat_table",
            "provider_config": {"engine": "sqlite"},
        },
        headers=root,
    )
    assert response.status_code == 200 and response.json()["name"] == "Put"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "change",
    [{"provider_type": "jsonb"}, {"slug": "other"}, {"provider_config": {"engine": "postgres"}}],
)
async def test_immutable_fields_cannot_change(ds, root, shop, change):
    await create_datasource(ds, root, "shop", slug="main")
    response = await ds.client.patch(f"{BASE}/main", json=change, headers=root)
    body = assert_error(response, 400)
    assert next(iter(change)) in body["error"]
    again = (await ds.client.get(f"{BASE}/main.json", headers=root)).json()
    assert again["provider_type"] == "flat_table" and again["slug"] == "main"


@pytest.mark.asyncio
async def test_delete_and_restore_cascade(ds, root, shop, users_schema):
    datasource = await create_datasource(ds, root, "shop", slug="main")
    for name in ("users", "orders", "gone"):
        await create_datatable(ds, root, "shop", "main", name, users_schema)
    await ds.client.delete(f"{BASE}/main/datatables/gone", headers=root)
    database = f"/{datasource['database']}.json"

    response = await ds.client.delete(f"{BASE}/main", headers=root)
    assert response.status_code == 200, response.text[:300]
    assert response.json()["is_active"] is False
    assert (await ds.client.get(database, headers=root)).status_code == 404
    assert_error(await ds.client.get(f"{BASE}/main.json", headers=root), 404)
    assert_error(await ds.client.get(f"{BASE}/main/datatables/users.json", headers=root), 404)
    app = (await ds.client.get("/-/apps/shop.json", headers=root)).json()
    assert (app["datasource_count"], app["table_count"]) == (0, 0)
    listing = (await ds.client.get("/-/apps/shop/datatables.json", headers=root)).json()
    assert listing["count"] == 0
    assert_error(await ds.client.delete(f"{BASE}/main", headers=root), 404)

    response = await ds.client.post(f"{BASE}/main/restore", headers=root)
    assert response.status_code == 200, response.text[:300]
    assert response.json()["is_active"] is True and response.json()["table_count"] == 2
    assert (await ds.client.get(database, headers=root)).status_code == 200
    names = (await ds.client.get(f"{BASE}/main/datatables.json", headers=root)).json()
    assert [t["name"] for t in names["datatables"]] == ["users", "orders"]  # not "gone"
    assert_error(await ds.client.post(f"{BASE}/main/restore", headers=root), 409)


@pytest.mark.asyncio
async def test_read_deleted_datasource_with_include_deleted(ds, root, shop):
    await create_datasource(ds, root, "shop", slug="main")
    await ds.client.delete(f"{BASE}/main", headers=root)
    response = await ds.client.get(f"{BASE}/main.json?include_deleted=1", headers=root)
    assert response.status_code == 200, response.text[:300]
    assert response.json()["is_active"] is False
    listing = await ds.client.get(f"{BASE}.json?include_deleted=1", headers=root)
    assert listing.status_code == 200, listing.text[:300]
    assert [d["is_active"] for d in listing.json()["datasources"]] == [False]


@pytest.mark.asyncio
async def test_datasource_stats(ds, root, shop, users_schema):
    await create_datasource(ds, root, "shop", slug="main")
    users = await create_datatable(ds, root, "shop", "main", "users", users_schema)
    await create_datatable(ds, root, "shop", "main", "drafts", users_schema, materialize=False)
    for i in (1, 2):
        row = {"id": i, "email": f"u{i}@example.com", "name": f"U{i}"}
        assert (await insert_row(ds, root, users, row)).status_code == 201
    for path in (f"{BASE}/main/stats.json", "/api/apps/shop/datasources/main/stats/"):
        response = await ds.client.get(path, headers=root)
        assert response.status_code == 200, path
        stats = response.json()
        assert (stats["app"], stats["datasource"]) == ("shop", "main")
        assert (stats["provider_type"], stats["engine"]) == ("flat_table", "sqlite")
        assert (stats["table_count"], stats["materialized_count"], stats["row_count"]) == (2, 1, 2)
        assert {t["name"]: t["row_count"] for t in stats["tables"]} == {"users": 2, "drafts": None}
        assert re.match(ISO_SECONDS, stats["last_operation_at"])
    assert_error(await ds.client.get(f"{BASE}/nope/stats.json", headers=root), 404)
