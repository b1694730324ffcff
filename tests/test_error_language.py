"""Errors in the API's own language (issue 12, item 7): JSON requests get JSON errors, pages
get pages, and ``max_body_bytes`` bounds every body the data service reads."""

from __future__ import annotations

import pytest
import pytest_asyncio
from conftest import (
    USERS_SCHEMA,
    assert_error,
    close_data_service,
    create_app,
    create_datasource,
    create_datatable,
    make_datasette,
    path_of,
)

ENGINES = ["sqlite", "postgres"]


@pytest.mark.asyncio
async def test_a_json_body_past_datasette_s_cap_gets_a_json_error(ds, root):
    """Datasette caps bodies at 2 MB (an HTML 413); the service's own limit applies."""
    response = await ds.client.post("/-/apps", json={"name": "x" * 3_000_000}, headers=root)
    body = assert_error(response, 400)
    assert "name" in body["error"]
    response = await ds.client.post("/-/apps", json={"name": "x" * 11_000_000}, headers=root)
    assert "larger than 10485760 bytes" in assert_error(response, 413)["error"]


@pytest_asyncio.fixture
async def small(tmp_path, postgres_config):
    datasette = make_datasette(tmp_path / "data", max_body_bytes=1000, postgres=postgres_config)
    await datasette.invoke_startup()
    yield datasette, {"Authorization": f"Bearer {await datasette.create_token('root')}"}
    await close_data_service(datasette)


@pytest.mark.asyncio
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("kind", ["insert", "upsert", "update"])
async def test_max_body_bytes_bounds_core_writes_on_managed_tables(small, engine, kind):
    ds, root = small
    await create_app(ds, root, name="a")
    await create_datasource(ds, root, "a", slug="d", provider_config={"engine": engine})
    datatable = await create_datatable(ds, root, "a", "d", "users", USERS_SCHEMA)
    row = {"id": 1, "email": "ada@example.com", "name": "Ada"}
    insert = path_of(datatable["insert_url"])
    assert (await ds.client.post(insert, json={"row": row}, headers=root)).status_code == 201
    big = {**row, "name": "x" * 10_000}
    if kind == "update":
        url, body = insert.removesuffix("/-/insert") + "/1/-/update", {"update": big}
    else:
        url, body = insert.removesuffix("insert") + kind, {"row": big}
    response = await ds.client.post(url, json=body, headers=root)
    assert "larger than 1000 bytes" in assert_error(response, 413)["error"]


@pytest.mark.asyncio
async def test_a_rate_limited_page_is_a_page(tmp_path):
    ds = make_datasette(tmp_path / "data", rate_limits={"default": "1/minute"})
    await ds.invoke_startup()
    try:
        root = {"Authorization": f"Bearer {await ds.create_token('root')}"}
        assert (await ds.client.get("/-/apps", headers=root)).status_code == 200
        response = await ds.client.get("/-/apps", headers=root)
        assert response.status_code == 429
        assert response.headers["content-type"].startswith("text/html")
        assert "Rate limit exceeded" in response.text and "Retry-After" in response.headers
        assert_error(await ds.client.get("/-/apps.json", headers=root), 429)
    finally:
        ds.close()
