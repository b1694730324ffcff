"""The browser UI in a real browser: Debian's Chromium driven by Playwright.

A real ``datasette serve --root`` runs in a subprocess; the test signs in through the
``/-/auth-token`` link it prints, then uses the pages as a person would. Screenshots of the
main pages are taken on every run; ``UPDATE_SCREENSHOTS=1`` stores them in docs/screenshots/
(otherwise they go to a temporary directory). In CI a missing Chromium or Playwright fails the test.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from live_server import free_port, stop

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
TIMEOUT_MS = 10_000


def _ready(page, expect) -> None:
    """Wait until dataservice.js has wired the page's forms and buttons.

    After a navigation the HTML is visible before the deferred script runs; a click in
    between does nothing (CI once restored nothing that way).
    """
    expect(page.locator("html[data-ds-ready]")).to_have_count(1)


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def sync_api():
    try:
        from playwright import sync_api
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[test]')")
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    return sync_api


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real Datasette with the plugin; yields (base URL, sign-in URL)."""
    data_dir = tmp_path_factory.mktemp("browser") / "data"
    port = free_port()
    datasette = Path(sys.executable).with_name("datasette")
    process = subprocess.Popen(
        [
            str(datasette), "serve", "--root", "-p", str(port),
            "-s", "plugins.datasette-dataservice.data_dir", str(data_dir),
            "-s", "plugins.datasette-dataservice.rate_limits.enabled", "false",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    sign_in = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sign_in is None:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        match = re.search(r"(http://\S+/-/auth-token\?token=\S+)", line)
        if match:
            sign_in = match.group(1)
    if sign_in is None:
        process.kill()
        pytest.fail("datasette serve did not print its sign-in URL")
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):  # wait until it answers
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.1)
    try:
        yield base, sign_in
    finally:
        stop(process)


@pytest.fixture(scope="module")
def page(sync_api, server):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.js_errors = []
        page.on("pageerror", lambda error: page.js_errors.append(str(error)))
        page.goto(server[1])  # signs in as root: sets the ds_actor cookie
        yield page
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = (
        SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path_factory.mktemp("shots")
    )
    folder.mkdir(parents=True, exist_ok=True)

    def shot(page, name: str) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return shot


def test_browser_create_app_datasource_datatable_and_change_schema(page, server, sync_api, shots):
    expect = sync_api.expect
    base = server[0]
    _shot = shots

    # The menu links to the apps page; create an app from its form.
    page.goto(base + "/")
    page.click("details.nav-menu summary")
    page.click("text=Data service apps")
    expect(page).to_have_url(base + "/-/apps")
    _ready(page, expect)
    page.fill("#app-name", "Browser Demo")
    page.fill("#app-description", "Made in Chromium")
    page.click("#create-app input[type=submit]")
    expect(page).to_have_url(base + "/-/apps/browser-demo")
    expect(page.locator("h1")).to_have_text("Browser Demo")
    _ready(page, expect)

    # A datasource, then a datatable, from the app page's forms.
    page.fill("#ds-name", "Users DB")
    page.fill("#ds-slug", "users-db")
    page.click("#create-datasource input[type=submit]")
    expect(page.locator("#ds-datasources")).to_contain_text("users-db")
    _ready(page, expect)
    page.fill("#dt-name", "people")
    page.fill(
        "#dt-schema",
        '{"fields": [{"name": "id", "type": "integer", "constraints": {"required": true}},'
        ' {"name": "name", "type": "string"}], "primaryKey": ["id"]}',
    )
    page.click("#create-datatable input[type=submit]")
    expect(page).to_have_url(base + "/-/apps/browser-demo/datasources/users-db/datatables/people")
    expect(page.locator("#ds-fields tbody tr")).to_have_count(2)
    _ready(page, expect)

    # Import a CSV file through the import form; the report says what was written.
    csv = {"name": "people.csv", "mimeType": "text/csv", "buffer": b"id,name\n1,Ada\n2,Bob\n"}
    page.set_input_files("#import-file", files=[csv])
    page.click("#ds-import input[type=submit]")
    expect(page.locator("#ds-import .ds-report")).to_contain_text("Imported 2 of 2 rows")

    assert page.js_errors == []

    # Add a field in the editor, preview the migration, apply it.
    editor = page.locator("#ds-editor")
    editor.locator(".ds-add-field").click()
    new_row = editor.locator("tr.ds-field-row").nth(2)
    new_row.locator(".ds-f-name").fill("age")
    new_row.locator(".ds-f-type").select_option("integer")
    new_row.locator(".ds-f-constraints").fill('{"minimum": 0}')
    editor.locator(".ds-preview").click()
    expect(editor.locator(".ds-plan-operations")).to_contain_text("add field")
    expect(editor.locator(".ds-plan-sql")).to_contain_text('ADD COLUMN "age" INTEGER')
    expect(editor.locator(".ds-plan")).to_contain_text("no existing row fails")
    _shot(page, "datatable-preview")
    editor.locator(".ds-apply").click()
    expect(page.locator("#ds-fields tbody tr")).to_have_count(3)
    expect(page.locator("#ds-history")).to_contain_text("add field")

    # The new column is on Datasette's own table page, which links back here.
    page.click("#ds-table-link")
    expect(page.locator("table.rows-and-columns th.col-age")).to_have_count(1)
    expect(page.locator("table.rows-and-columns")).to_contain_text("Ada")
    page.click("details.actions-menu-links summary")
    page.click("text=Data service: schema and history")
    expect(page.locator("h1")).to_have_text("people")

    # A validation error is shown next to the field it concerns.
    editor = page.locator("#ds-editor")
    second = editor.locator("tr.ds-field-row").nth(1)
    second.locator(".ds-f-name").fill("id")
    editor.locator(".ds-preview").click()
    expect(second.locator(".ds-field-error")).to_contain_text('fields[1] ("id")')
    expect(second).to_have_class(re.compile("ds-invalid"))
    expect(editor.locator("tr.ds-field-row").nth(0).locator(".ds-field-error")).to_be_empty()
    _shot(page, "datatable-validation-error")

    # A rename in the form is an explicit rename; the raw JSON tab shows the same change.
    page.reload()
    editor = page.locator("#ds-editor")
    editor.locator("tr.ds-field-row").nth(2).locator(".ds-f-name").fill("years")
    editor.locator(".ds-preview").click()
    expect(editor.locator(".ds-plan-operations")).to_contain_text("rename field")
    editor.locator("button[data-tab=raw]").click()
    expect(editor.locator(".ds-raw-renames")).to_have_value('{"age":"years"}')
    assert '"years"' in editor.locator(".ds-raw").input_value()
    editor.locator("button[data-tab=form]").click()
    expect(editor.locator("tr.ds-field-row").nth(2).locator(".ds-f-name")).to_have_value("years")

    # Screenshots of the other pages.
    page.goto(base + "/-/apps/browser-demo")
    expect(page.locator("#ds-rows-chart")).to_contain_text("users-db/people")
    _shot(page, "app")
    page.goto(base + "/-/apps")
    expect(page.locator("#ds-apps")).to_contain_text("Browser Demo")
    _shot(page, "apps")
    page.goto(base + "/-/apps/browser-demo/datasources/users-db/datatables/people")
    _shot(page, "datatable")

    # Soft delete a datasource from the app page, then restore it (root may manage the app).
    page.goto(base + "/-/apps/browser-demo")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#ds-datasources button:has-text('Delete')")
    expect(page.locator("#ds-deleted")).to_contain_text("users-db")
    expect(page.locator("#ds-datasources")).to_have_count(0)
    _ready(page, expect)
    page.click("#ds-deleted button:has-text('Restore')")
    expect(page.locator("#ds-datasources")).to_contain_text("users-db")
    expect(page.locator("#ds-datatables")).to_contain_text("people")
    assert page.js_errors == []
