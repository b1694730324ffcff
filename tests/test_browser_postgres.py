"""Postgres-backed pages in a real browser: a real ``datasette serve`` with a Postgres
connection, Debian's Chromium driven by Playwright, used as a person would use core's pages:
filter a table with the form, sort, open a row, run SQL from the database page."""

from __future__ import annotations

import re
import urllib.parse

import pytest
from live_server import postgres_shop
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
    """A live server with app "shop": datasource "main" on Postgres (datatable "orders", and
    "later", not materialized), datasource "local" on SQLite (datatable "notes")."""
    from conftest import RUN_PREFIX

    data_dir = tmp_path_factory.mktemp("browser-pg") / "data"
    prefix = f"{RUN_PREFIX}browser_"
    with postgres_shop(data_dir, postgres_dsn, prefix, SCHEMA, ROWS) as (server, client):
        later = client.post(
            "/-/apps/shop/datasources/main/datatables",
            json={"name": "later", "json_schema": SCHEMA, "materialize": False},
        )
        assert later.status_code == 201, later.text
        local = client.post(
            "/-/apps/shop/datasources", json={"name": "local", "provider_type": "jsonb"}
        )
        assert local.status_code == 201, local.text
        notes = client.post(
            "/-/apps/shop/datasources/local/datatables",
            json={"name": "notes", "json_schema": {"fields": [{"name": "title"}]}},
        )
        assert notes.status_code == 201, notes.text
        note = client.post(
            "/shop_local/shop_notes/-/insert", json={"row": {"data": {"title": "hi"}}}
        )
        assert note.status_code == 201, note.text
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
            # Core's SQL editor (CodeMirror over the textarea): the parameters endpoint
            # turns the SQL's :name into a field, "Format SQL" is offered.
            editor = page.locator("form.sql .cm-content")
            editor.fill("select customer from shop_orders where paid and total > :least")
            page.fill("input[data-parameter-name=least]", "0")
            assert page.locator("button#sql-format").is_visible()
            page.click("input[type=submit][value='Run SQL']")
            page.wait_for_url(re.compile(r"/shop_main/-/query\?"))
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)
            assert query["least"] == ["0"], page.url
            rows = page.locator("table.rows-and-columns tbody tr").all_inner_texts()
            assert sorted(r.strip() for r in rows) == ["Ada", "Cleo"]
            assert page.locator(".export-links a").all_inner_texts() == ["json", "tsv", "CSV"]
            shots(page, "postgres-query")
        finally:
            browser.close()


def test_the_app_page_of_an_app_on_both_engines(sync_api, shop):  # noqa: F811
    """The app page lists and links datasources on both engines (a Postgres one made it
    answer 500) and charts rows only for datatables that store them."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(
                viewport={"width": 1200, "height": 800}, extra_http_headers=shop.headers
            )
            page.set_default_timeout(TIMEOUT_MS)
            response = page.goto(shop.base + "/-/apps/shop")
            assert response.status == 200
            engines = page.locator("#ds-datasources tbody tr td:nth-child(3)").all_inner_texts()
            assert sorted(engines) == ["postgres", "sqlite"]
            bars = {
                row.locator(".ds-bar-label").inner_text(): row.locator(".ds-bar-value").inner_text()
                for row in page.locator("#ds-rows-chart .ds-bar-row").all()
            }
            assert bars == {
                "main/orders": "3",
                "main/later": "not materialized",
                "local/notes": "1",
            }
            for database, table in (("shop_main", "shop_orders"), ("shop_local", "shop_notes")):
                page.goto(shop.base + "/-/apps/shop")
                page.click(f"#ds-datasources a >> text={database}")
                page.wait_for_url(re.compile(f"/{database}$"))
                assert page.locator("h1").inner_text().strip() == database
                assert page.locator(f"a >> text={table}").count() >= 1
            for datasource, name in (("main", "orders"), ("local", "notes")):
                page.goto(shop.base + "/-/apps/shop")
                page.click(f"#ds-datatables a >> text={name}")
                page.wait_for_url(re.compile(f"/datasources/{datasource}/datatables/{name}$"))
                page.click("#ds-table-link")
                page.wait_for_url(re.compile(f"/shop_{datasource}/shop_{name}(_view)?$"))
                assert page.locator("table.rows-and-columns tbody tr").count() >= 1
        finally:
            browser.close()
