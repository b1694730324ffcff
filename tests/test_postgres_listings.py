"""Postgres-backed databases in Datasette's listings (issue 14 item 1).

One Datasette serves the same datatables from a SQLite-backed datasource (database
``shop_lite``) and a Postgres-backed one (``shop_pg``); every listing must show both with
the same entry shapes, tables, views and counts, under the same permission and tenancy rules.
"""

from __future__ import annotations

import re

import pytest
import pytest_asyncio
from conftest import (
    USERS_SCHEMA,
    close_data_service,
    create_app,
    create_datasource,
    create_datatable,
    insert_row,
    make_datasette,
)
from datasette.tokens import TokenRestrictions

ENGINES = {"lite": "sqlite", "pg": "postgres"}
ORDERS_SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer"},
        {"name": "user_id", "type": "integer"},
        {"name": "total", "type": "number"},
    ],
    "primaryKey": ["id"],
    "foreignKeys": [{"fields": ["user_id"], "reference": {"resource": "users", "fields": ["id"]}}],
}
DATABASES = ("shop_lite", "shop_pg")


class Shop:
    def __init__(self, ds, headers, provider):
        self.ds, self.headers, self.provider = ds, headers, provider
        self.tables: dict[str, dict] = {}

    async def get(self, path, anonymous=False, headers=None, **kwargs):
        headers = {} if anonymous else {**self.headers, **(headers or {})}
        return await self.ds.client.get(path, headers=headers, **kwargs)

    async def json(self, path, **kwargs):
        response = await self.get(path, **kwargs)
        assert response.status_code == 200, (path, response.text[:500])
        return response.json()


async def open_shop(tmp_path, postgres_config, provider, **kwargs) -> Shop:
    ds = make_datasette(tmp_path / "data", postgres=postgres_config, **kwargs)
    await ds.invoke_startup()
    shop = Shop(ds, {"Authorization": f"Bearer {await ds.create_token('root')}"}, provider)
    await create_app(ds, shop.headers, name="Shop", slug="shop")
    for slug, engine in ENGINES.items():
        await create_datasource(
            ds,
            shop.headers,
            "shop",
            slug=slug,
            provider_type=provider,
            provider_config={"engine": engine},
        )
        for name, schema in (("users", USERS_SCHEMA), ("orders", ORDERS_SCHEMA)):
            table = await create_datatable(ds, shop.headers, "shop", slug, name, schema)
            shop.tables[(slug, name)] = table
        for n in (1, 2):
            row = {"id": n, "email": f"u{n}@example.com", "name": f"U{n}"}
            response = await insert_row(ds, shop.headers, shop.tables[(slug, "users")], row)
            assert response.status_code == 201, response.text
    return shop


@pytest_asyncio.fixture(params=["flat_table", "jsonb"])
async def shop(request, tmp_path, postgres_config):
    shop = await open_shop(tmp_path, postgres_config, request.param)
    yield shop
    await close_data_service(shop.ds)


def by_database(entries, key="database"):
    return {db: [e for e in entries if e[key] == db] for db in DATABASES}


def neutral(value, database):
    """``value`` with the database's name taken out, for comparing across the two."""
    if isinstance(value, dict):
        return {k: neutral(v, database) for k, v in value.items()}
    if isinstance(value, list):
        return [neutral(v, database) for v in value]
    return value.replace(database, "DB") if isinstance(value, str) else value


def assert_alike(entries: dict[str, list], drop=()):
    lite, pg = (
        [{k: v for k, v in e.items() if k not in drop} for e in entries[d]] for d in DATABASES
    )
    assert pg or not lite, "the Postgres-backed database is not listed"
    assert neutral(pg, "shop_pg") == neutral(lite, "shop_lite")


@pytest.mark.asyncio
async def test_every_listing_shows_the_postgres_database_like_the_sqlite_one(shop):
    # Datasette's home page, as JSON: the database card with tables, views and counts
    cards = {d["name"]: d for d in (await shop.json("/.json"))["databases"]}
    lite, pg = cards["shop_lite"], cards["shop_pg"]
    assert neutral(pg, "shop_pg") == {**neutral(lite, "shop_lite"), "color": pg["color"]}
    assert pg["table_rows_sum"] == 2 and pg["show_table_row_counts"] is True
    users = next(t for t in pg["tables_and_views_truncated"] if t["name"] == "shop_users")
    assert users["count"] == 2 and users["columns"]

    # the home page itself: the same card
    page = (await shop.get("/")).text
    cards = {
        db: re.search(rf'<h2 [^>]*><a href="/{db}">{db}</a>.*?</p>\s*<p>.*?</p>', page, re.S)
        for db in DATABASES
    }
    assert cards["shop_pg"] is not None, page
    assert (
        cards["shop_pg"].group(0).replace("shop_pg", "DB").split("</h2>")[1]
        == cards["shop_lite"].group(0).replace("shop_lite", "DB").split("</h2>")[1]
    )

    # core's /-/databases.json: same keys; it is mutable, not in memory
    connected = by_database((await shop.json("/-/databases.json"))["databases"], "name")
    assert_alike(connected, drop=("path", "size"))

    # the data service's /-/instance.json and /-/resources.json, instance-wide and per database
    instance = await shop.json("/-/instance.json")
    assert_alike(by_database(instance["databases"]["entries"]))
    for kind in ("tables", "views"):
        assert_alike(by_database(instance[kind]["entries"]))
    resources = (await shop.json("/-/resources.json"))["resources"]
    assert_alike(by_database(resources))
    for db in DATABASES:
        own = (await shop.json(f"/{db}/-/resources.json"))["resources"]
        assert own == by_database(resources)[db]

    # core's permission listing and jump menu
    allowed = await shop.json("/-/allowed.json?action=view-table&_size=200")
    assert_alike(by_database(allowed["items"], "parent"), drop=("reason",))
    allowed = await shop.json("/-/allowed.json?action=view-database")
    assert {i["parent"] for i in allowed["items"]} >= set(DATABASES)
    jump = (await shop.json("/-/jump.json?q=shop_users"))["matches"]
    assert_alike({db: [m for m in jump if m["name"].startswith(db + ":")] for db in DATABASES})

    # core's schema listings, instance-wide and per database
    schemas = {s["database"]: s["schema"] for s in (await shop.json("/-/schema.json"))["schemas"]}
    assert 'CREATE TABLE "shop_users"' in schemas["shop_pg"]
    assert "REFERENCES" in schemas["shop_pg"] or shop.provider == "jsonb"
    one = await shop.json("/shop_pg/-/schema.json")
    assert one == {"ok": True, "database": "shop_pg", "schema": schemas["shop_pg"]}
    markdown = await shop.get("/shop_pg/-/schema.md")
    assert markdown.status_code == 200 and "# Schema for shop_pg" in markdown.text
    assert "shop_users" in (await shop.get("/-/schema.md")).text.split("# Schema for shop_pg")[1]

    # core's stored query list of one database
    queries = {db: await shop.json(f"/{db}/-/queries.json") for db in DATABASES}
    assert set(queries["shop_pg"]) == set(queries["shop_lite"])

    # and the HTML of the per-database listings
    for path in ("/shop_pg/-/schema", "/shop_pg/-/queries", "/-/schema"):
        page = await shop.get(path)
        assert page.status_code == 200 and "shop_pg" in page.text, path


@pytest.mark.asyncio
async def test_listings_follow_the_permission_rules(tmp_path, postgres_config):
    shop = await open_shop(
        tmp_path, postgres_config, "flat_table", permissions={"view-table": {"id": "root"}}
    )
    try:
        # anonymous may view the databases but no table; nobody but root sees the catalog
        cards = {d["name"]: d for d in (await shop.json("/.json", anonymous=True))["databases"]}
        assert "_dataservice" not in cards
        for db in DATABASES:
            assert cards[db]["tables_count"] == 0 and cards[db]["tables_and_views_truncated"] == []
        resources = (await shop.json("/-/resources.json", anonymous=True))["resources"]
        assert resources == []
        assert (await shop.json("/shop_pg/-/schema.json", anonymous=True))["schema"] == ""
        jump = (await shop.json("/-/jump.json?q=shop_", anonymous=True))["matches"]
        assert [m["name"] for m in jump if m["type"] != "database"] == []

        # a token that may see one table of each database sees just that one
        restrictions = TokenRestrictions().allow_all("view-instance")
        for db in DATABASES:
            restrictions.allow_database(db, "view-database")
            restrictions.allow_resource(db, "shop_users", "view-table")
        token = await shop.ds.create_token("root", restrictions=restrictions)
        bearer = {"Authorization": f"Bearer {token}"}
        resources = (await shop.json("/-/resources.json", headers=bearer))["resources"]
        assert sorted((r["database"], r["name"]) for r in resources) == [
            ("shop_lite", "shop_users"),
            ("shop_pg", "shop_users"),
        ]
        schema = (await shop.json("/-/schema.json", headers=bearer))["schemas"]
        assert {s["database"] for s in schema} == set(DATABASES)
        pg_schema = next(s["schema"] for s in schema if s["database"] == "shop_pg")
        assert "shop_users" in pg_schema and "shop_orders" not in pg_schema

        # root sees everything, the catalog included
        cards = {d["name"]: d for d in (await shop.json("/.json"))["databases"]}
        assert "_dataservice" in cards and cards["shop_pg"]["tables_count"] == 2
    finally:
        await close_data_service(shop.ds)


async def names_listed(shop: Shop, db: str) -> dict[str, set[str]]:
    cards = {d["name"]: d for d in (await shop.json("/.json"))["databases"]}
    resources = (await shop.json(f"/{db}/-/resources.json"))["resources"]
    jump = (await shop.json("/-/jump.json?q=" + db))["matches"]
    return {
        "index": {t["name"] for t in cards[db]["tables_and_views_truncated"]},
        "resources": {r["name"] for r in resources},
        "jump": {m["name"].split(": ", 1)[1] for m in jump if ": " in m["name"]},
    }


@pytest.mark.asyncio
async def test_a_soft_deleted_datatable_leaves_every_listing(shop):
    before = {db: await names_listed(shop, db) for db in DATABASES}
    for slug in ENGINES:
        path = f"/-/apps/shop/datasources/{slug}/datatables/orders"
        response = await shop.ds.client.delete(path, headers=shop.headers)
        assert response.status_code == 200, response.text
    after = {db: await names_listed(shop, db) for db in DATABASES}
    assert after["shop_pg"] == after["shop_lite"]
    for where, names in after["shop_pg"].items():
        assert not any("orders" in n for n in names), (where, names)
        assert names < before["shop_pg"][where], where
    for slug in ENGINES:
        path = f"/-/apps/shop/datasources/{slug}/datatables/orders/restore"
        response = await shop.ds.client.post(path, headers=shop.headers)
        assert response.status_code == 200, response.text
    assert await names_listed(shop, "shop_pg") == before["shop_pg"]


@pytest.mark.asyncio
async def test_a_deleted_datasource_leaves_every_listing(shop):
    response = await shop.ds.client.delete("/-/apps/shop/datasources/pg", headers=shop.headers)
    assert response.status_code == 200, response.text
    for path in ("/.json", "/-/databases.json", "/-/instance.json", "/-/schema.json"):
        assert "shop_pg" not in (await shop.get(path)).text, path
    response = await shop.ds.client.post(
        "/-/apps/shop/datasources/pg/restore", headers=shop.headers
    )
    assert response.status_code == 200, response.text
    cards = {d["name"]: d for d in (await shop.json("/.json"))["databases"]}
    assert cards["shop_pg"]["table_rows_sum"] == 2


TENANT_LISTINGS = [
    "/",
    "/.json",
    "/-/databases.json",
    "/-/instance.json",
    "/-/resources.json",
    "/-/schema.json",
    "/-/schema.md",
    "/-/jump.json?q=crm",
    "/-/allowed.json?action=view-table",
    "/-/allowed.json?action=view-database",
]


@pytest.mark.asyncio
async def test_a_tenant_lists_its_own_postgres_databases_only(tmp_path, postgres_config):
    ds = make_datasette(
        tmp_path / "data",
        tenancy={"mode": "subdomain", "base_domain": "example.com"},
        postgres=postgres_config,
    )
    await ds.invoke_startup()
    root = {"Authorization": f"Bearer {await ds.create_token('root')}"}
    try:
        for tenant in ("acme", "globex"):
            headers = {**root, "host": f"{tenant}.example.com"}
            await create_app(ds, headers, name="CRM", slug="crm")
            await create_datasource(
                ds, headers, "crm", slug="main", provider_config={"engine": "postgres"}
            )
            await create_datatable(ds, headers, "crm", "main", "people", USERS_SCHEMA)
        for path in TENANT_LISTINGS:
            for headers in (root, {}):
                globex = {**headers, "host": "globex.example.com"}
                response = await ds.client.get(path, headers=globex)
                assert response.status_code == 200, (path, response.text[:300])
                assert "acme" not in response.text, path
                assert "_dataservice" not in response.text, path
                if path in ("/.json", "/-/databases.json", "/-/schema.json"):
                    assert "globex--crm_main" in response.text, path
        response = await ds.client.get(
            "/globex--crm_main/-/resources.json", headers={"host": "acme.example.com"}
        )
        assert response.status_code == 404
    finally:
        await close_data_service(ds)
