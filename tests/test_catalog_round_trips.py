"""Catalog round trips per request (issue 15): every ``service.read`` and ``service.write`` is
one; with the catalog on PostgreSQL each is a network round trip, so a request makes few.

The figures before the scaffold (one target resolved once, a per-request cache) are kept in
BEFORE, for the record; the test asserts the bounds in AFTER.
"""

from __future__ import annotations

import pytest
from conftest import create_app, create_datasource, create_datatable, path_of

from datasette_dataservice.catalog import store
from datasette_dataservice.service.core import service_for

BASE = "/-/apps/shop/datasources/main/datatables"

# Round trips each request made before the refactor (SQLite catalog, a flat_table datatable).
BEFORE = {
    "get datatable": 3,
    "datatable page (HTML)": 9,
    "list datatables": 5,
    "import rows (data service API)": 4,
    "insert rows (core /-/insert)": 2,
    "insert rows again (core /-/insert)": 2,
    "managed table JSON page": 0,
    "managed table HTML page": 5,
    "schema change PUT": 13,
    "schema change PATCH": 13,
    "datatable page with history (HTML)": 17,
    "create datasource": 4,
    "create datatable": 9,
    "delete datatable": 8,
    "restore datatable": 10,
}
# The bounds asserted now.
AFTER = {
    "get datatable": 1,
    "datatable page (HTML)": 3,
    "list datatables": 3,
    # the target, the running import's row (any node answers its progress), its outcome with
    # the audit entry (issue 15)
    "import rows (data service API)": 3,
    "insert rows (core /-/insert)": 2,
    "insert rows again (core /-/insert)": 1,
    "managed table JSON page": 0,
    "managed table HTML page": 1,
    "schema change PUT": 7,
    "schema change PATCH": 7,
    "datatable page with history (HTML)": 4,
    "create datasource": 3,
    "create datatable": 5,
    "delete datatable": 4,
    "restore datatable": 5,
}

SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "title", "type": "string"},
    ],
    "primaryKey": ["id"],
}


@pytest.mark.asyncio
async def test_round_trips_per_request(ds, root):
    await create_app(ds, root, name="Shop", slug="shop")
    await create_datasource(ds, root, "shop", slug="main")
    items = await create_datatable(ds, root, "shop", "main", "items", SCHEMA)
    service = service_for(ds)
    counts: dict[str, int] = {}

    async def measure(name: str, method: str, path: str, expect: int, **kwargs) -> None:
        before = service.catalog_round_trips
        headers = {**root, **kwargs.pop("headers", {})}
        response = await ds.client.request(method, path, headers=headers, **kwargs)
        assert response.status_code == expect, (name, response.status_code, response.text[:300])
        counts[name] = service.catalog_round_trips - before

    await measure("get datatable", "GET", f"{BASE}/items.json", 200)
    await measure("datatable page (HTML)", "GET", f"{BASE}/items", 200)
    await measure("list datatables", "GET", BASE, 200)
    await measure(
        "import rows (data service API)",
        "POST",
        f"{BASE}/items/import",
        201,
        content=b'[{"id": 1, "title": "one"}]',
        headers={"content-type": "application/json"},
    )
    await measure(
        "insert rows (core /-/insert)",
        "POST",
        path_of(items["insert_url"]),
        201,
        json={"rows": [{"id": 2, "title": "two"}, {"id": 3, "title": "three"}]},
    )
    await measure(
        "insert rows again (core /-/insert)",
        "POST",
        path_of(items["insert_url"]),
        201,
        json={"rows": [{"id": 4, "title": "four"}]},
    )
    await measure("managed table JSON page", "GET", path_of(items["json_url"]), 200)
    await measure("managed table HTML page", "GET", path_of(items["table_url"]), 200)
    wider = {**SCHEMA, "fields": [*SCHEMA["fields"], {"name": "price", "type": "number"}]}
    await measure("schema change PUT", "PUT", f"{BASE}/items", 200, json={"json_schema": wider})
    patch = {"json_schema": {"description": "the shop's items"}}
    await measure("schema change PATCH", "PATCH", f"{BASE}/items", 200, json=patch)
    await measure("datatable page with history (HTML)", "GET", f"{BASE}/items", 200)
    await measure(
        "create datasource",
        "POST",
        "/-/apps/shop/datasources",
        201,
        json={"name": "Other", "slug": "other", "provider_type": "flat_table"},
    )
    await measure(
        "create datatable", "POST", BASE, 201, json={"name": "tags", "json_schema": SCHEMA}
    )
    await measure("delete datatable", "DELETE", f"{BASE}/tags", 200)
    await measure("restore datatable", "POST", f"{BASE}/tags/restore", 200)

    print("\ncatalog round trips per request:", counts)
    assert set(counts) == set(AFTER)
    over = {name: (n, AFTER[name]) for name, n in counts.items() if n > AFTER[name]}
    assert not over, f"more catalog round trips than allowed (measured, bound): {over}"


@pytest.mark.asyncio
async def test_a_request_does_not_answer_from_an_earlier_requests_reads(ds, root):
    """What one request read is not what the next one answers with: a catalog change this
    process did not make (another node's) shows at the next request."""
    await create_app(ds, root, name="Shop", slug="shop")
    await create_datasource(ds, root, "shop", slug="main")
    await create_datatable(ds, root, "shop", "main", "items", SCHEMA)
    first = await ds.client.get(f"{BASE}/items.json", headers=root)
    assert first.json()["description"] == ""
    service = service_for(ds)
    await service.catalog.database.execute_write(
        "UPDATE datatables SET description = 'changed elsewhere' WHERE name = 'items'"
    )
    version = service.catalog_version
    second = await ds.client.get(f"{BASE}/items.json", headers=root)
    assert second.json()["description"] == "changed elsewhere"
    assert service.catalog_version == version  # no write of this service saw the change


@pytest.mark.asyncio
async def test_one_read_resolves_a_path_and_says_which_part_is_missing(ds, root):
    await create_app(ds, root, name="Shop", slug="shop")
    await create_datasource(ds, root, "shop", slug="main")
    await create_datatable(ds, root, "shop", "main", "items", SCHEMA)
    service = service_for(ds)
    for path, missing in [
        ("/-/apps/nope/datasources/main/datatables/items.json", 'App "nope"'),
        ("/-/apps/shop/datasources/nope/datatables/items.json", 'DataSource "nope"'),
        (f"{BASE}/nope.json", 'DataTable "nope"'),
    ]:
        before = service.catalog_round_trips
        response = await ds.client.get(path, headers=root)
        assert response.status_code == 404
        assert response.json()["error"].startswith(missing)
        assert service.catalog_round_trips - before == 1
    # Each level as its own lookup gives it, counts and joined columns included.
    app = await service.app("", "shop")
    assert app == await service.read(store.get_app, "", "shop")
    datasource = await service.datasource("", "shop", "main")
    assert datasource == await service.read(store.get_datasource, app["id"], "main")
    datatable = await service.datatable("", "shop", "main", "items")
    assert datatable == await service.read(store.get_datatable, datasource["id"], "items")
    assert app["table_count"] == datasource["table_count"] == 1
