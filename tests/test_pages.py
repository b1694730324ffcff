"""The HTML pages and the links from Datasette's own pages, without a browser
(tests/test_browser.py drives the same pages in Chromium)."""

from __future__ import annotations

import re

import pytest
import pytest_asyncio
from conftest import (
    close_data_service,
    create_app,
    create_datasource,
    create_datatable,
    make_datasette,
)

TABLE_LINK = 'href="/-/apps/shop/datasources/main/datatables/users"'
JSONB_LINK = 'href="/-/apps/shop/datasources/docs/datatables/notes"'
APP_LINK = '<a href="/-/apps/shop" role="menuitem"'


def cookie(ds, actor_id: str) -> dict:
    return {"ds_actor": ds.client.actor_cookie({"id": actor_id})}


@pytest_asyncio.fixture
async def shop_ds(tmp_path, users_schema):
    """Root manages everything; alice may view app "shop" and nothing more; bob nothing."""
    ds = make_datasette(
        tmp_path / "data",
        permissions={"dataservice-view-app": {"id": ["root", "alice"]}},
    )
    await ds.invoke_startup()
    root = {"Authorization": f"Bearer {await ds.create_token('root')}"}
    await create_app(ds, root, name="Shop")
    await create_datasource(ds, root, "shop", slug="main")
    await create_datasource(ds, root, "shop", slug="docs", provider_type="jsonb")
    await create_datatable(ds, root, "shop", "main", "users", users_schema)
    await create_datatable(ds, root, "shop", "docs", "notes", {"fields": [{"name": "title"}]})
    other = ds.add_memory_database("other")
    await other.execute_write("create table plain (id integer primary key)")
    ds.root_headers = root
    yield ds
    ds.close()


@pytest.mark.asyncio
async def test_table_and_database_pages_link_to_the_data_service(shop_ds):
    ds = shop_ds
    for actor in ("root", "alice"):
        table = await ds.client.get("/shop_main/shop_users", cookies=cookie(ds, actor))
        assert table.status_code == 200 and TABLE_LINK in table.text
        view = await ds.client.get("/shop_docs/shop_notes_view", cookies=cookie(ds, actor))
        assert view.status_code == 200 and JSONB_LINK in view.text
        database = await ds.client.get("/shop_main", cookies=cookie(ds, actor))
        assert database.status_code == 200 and APP_LINK in database.text
    # bob may not view the app; unmanaged databases and tables get no links at all.
    for path in ("/shop_main/shop_users", "/shop_main"):
        response = await ds.client.get(path, cookies=cookie(ds, "bob"))
        assert "/-/apps/shop" not in response.text
    for path in ("/other/plain", "/other"):
        response = await ds.client.get(path, cookies=cookie(ds, "root"))
        assert response.status_code == 200 and "/-/apps" not in response.text.replace(
            'href="/-/apps">Data service apps', ""
        )


@pytest.mark.asyncio
async def test_anonymous_table_pages_get_no_links_and_no_permission_checks(tmp_path, users_schema):
    ds = make_datasette(tmp_path / "data")
    await ds.invoke_startup()
    root = {"Authorization": f"Bearer {await ds.create_token('root')}"}
    await create_app(ds, root, name="Shop")
    await create_datasource(ds, root, "shop", slug="main")
    await create_datatable(ds, root, "shop", "main", "users", users_schema)
    ds._permission_checks.clear()
    for path in ("/shop_main", "/shop_main/shop_users"):
        response = await ds.client.get(path)
        assert response.status_code == 200 and "/-/apps" not in response.text
    assert [c.action for c in ds._permission_checks if c.action.startswith("dataservice-")] == []
    ds.close()


@pytest.mark.asyncio
async def test_app_page_forms_stats_and_deleted_items_for_managers(shop_ds):
    ds = shop_ds
    deleted = await ds.client.delete("/-/apps/shop/datasources/docs", headers=ds.root_headers)
    assert deleted.status_code == 200
    page = await ds.client.get("/-/apps/shop", cookies=cookie(ds, "root"))
    assert page.status_code == 200
    html = page.text
    for needle in (
        'id="create-datasource"',
        'id="create-datatable"',
        'id="ds-rows-chart"',
        'id="ds-deleted"',
        'data-ds-post="/-/apps/shop/datasources/docs/restore"',
        "/-/static-plugins/datasette-dataservice/dataservice.js",
    ):
        assert needle in html, needle
    # alice may view: the lists and the chart, no forms, no deleted items.
    html = (await ds.client.get("/-/apps/shop", cookies=cookie(ds, "alice"))).text
    assert 'id="ds-rows-chart"' in html and "users" in html
    for needle in ('id="create-datasource"', 'id="ds-deleted"', "data-ds-delete"):
        assert needle not in html, needle
    for actor, expected in (("root", True), ("alice", False)):
        apps = (await ds.client.get("/-/apps", cookies=cookie(ds, actor))).text
        assert ('id="create-app"' in apps) is expected, actor


@pytest.mark.asyncio
async def test_datatable_page_history_editor_and_import_form(shop_ds, users_schema):
    ds = shop_ds
    base = "/-/apps/shop/datasources/main/datatables/users"
    current = (await ds.client.get(base + ".json", headers=ds.root_headers)).json()
    users_schema["fields"].append({"name": "age", "type": "integer"})
    changed = await ds.client.put(
        base,
        json={"json_schema": users_schema},
        headers={**ds.root_headers, "If-Match": f'"{current["schema_hash"]}"'},
    )
    assert changed.status_code == 200, changed.json()
    html = (await ds.client.get(base, cookies=cookie(ds, "root"))).text
    for needle in ('id="ds-editor"', 'id="ds-import"', 'id="ds-history"', "add field", "diff.json"):
        assert needle in html, needle
    html = (await ds.client.get(base, cookies=cookie(ds, "alice"))).text
    assert 'id="ds-history"' in html
    assert 'id="ds-editor"' not in html and 'id="ds-import"' not in html


@pytest.mark.asyncio
async def test_static_assets_are_served(shop_ds):
    for name in ("dataservice.js", "schema-editor.js", "dataservice.css"):
        response = await shop_ds.client.get(f"/-/static-plugins/datasette-dataservice/{name}")
        assert response.status_code == 200, name


@pytest.mark.asyncio
@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
async def test_app_page_links_each_datasource_and_charts_only_stored_rows(
    request, tmp_path, users_schema, engine
):
    """Datasette's ``urls.database`` knows only its own databases: a Postgres-backed one
    made the app page answer 500. A datatable that is not materialized has no rows to
    chart (the API says null), not 0."""
    if engine == "postgres":
        ds = make_datasette(tmp_path / "data", postgres=request.getfixturevalue("postgres_config"))
    else:
        ds = make_datasette(tmp_path / "data")
    await ds.invoke_startup()
    root = {"Authorization": f"Bearer {await ds.create_token('root')}"}
    await create_app(ds, root, name="Shop")
    await create_datasource(ds, root, "shop", slug="main", provider_config={"engine": engine})
    await create_datatable(ds, root, "shop", "main", "users", users_schema)
    await create_datatable(ds, root, "shop", "main", "later", users_schema, materialize=False)
    page = await ds.client.get("/-/apps/shop", cookies=cookie(ds, "root"))
    assert page.status_code == 200, page.text
    assert '<a href="http://localhost/shop_main">shop_main</a>' in page.text
    stats = (await ds.client.get("/-/apps/shop/stats.json", headers=root)).json()
    assert {t["name"]: t["row_count"] for t in stats["tables"]} == {"users": 0, "later": None}
    chart = page.text.split('id="ds-rows-chart"')[1].split("</figure>")[0]
    bars = re.findall(r'ds-bar-label">([^<]*)<.*?ds-bar-value">([^<]*)<', chart, re.S)
    assert sorted(bars) == [("main/later", "not materialized"), ("main/users", "0")]
    database = await ds.client.get("/shop_main", cookies=cookie(ds, "root"))
    assert database.status_code == 200
    await close_data_service(ds)
