"""A canned query of a Postgres-backed database in a real browser: a real ``datasette serve``
with the query in Datasette's config, Debian's Chromium driven by Playwright, used as a person
would use core's query page: open it from the database page, fill its parameter, run it."""

from __future__ import annotations

import re
import urllib.parse

import pytest
from live_server import postgres_shop
from test_browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, shots, sync_api  # noqa: F401
from test_browser_postgres import ROWS, SCHEMA

QUERY = "select customer, total from shop_orders where total >= :minimum order by total desc"


@pytest.fixture(scope="module")
def shop(tmp_path_factory, postgres_dsn):
    """A live server with app "shop", datasource "main" on Postgres (database shop_main,
    datatable "orders"), and the canned query "big_orders" configured for shop_main."""
    from conftest import RUN_PREFIX

    data_dir = tmp_path_factory.mktemp("browser-pg-canned") / "data"
    config = (
        ("databases.shop_main.queries.big_orders.sql", QUERY),
        ("databases.shop_main.queries.big_orders.title", "Big orders"),
        ("databases.shop_main.queries.big_orders.description", "Orders of at least a total"),
    )
    prefix = f"{RUN_PREFIX}browsercanned_"
    with postgres_shop(data_dir, postgres_dsn, prefix, SCHEMA, ROWS, config) as (server, _):
        yield server


def test_a_person_runs_a_canned_query_with_a_parameter(sync_api, shots, shop):  # noqa: F811
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(shop.base + "/shop_main")
            page.click("#queries + ul a >> text=Big orders")
            page.wait_for_url(re.compile(r"/shop_main/big_orders$"))
            assert page.locator("h1").inner_text().strip() == "Big orders"
            assert page.locator(".metadata-description").inner_text().strip() == (
                "Orders of at least a total"
            )
            assert page.locator("pre#sql-query").inner_text() == QUERY

            page.fill("input[name=minimum]", "10")
            page.click("input[type=submit][value='Run SQL']")
            page.wait_for_url(re.compile(r"minimum=10"))
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)
            assert query == {"minimum": ["10"]}
            cells = page.locator("table.rows-and-columns tbody td.col-customer")
            assert cells.all_inner_texts() == ["Cleo", "Ada"]
            assert page.locator("input[name=minimum]").input_value() == "10"
            shots(page, "postgres-canned-query")

            page.click(".export-links a >> text=json")
            assert '"customer": "Cleo"' in page.locator("body").inner_text()
        finally:
            browser.close()
