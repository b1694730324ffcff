"""Shared fixtures: a Datasette with the plugin on a fresh data directory, and tokens."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from datasette_test import Datasette

USERS_SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True, "unique": True}},
        {
            "name": "email",
            "type": "string",
            "format": "email",
            "constraints": {"required": True},
        },
        {"name": "name", "type": "string", "constraints": {"required": True}},
        {"name": "created_at", "type": "datetime"},
    ],
    "primaryKey": ["id"],
}


def make_datasette(data_dir, permissions=None, **plugin_config) -> Datasette:
    """A Datasette with the plugin; rate limits are off unless a test configures them."""
    plugin_config.setdefault("rate_limits", False)
    datasette = Datasette(
        plugin_config={"datasette-dataservice": {"data_dir": str(data_dir), **plugin_config}},
        permissions=permissions,
    )
    datasette.root_enabled = True
    return datasette


@pytest_asyncio.fixture
async def ds(tmp_path):
    datasette = make_datasette(tmp_path / "data")
    await datasette.invoke_startup()
    yield datasette
    datasette.close()


@pytest_asyncio.fixture
async def root(ds):
    """Headers that authenticate as root with a real dstok_ token."""
    token = await ds.create_token("root")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def users_schema():
    return {**USERS_SCHEMA, "fields": [dict(f) for f in USERS_SCHEMA["fields"]]}


async def create_app(ds, headers, name="My Application", **extra):
    response = await ds.client.post("/-/apps", json={"name": name, **extra}, headers=headers)
    assert response.status_code == 201, response.json()
    return response.json()


async def create_datasource(ds, headers, app, slug="users-db", provider_type="flat_table", **extra):
    response = await ds.client.post(
        f"/-/apps/{app}/datasources",
        json={
            "name": slug.replace("-", " ").title(),
            "slug": slug,
            "provider_type": provider_type,
            **extra,
        },
        headers=headers,
    )
    assert response.status_code == 201, response.json()
    return response.json()


async def create_datatable(ds, headers, app, datasource, name, schema, **extra):
    response = await ds.client.post(
        f"/-/apps/{app}/datasources/{datasource}/datatables",
        json={"name": name, "json_schema": schema, **extra},
        headers=headers,
    )
    assert response.status_code == 201, response.json()
    return response.json()


def path_of(url: str) -> str:
    """The path and query of an absolute URL from a response, for ds.client."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


ISO_SECONDS = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"  # the seed's "2024-10-30T12:00:00Z"


def assert_error(response, status: int) -> dict:
    """Assert Datasette's error shape ``{"ok": false, "error", "errors", "status"}``."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) - {"report"} == {"ok", "error", "errors", "status"}, body
    assert body["ok"] is False and body["status"] == status
    assert body["errors"] and all(isinstance(e, str) and e for e in body["errors"])
    assert body["error"] == "; ".join(body["errors"])
    return body


async def insert_row(ds, headers, datatable: dict, row: dict):
    """Insert one row through Datasette's own write API at the datatable's ``insert_url``."""
    if datatable["provider_type"] == "jsonb":
        row = {"data": row}
    return await ds.client.post(
        path_of(datatable["insert_url"]), json={"row": row}, headers=headers
    )
