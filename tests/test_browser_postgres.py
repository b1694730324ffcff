"""Postgres-backed pages in a real browser: a real ``datasette serve`` with a Postgres
connection, Debian's Chromium driven by Playwright, used as a person would use core's pages:
filter a table with the form, sort, open a row, run SQL from the database page."""

from __future__ import annotations

import re
import urllib.parse

import httpx
import pytest
from live_server import live_server
from test_browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, shots, sync_api  # noqa: F401

SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "customer", "type": "string", "constraints": {"required": True}},
        {"name": "total", "type": "number", "constraints": {"minimum": 0}},
        {"name": "paid", "type": "boolean"},
    ],
    "primaryKey": ["id"],
}
ROWS = [
    {"id": 1, "customer": "Ada", "total": 12.5, "paid": True},
    {"id": 2, "customer": "Brian", "total": 3, "paid": False},
    {"id": 3, "customer": "Cleo", "total": 99.99, "paid": True},
]


@pytest.fixture(scope="module")
def shop(tmp_path_factory, postgres_dsn):
    """A live server with app "shop", datasource "main" on Postgres, datatable "orders"."""
    from conftest import RUN_PREFIX

    data_dir = tmp_path_factory.mktemp("browser-pg") / "data"
    settings = [
        ("rate_limits.enabled", "false"),
        ("postgres.main.dsn", postgres_dsn),
        ("postgres.main.schema_prefix", f"{RUN_PREFIX}browser_"),
    ]
    with live_server(data_dir, *settings) as server:
        client = httpx.Client(base_url=server.base, headers=server.headers, timeout=30)
        assert client.post("/-/apps", json={"name": "shop"}).status_code == 201
        created = client.post(
            "/-/apps/shop/datasources",
            json={
                "name": "main",
                "provider_type": "flat_table",
                "provider_config": {"engine": "postgres"},
            },
        )
        assert created.status_code == 201, created.text
        table = client.post(
            "/-/apps/shop/datasources/main/datatables",
            json={"name": "orders", "json_schema": SCHEMA},
        )
        assert table.status_code == 201, table.text
        inserted = client.post("/shop_main/shop_orders/-/insert", json={"rows": ROWS})
        assert inserted.status_code == 201, inserted.text
        yield server


def test_a_person_filters_sorts_opens_a_row_and_runs_sql(sync_api, shots, shop):  # noqa: F811
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(shop.base + "/shop_main/shop_orders")
            assert page.locator("h1").inner_text().strip() == "shop_orders"
            assert page.locator("table.rows-and-columns tbody tr").count() == 3

            page.select_option("select[name=_filter_column]", "total")
            page.select_option("select[name=_filter_op]", "gt")
            page.fill("input[name=_filter_value]", "5")
            page.select_option("select[name=_sort]", "total")
            page.check("input[name=_sort_by_desc]")
            page.click("input[type=submit][value='Apply filters']")
            page.wait_for_url(re.compile(r"total__gt=5"))
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)
            assert query["total__gt"] == ["5"] and query["_sort_desc"] == ["total"]
            cells = page.locator("table.rows-and-columns tbody td.col-customer")
            assert cells.all_inner_texts() == ["Cleo", "Ada"]
            shots(page, "postgres-table")

            page.click("table.rows-and-columns tbody td.col-id a >> text=1")
            page.wait_for_url(re.compile(r"/shop_main/shop_orders/1$"))
            assert "Ada" in page.locator("table.rows-and-columns").inner_text()

            page.goto(shop.base + "/shop_main")
            page.fill("textarea[name=sql]", "select customer from shop_orders where paid")
            page.click("input[type=submit][value='Run SQL']")
            page.wait_for_url(re.compile(r"/shop_main/-/query\?"))
            rows = page.locator("table.rows-and-columns tbody tr").all_inner_texts()
            assert sorted(r.strip() for r in rows) == ["Ada", "Cleo"]
            shots(page, "postgres-query")
        finally:
            browser.close()
