"""Facets on a Postgres-backed table page in a real browser (a real ``datasette serve``,
Debian's Chromium via Playwright): a filtered, faceted page shows core's facet lists; a
click on a facet value applies it as a filter and the counts follow."""

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
        {"name": "total", "type": "number"},
        {"name": "paid", "type": "boolean"},
        {"name": "tags", "type": "array"},
    ],
    "primaryKey": ["id"],
}
ROWS = [
    {"id": 1, "customer": "Ada", "total": 12.5, "paid": True, "tags": ["gift"]},
    {"id": 2, "customer": "Brian", "total": 3, "paid": False, "tags": []},
    {"id": 3, "customer": "Ada", "total": 99.99, "paid": True, "tags": ["gift", "rush"]},
    {"id": 4, "customer": "Cleo", "total": 40, "paid": False, "tags": ["rush"]},
    {"id": 5, "customer": "Ada", "total": 7, "paid": False, "tags": []},
]


@pytest.fixture(scope="module")
def shop(tmp_path_factory, postgres_dsn):
    """A live server with app "shop" and datatable "orders" on Postgres."""
    from conftest import RUN_PREFIX

    data_dir = tmp_path_factory.mktemp("browser-pg-facets") / "data"
    prefix = f"{RUN_PREFIX}browserfacets_"
    with postgres_shop(data_dir, postgres_dsn, prefix, SCHEMA, ROWS) as (server, _):
        yield server


def facet_counts(page, name: str) -> dict[str, str]:
    """A facet's values and counts as the page lists them ("1": "2", ...)."""
    items = page.locator(f"#facet-{name} ul li").all()
    counts = {}
    for item in items:
        text = item.inner_text().replace("·", " ").replace("✖", " ").split()
        counts[text[0]] = text[-1]
    return counts


def test_a_person_clicks_a_facet_value(sync_api, shots, shop):  # noqa: F811
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(
                shop.base
                + "/shop_main/shop_orders?total__gt=5&_facet=customer&_facet=paid"
                + "&_facet_array=tags"
            )
            assert page.locator("table.rows-and-columns tbody tr").count() == 4
            assert facet_counts(page, "customer") == {"Ada": "3", "Cleo": "1"}
            assert facet_counts(page, "paid") == {"1": "2", "0": "2"}
            assert facet_counts(page, "tags") == {"gift": "2", "rush": "2"}

            page.click('#facet-paid a[data-facet-value="1"]')
            page.wait_for_url(re.compile(r"[?&]paid=1"))
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)
            assert query["paid"] == ["1"] and query["total__gt"] == ["5"]
            assert page.locator("table.rows-and-columns tbody tr").count() == 2
            cells = page.locator("table.rows-and-columns tbody td.col-customer")
            assert cells.all_inner_texts() == ["Ada", "Ada"]
            assert facet_counts(page, "customer") == {"Ada": "2"}
            assert facet_counts(page, "paid") == {"1": "2"}  # selected: a cross removes it
            assert page.locator("#facet-paid li a.cross").count() == 1
            assert facet_counts(page, "tags") == {"gift": "2", "rush": "1"}
            assert "paid = 1" in page.locator("h3.table-summary").inner_text()
            shots(page, "postgres-table-facets")

            page.click("#facet-paid li a.cross")
            page.wait_for_url(lambda url: "paid=1" not in url)
            assert page.locator("table.rows-and-columns tbody tr").count() == 4
            assert facet_counts(page, "paid") == {"1": "2", "0": "2"}
        finally:
            browser.close()
