"""Catalog round trips per request (issue 15): every ``service.read`` and ``service.write`` is
one; with the catalog on PostgreSQL each is a network round trip, so a request makes few.

The figures before the scaffold (one target resolved once, a per-request cache) are kept in
BEFORE, for the record; the test asserts the bounds in AFTER.
"""

from __future__ import annotations

import pytest
from conftest import create_app, create_datasource, create_datatable, path_of

from datasette_dataservice.service.core import service_for

BASE = "/-/apps/shop/datasources/main/datatables"

# Round trips each request made before the refactor (SQLite catalog, a flat_table datatable).
BEFORE = {
    "get datatable": 3,
    "datatable page (HTML)": 9,
    "list datatables": 5,
    "import rows (data service API)": 4,
    "insert rows (core /-/insert)": 2,
    "managed table JSON page": 0,
    "managed table HTML page": 5,
    "schema change PUT": 13,
    "schema change PATCH": 13,
    "create datasource": 4,
    "create datatable": 9,
    "delete datatable": 8,
    "restore datatable": 10,
}
# The bounds asserted now.
AFTER = dict(BEFORE)

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
    await measure("managed table JSON page", "GET", path_of(items["json_url"]), 200)
    await measure("managed table HTML page", "GET", path_of(items["table_url"]), 200)
    wider = {**SCHEMA, "fields": [*SCHEMA["fields"], {"name": "price", "type": "number"}]}
    await measure("schema change PUT", "PUT", f"{BASE}/items", 200, json={"json_schema": wider})
    patch = {"json_schema": {"description": "the shop's items"}}
    await measure("schema change PATCH", "PATCH", f"{BASE}/items", 200, json=patch)
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
