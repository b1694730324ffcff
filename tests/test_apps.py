"""Apps over HTTP: the seed's Quick Start verbatim, then CRUD, soft delete and restore."""

from __future__ import annotations

import re

import pytest
from conftest import (
    ISO_SECONDS,
    assert_error,
    create_app,
    create_datasource,
    create_datatable,
    insert_row,
    path_of,
)


@pytest.mark.asyncio
async def test_quick_start_verbatim(ds, root, users_schema):
    headers = {**root, "Content-Type": "application/json"}
    assert root["Authorization"].startswith("Bearer dstok_")

    # 1. Create an App
    response = await ds.client.post(
        "/api/apps/",
        json={"name": "My Application", "description": "My awesome application"},
        headers=headers,
    )
    assert response.status_code == 201, response.json()
    app = response.json()
    assert isinstance(app["id"], int)
    assert {k: app[k] for k in ("name", "slug", "description")} == {
        "name": "My Application",
        "slug": "my-application",
        "description": "My awesome application",
    }
    assert app["datasource_count"] == 0 and app["table_count"] == 0
    assert re.match(ISO_SECONDS, app["created_at"]), app["created_at"]

    # 2. Create a DataSource
    response = await ds.client.post(
        "/api/apps/my-application/datasources/",
        json={
            "name": "Users Database",
            "slug": "users-db",
            "provider_type": "flat_table",
            "description": "User data storage",
        },
        headers=headers,
    )
    assert response.status_code == 201, response.json()
    datasource = response.json()
    assert datasource["slug"] == "users-db"
    assert datasource["name"] == "Users Database"
    assert datasource["provider_type"] == "flat_table"
    assert datasource["description"] == "User data storage"

    # 3. Create a DataTable
    response = await ds.client.post(
        "/api/apps/my-application/datasources/users-db/datatables/",
        json={"name": "users", "description": "User accounts table", "json_schema": users_schema},
        headers=headers,
    )
    assert response.status_code == 201, response.json()
    datatable = response.json()
    assert datatable["name"] == "users"
    assert datatable["description"] == "User accounts table"
    assert datatable["json_schema"] == users_schema
    assert datatable["physical_table_name"] == "my_application_users"  # seed: myapp_users
    assert datatable["is_materialized"] is True
    assert re.fullmatch(r"[0-9a-f]{64}", datatable["schema_hash"])

    # The data plane is Datasette's own: insert with the write API, read the table JSON.
    row = {"id": 1, "email": "ada@example.com", "name": "Ada", "created_at": "2024-10-30T12:00:00Z"}
    response = await insert_row(ds, root, datatable, row)
    assert response.status_code == 201, response.json()
    response = await ds.client.get(path_of(datatable["json_url"]), headers=root)
    assert response.status_code == 200
    assert response.json()["rows"] == [row]

    # The app's counts follow.
    response = await ds.client.get("/api/apps/my-application/", headers=root)
    assert response.status_code == 200
    assert response.json()["datasource_count"] == 1
    assert response.json()["table_count"] == 1


@pytest.mark.asyncio
async def test_seed_read_paths_with_trailing_slashes(ds, root, users_schema):
    await create_app(ds, root)
    await create_datasource(ds, root, "my-application")
    await create_datatable(ds, root, "my-application", "users-db", "users", users_schema)
    base = "/api/apps/my-application"
    for path in (
        f"{base}/datatables/",
        f"{base}/datatables/?datasource=users-db",
        f"{base}/datatables/?is_materialized=true",
    ):
        response = await ds.client.get(path, headers=root)
        assert response.status_code == 200, path
        assert [t["name"] for t in response.json()["datatables"]] == ["users"], path
    for path in (
        f"{base}/stats/",
        f"{base}/datasources/users-db/stats/",
        f"{base}/datatables/stats/",
    ):
        response = await ds.client.get(path, headers=root)
        assert response.status_code == 200, path
        assert response.json()["table_count"] == 1, path
    response = await ds.client.get(f"{base}/datasources/users-db/datatables/users/schema/")
    assert response.status_code == 200
    assert response.json() == users_schema


@pytest.mark.asyncio
async def test_slug_is_derived_from_name_and_made_unique(ds, root):
    first = await create_app(ds, root, name="  Café & Crème: Q4 Report  ")
    assert first["slug"] == "cafe-creme-q4-report"
    assert first["name"] == "Café & Crème: Q4 Report"
    second = await create_app(ds, root, name="Café & Crème: Q4 Report")
    third = await create_app(ds, root, name="cafe creme q4 report")
    assert (second["slug"], third["slug"]) == ("cafe-creme-q4-report-2", "cafe-creme-q4-report-3")
    assert len({first["id"], second["id"], third["id"]}) == 3


@pytest.mark.asyncio
async def test_explicit_duplicate_slug_is_a_conflict(ds, root):
    await create_app(ds, root, name="One", slug="shared")
    response = await ds.client.post("/-/apps", json={"name": "Two", "slug": "shared"}, headers=root)
    body = assert_error(response, 409)
    assert "shared" in body["error"]
    listing = (await ds.client.get("/-/apps.json", headers=root)).json()
    assert listing["count"] == 1


@pytest.mark.asyncio
async def test_slug_of_a_deleted_app_stays_reserved(ds, root):
    await create_app(ds, root, name="Gone")
    assert (await ds.client.delete("/-/apps/gone", headers=root)).status_code == 200
    assert (await create_app(ds, root, name="Gone"))["slug"] == "gone-2"
    response = await ds.client.post("/-/apps", json={"name": "X", "slug": "gone"}, headers=root)
    assert_error(response, 409)


@pytest.mark.asyncio
@pytest.mark.parametrize("slug", ["Has Space", "UPPER", "a--b", "-lead", "trail-", "x_y", "a" * 51])
async def test_invalid_slug_is_refused(ds, root, slug):
    response = await ds.client.post("/-/apps", json={"name": "App", "slug": slug}, headers=root)
    body = assert_error(response, 400)
    assert "slug" in body["error"]
    assert (await ds.client.get("/-/apps.json", headers=root)).json()["count"] == 0


@pytest.mark.asyncio
async def test_list_apps_paginates_with_next_and_next_url(ds, root):
    created = [(await create_app(ds, root, name=f"App {i}"))["slug"] for i in range(5)]
    seen, path, pages = [], "/-/apps.json?_size=2", 0
    while path:
        response = await ds.client.get(path, headers=root)
        assert response.status_code == 200
        body = response.json()
        assert body["ok"] is True and body["count"] == 5
        assert len(body["apps"]) <= 2
        seen += [app["slug"] for app in body["apps"]]
        pages += 1
        if body["next"] is None:
            assert body["next_url"] is None
            path = None
        else:
            assert "_size=2" in body["next_url"] and f"_next={body['next']}" in body["next_url"]
            path = path_of(body["next_url"])
    assert seen == created and pages == 3
    everything = (await ds.client.get("/-/apps.json", headers=root)).json()
    assert [a["slug"] for a in everything["apps"]] == created and everything["next"] is None


@pytest.mark.asyncio
async def test_read_app_by_canonical_and_seed_paths(ds, root):
    app = await create_app(ds, root, name="Reader", description="read me")
    canonical = await ds.client.get("/-/apps/reader.json", headers=root)
    seed = await ds.client.get("/api/apps/reader/", headers=root)
    assert canonical.status_code == seed.status_code == 200
    assert canonical.json() == seed.json()
    assert canonical.json()["id"] == app["id"]
    assert canonical.json()["description"] == "read me"
    assert path_of(canonical.json()["url"]) == "/-/apps/reader.json"


@pytest.mark.asyncio
async def test_patch_updates_name_and_description_not_slug(ds, root):
    await create_app(ds, root, name="Before", description="old")
    response = await ds.client.patch(
        "/-/apps/before", json={"name": "After", "description": "new"}, headers=root
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["name"], response.json()["description"]) == ("After", "new")
    assert response.json()["slug"] == "before"
    again = (await ds.client.get("/-/apps/before.json", headers=root)).json()
    assert (again["name"], again["description"]) == ("After", "new")
    response = await ds.client.patch("/-/apps/before", json={"description": ""}, headers=root)
    assert response.json()["description"] == "" and response.json()["name"] == "After"
    assert_error(await ds.client.patch("/-/apps/before", json={"name": " "}, headers=root), 400)
    assert_error(await ds.client.patch("/-/apps/before", json={"slug": "x"}, headers=root), 400)


async def _app_with_two_datasources(ds, root, users_schema):
    await create_app(ds, root, name="Shop")
    flat = await create_datasource(ds, root, "shop", slug="flat")
    jsonb = await create_datasource(ds, root, "shop", slug="docs", provider_type="jsonb")
    for datasource in ("flat", "docs"):
        for name in ("users", "orders"):
            await create_datatable(ds, root, "shop", datasource, name, users_schema)
    return flat, jsonb


async def _catalog_flags(ds, table: str) -> list[int]:
    catalog = ds.get_database("_dataservice")
    return [row[0] for row in await catalog.execute(f"select is_active from {table} order by id")]


@pytest.mark.asyncio
async def test_soft_delete_cascades_and_stops_serving_databases(ds, root, users_schema):
    flat, jsonb = await _app_with_two_datasources(ds, root, users_schema)
    databases = [f"/{datasource['database']}.json" for datasource in (flat, jsonb)]
    for path in databases:
        assert (await ds.client.get(path, headers=root)).status_code == 200
    response = await ds.client.delete("/-/apps/shop", headers=root)
    assert response.status_code == 200, response.json()
    assert response.json()["is_active"] is False
    assert re.match(ISO_SECONDS, response.json()["deleted_at"])

    assert await _catalog_flags(ds, "apps") == [0]
    assert await _catalog_flags(ds, "datasources") == [0, 0]
    assert await _catalog_flags(ds, "datatables") == [0, 0, 0, 0]
    for path in databases:
        assert (await ds.client.get(path, headers=root)).status_code == 404
    assert_error(await ds.client.get("/-/apps/shop.json", headers=root), 404)
    assert_error(await ds.client.get("/api/apps/shop/", headers=root), 404)
    assert_error(await ds.client.get("/-/apps/shop/datasources.json", headers=root), 404)
    path = "/-/apps/shop/datasources/flat/datatables/users.json"
    assert_error(await ds.client.get(path, headers=root), 404)
    assert_error(await ds.client.delete("/-/apps/shop", headers=root), 404)
    assert (await ds.client.get("/-/apps.json", headers=root)).json()["count"] == 0


@pytest.mark.asyncio
async def test_include_deleted_shows_children_of_a_deleted_app(ds, root, users_schema):
    await _app_with_two_datasources(ds, root, users_schema)
    await ds.client.delete("/-/apps/shop", headers=root)
    base = "/-/apps/shop/datasources"
    for path in (f"{base}/flat.json", f"{base}/docs/datatables/orders.json"):
        response = await ds.client.get(f"{path}?include_deleted=1", headers=root)
        assert response.status_code == 200, (path, response.text[:300])
        assert response.json()["is_active"] is False
    response = await ds.client.get(f"{base}.json?include_deleted=1", headers=root)
    assert response.status_code == 200, response.json()
    assert [d["is_active"] for d in response.json()["datasources"]] == [False, False]
    response = await ds.client.get("/-/apps/shop/datatables.json?include_deleted=1", headers=root)
    assert response.status_code == 200, response.json()
    assert response.json()["count"] == 4
    assert not any(t["is_active"] for t in response.json()["datatables"])


@pytest.mark.asyncio
async def test_include_deleted_shows_deleted_apps_to_root(ds, root):
    await create_app(ds, root, name="Kept")
    await create_app(ds, root, name="Dropped")
    await ds.client.delete("/-/apps/dropped", headers=root)
    listing = (await ds.client.get("/-/apps.json", headers=root)).json()
    assert [a["slug"] for a in listing["apps"]] == ["kept"] and listing["count"] == 1
    listing = (await ds.client.get("/-/apps.json?include_deleted=1", headers=root)).json()
    assert {a["slug"]: a["is_active"] for a in listing["apps"]} == {"kept": True, "dropped": False}
    assert listing["count"] == 2
    response = await ds.client.get("/-/apps/dropped.json?include_deleted=1", headers=root)
    assert response.status_code == 200 and response.json()["is_active"] is False


@pytest.mark.asyncio
async def test_restore_brings_back_exactly_what_the_delete_took(ds, root, users_schema):
    flat, jsonb = await _app_with_two_datasources(ds, root, users_schema)
    row = {"id": 7, "email": "x@example.com", "name": "X"}
    datatable = (await ds.client.get("/-/apps/shop/datasources/flat/datatables/users.json")).json()
    assert (await insert_row(ds, root, datatable, row)).status_code == 201
    # Deleted on its own before the app: the app's restore must not bring it back.
    response = await ds.client.delete(
        "/-/apps/shop/datasources/docs/datatables/orders", headers=root
    )
    assert response.status_code == 200
    assert (await ds.client.get("/-/apps/shop.json")).json()["table_count"] == 3
    await ds.client.delete("/-/apps/shop", headers=root)

    response = await ds.client.post("/-/apps/shop/restore", headers=root)
    assert response.status_code == 200, response.json()
    app = response.json()
    assert app["is_active"] is True and app["deleted_at"] is None
    assert (app["datasource_count"], app["table_count"]) == (2, 3)
    base = "/-/apps/shop/datasources"
    assert_error(await ds.client.get(f"{base}/docs/datatables/orders.json", headers=root), 404)
    for path in ("flat/datatables/users", "flat/datatables/orders", "docs/datatables/users"):
        response = await ds.client.get(f"{base}/{path}.json", headers=root)
        assert response.status_code == 200 and response.json()["is_active"] is True, path
    for datasource in (flat, jsonb):
        assert (
            await ds.client.get(f"/{datasource['database']}.json", headers=root)
        ).status_code == 200
    response = await ds.client.get(path_of(datatable["json_url"]), headers=root)
    assert response.json()["rows"] == [{**row, "created_at": None}]  # soft delete kept the data


@pytest.mark.asyncio
async def test_restore_of_an_active_app_is_a_conflict(ds, root):
    await create_app(ds, root, name="Alive")
    body = assert_error(await ds.client.post("/-/apps/alive/restore", headers=root), 409)
    assert "alive" in body["error"]
    assert_error(await ds.client.post("/-/apps/nope/restore", headers=root), 404)


@pytest.mark.asyncio
async def test_app_stats_and_operations(ds, root, users_schema):
    await _app_with_two_datasources(ds, root, users_schema)
    stats = (await ds.client.get("/-/apps/shop/stats.json", headers=root)).json()
    assert (stats["datasource_count"], stats["table_count"], stats["row_count"]) == (2, 4, 0)
    assert set(stats["by_provider_type"]) == {"flat_table", "jsonb"}
    assert stats["by_provider_type"]["jsonb"]["datasource_count"] == 1
    assert re.match(ISO_SECONDS, stats["last_operation_at"])
    operations = (await ds.client.get("/-/apps/shop/operations.json", headers=root)).json()
    names = [op["operation"] for op in operations["operations"]]
    assert names[:3] == ["create_app", "create_datasource", "create_datasource"]
    assert names.count("materialize") == 4 and operations["count"] == len(names)
    assert {op["actor"] for op in operations["operations"]} == {"root"}
