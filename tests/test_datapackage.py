"""Frictionless Data Packages: export an app (JSON descriptor, zip, CSV), import a zip as a new
app, round trips on both providers checked by the official ``frictionless validate``."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import (
    assert_error,
    create_app,
    create_datasource,
    create_datatable,
    make_datasette,
    path_of,
)

from datasette_dataservice.service import datapackage, importer, package_check
from datasette_dataservice.service.core import service_for

FRICTIONLESS = str(Path(sys.executable).parent / "frictionless")
ZIP = {"Content-Type": "application/zip"}

CUSTOMERS = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "email", "type": "string", "format": "email"},
        {"name": "name", "type": "string"},
        {"name": "active", "type": "boolean"},
        {"name": "vip", "type": "boolean", "trueValues": ["yes"], "falseValues": ["no"]},
        {"name": "born", "type": "date"},
        {"name": "met", "type": "date", "format": "%d/%m/%Y"},
        {"name": "joined", "type": "datetime"},
        {"name": "prefs", "type": "object"},
        {"name": "tags", "type": "array"},
        {"name": "since", "type": "year"},
        {"name": "score", "type": "number"},
        {"name": "referrer", "type": "integer"},
    ],
    "primaryKey": ["id"],
    "foreignKeys": [{"fields": ["referrer"], "reference": {"resource": "", "fields": ["id"]}}],
}
PRODUCTS = {
    "fields": [
        {"name": "sku", "type": "string", "constraints": {"required": True}},
        {"name": "variant", "type": "integer", "constraints": {"required": True}},
        {"name": "price", "type": "number", "constraints": {"minimum": 0}},
        {"name": "launched", "type": "year"},
    ],
    "primaryKey": ["sku", "variant"],
}
ORDERS = {  # no primary key: core's CSV export would add a rowid column here
    "fields": [
        {"name": "customer", "type": "integer", "constraints": {"required": True}},
        {"name": "sku", "type": "string"},
        {"name": "variant", "type": "integer"},
        {"name": "quantity", "type": "integer", "constraints": {"minimum": 1}},
        {"name": "placed", "type": "datetime"},
        {"name": "note", "type": "string"},
    ],
    "foreignKeys": [
        {"fields": ["customer"], "reference": {"resource": "customers", "fields": ["id"]}},
        {
            "fields": ["sku", "variant"],
            "reference": {"resource": "products", "fields": ["sku", "variant"]},
        },
    ],
}
ROWS = {
    "customers": [
        {
            "id": 1,
            "email": "ada@example.com",
            "name": 'Ada "the first", Lovelace\nof London',
            "active": True,
            "vip": True,
            "born": "1815-12-10",
            "met": "31/01/2024",
            "joined": "2024-01-02T03:04:05Z",
            "prefs": {"theme": "dark", "sizes": [1, 2.5], "nested": {"ok": True}},
            "tags": ["a", 1, None, {"b": "c"}],
            "since": 1999,
            "score": 2.5,
            "referrer": None,
        },
        {
            "id": 2,
            "email": "alan@example.org",
            "name": "Alan Türing ✓",
            "active": False,
            "vip": False,
            "joined": "2024-05-06T07:08:09.123456",
            "score": -0.125,
            "referrer": 1,
            # Every row has prefs and tags: on SQLite < 3.45, json_valid(NULL) is 0, so the
            # flat_table CHECK on JSON columns refuses null (see the report to the lead).
            "prefs": {"theme": "light"},
            "tags": ["x"],
        },
        {"id": 3, "name": "", "referrer": 2, "prefs": {}, "tags": []},
    ],
    "products": [
        {"sku": "A-1", "variant": 1, "price": 9.99, "launched": 2020},
        {"sku": "A-1", "variant": 2, "price": 0, "launched": None},
        {"sku": "B,2", "variant": 1},
    ],
    "orders": [
        {
            "customer": 1,
            "sku": "A-1",
            "variant": 2,
            "quantity": 3,
            "placed": "2024-02-03T10:00:00Z",
        },
        {"customer": 2, "sku": "B,2", "variant": 1, "quantity": 1, "note": "gift, wrapped"},
        {"customer": 3, "quantity": 7},
    ],
}


async def build_shop(ds, root, provider: str) -> None:
    await create_app(ds, root, name="Shop", description="A shop")
    await create_datasource(ds, root, "shop", slug="main", provider_type=provider)
    for name, schema in (("customers", CUSTOMERS), ("products", PRODUCTS), ("orders", ORDERS)):
        await create_datatable(ds, root, "shop", "main", name, schema)
        response = await ds.client.post(
            f"/-/apps/shop/datasources/main/datatables/{name}/import",
            content=json.dumps(ROWS[name]),
            headers={**root, "Content-Type": "application/json"},
        )
        assert response.status_code == 201, response.json()


def read_zip(content: bytes) -> tuple[dict, dict[str, list[list[str]]]]:
    """The descriptor and each resource's CSV rows (header first), read with the csv module."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        descriptor = json.loads(archive.read("datapackage.json"))
        tables = {
            r["name"]: list(csv.reader(io.StringIO(archive.read(r["path"]).decode("utf-8"))))
            for r in descriptor["resources"]
        }
    return descriptor, tables


def frictionless_validate(content: bytes, tmp_path: Path) -> dict:
    folder = tmp_path / "extracted"
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        archive.extractall(folder)
    done = subprocess.run(
        [FRICTIONLESS, "validate", str(folder / "datapackage.json"), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return json.loads(done.stdout)


def make_zip(files: dict[str, str | bytes | dict]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            if isinstance(content, dict):
                content = json.dumps(content)
            archive.writestr(name, content)
    return buffer.getvalue()


def package(*resources: tuple[str, dict, str]) -> bytes:
    descriptor = {
        "name": "pkg",
        "resources": [
            {"name": name, "path": f"{name}.csv", "schema": schema} for name, schema, _ in resources
        ],
    }
    return make_zip({"datapackage.json": descriptor, **{f"{n}.csv": d for n, _, d in resources}})


async def app_slugs(ds, root) -> set[str]:
    response = await ds.client.get("/-/apps.json?include_deleted=1&_size=max", headers=root)
    return {app["slug"] for app in response.json()["apps"]}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "provider,target", [("flat_table", "flat_table"), ("jsonb", "jsonb"), ("jsonb", "flat_table")]
)
async def test_round_trip(ds, root, tmp_path, provider, target):
    await build_shop(ds, root, provider)
    exported = await ds.client.get("/-/apps/shop/datapackage.zip", headers=root)
    assert exported.status_code == 200, exported.text[:500]
    assert exported.headers["content-type"] == "application/zip"
    descriptor, tables = read_zip(exported.content)
    assert (descriptor["name"], descriptor["title"], descriptor["description"]) == (
        "shop",
        "Shop",
        "A shop",
    )
    names = [r["name"] for r in descriptor["resources"]]
    assert names == ["main-customers", "main-products", "main-orders"]
    orders = descriptor["resources"][2]
    assert orders["path"] == "data/main-orders.csv"
    assert (orders["format"], orders["mediatype"]) == ("csv", "text/csv")
    references = [fk["reference"]["resource"] for fk in orders["schema"]["foreignKeys"]]
    assert references == ["main-customers", "main-products"]
    assert descriptor["resources"][0]["schema"]["foreignKeys"][0]["reference"]["resource"] == ""

    # Exactly the schema's fields (no rowid), values as frictionless reads them back.
    assert tables["main-orders"][0] == [f["name"] for f in ORDERS["fields"]]
    header, first, second, third = tables["main-customers"]
    assert header == [f["name"] for f in CUSTOMERS["fields"]]
    row = dict(zip(header, first, strict=True))
    assert (row["active"], row["vip"], row["met"], row["referrer"]) == (
        "true",
        "yes",
        "31/01/2024",
        "",
    )
    assert json.loads(row["prefs"]) == ROWS["customers"][0]["prefs"]
    assert json.loads(row["tags"]) == ROWS["customers"][0]["tags"]
    assert row["name"] == ROWS["customers"][0]["name"]
    assert dict(zip(header, second, strict=True))["vip"] == "no"

    report = frictionless_validate(exported.content, tmp_path)
    assert report["valid"], json.dumps(report, indent=1)[:3000]
    assert [t["stats"]["rows"] for t in report["tasks"]] == [3, 3, 3]

    imported = await ds.client.post(
        f"/-/apps/import?name=Shop+copy&provider_type={target}",
        content=exported.content,
        headers={**root, **ZIP},
    )
    assert imported.status_code == 201, imported.json()
    body = imported.json()
    assert body["ok"] is True
    assert body["app"]["slug"] == "shop-copy" and body["app"]["name"] == "Shop copy"
    assert body["app"]["table_count"] == 3
    assert body["datasource"]["slug"] == "main"
    assert body["datasource"]["provider_type"] == target
    assert [(r["name"], r["datatable"]["name"], r["rows_written"]) for r in body["resources"]] == [
        ("main-customers", "customers", 3),
        ("main-products", "products", 3),
        ("main-orders", "orders", 3),
    ]
    assert all(r["report"]["valid"] for r in body["resources"])

    again = await ds.client.get("/-/apps/shop-copy/datapackage.zip", headers=root)
    descriptor2, tables2 = read_zip(again.content)
    assert descriptor2["name"] == "shop-copy"
    for one, two in zip(descriptor["resources"], descriptor2["resources"], strict=True):
        assert one["name"] == two["name"]
        assert one["schema"] == two["schema"]
        assert tables[one["name"]] == tables2[two["name"]]


@pytest.mark.asyncio
async def test_descriptor_paths_serve_the_zip_data(ds, root):
    await build_shop(ds, root, "flat_table")
    response = await ds.client.get("/-/apps/shop/datapackage.json")
    assert response.status_code == 200
    descriptor = response.json()
    assert "ok" not in descriptor  # the body is the descriptor itself
    _, tables = read_zip((await ds.client.get("/-/apps/shop/datapackage.zip")).content)
    for resource in descriptor["resources"]:
        assert resource["path"].startswith("http")
        assert path_of(resource["path"]).startswith("/-/apps/shop/datasources/main/datatables/")
        data = await ds.client.get(path_of(resource["path"]))
        assert data.status_code == 200
        assert data.headers["content-type"].startswith("text/csv")
        assert list(csv.reader(io.StringIO(data.text))) == tables[resource["name"]]


@pytest.mark.asyncio
async def test_export_service_function_writes_a_valid_package(ds, root, tmp_path):
    await build_shop(ds, root, "jsonb")
    target = tmp_path / "shop.zip"
    descriptor = await datapackage.export_package(service_for(ds), "", "shop", target)
    assert len(descriptor["resources"]) == 3
    assert frictionless_validate(target.read_bytes(), tmp_path)["valid"]
    result = await datapackage.import_package(service_for(ds), "", "cli", target, slug="copy")
    assert result["app"]["slug"] == "copy"
    assert [r["rows_written"] for r in result["resources"]] == [3, 3, 3]


SIMPLE = {
    "fields": [{"name": "id", "type": "integer"}, {"name": "n", "type": "number"}],
    "primaryKey": ["id"],
}
CHILD = {
    "fields": [{"name": "id", "type": "integer"}, {"name": "parent", "type": "integer"}],
    "foreignKeys": [{"fields": ["parent"], "reference": {"resource": "parents", "fields": ["id"]}}],
}


@pytest.mark.asyncio
async def test_invalid_rows_are_refused_with_the_report_and_nothing_created(ds, root):
    before, databases = await app_slugs(ds, root), set(ds.databases)
    content = package(
        ("parents", SIMPLE, "id,n\n1,1.5\n2,x\n2,3\n"),
        ("children", CHILD, "id,parent\n1,1\n2,9\n"),
    )
    response = await ds.client.post("/-/apps/import", content=content, headers={**root, **ZIP})
    body = assert_error(response, 400)
    report = body["report"]
    assert report["valid"] is False
    tasks = {t["name"]: t for t in report["tasks"]}
    assert [(e["type"], e["rowNumber"]) for e in tasks["parents"]["errors"]] == [
        ("type-error", 3),
        ("primary-key", 4),
    ]
    assert [(e["type"], e["rowNumber"]) for e in tasks["children"]["errors"]] == [
        ("foreign-key", 3)
    ]
    assert await app_slugs(ds, root) == before
    assert set(ds.databases) == databases


@pytest.mark.asyncio
async def test_keys_across_batches(ds, root, monkeypatch):
    """Uniqueness and self references are checked across the whole file, not per batch."""
    monkeypatch.setattr(package_check, "BATCH_ROWS", 2)
    monkeypatch.setattr(datapackage, "BATCH_ROWS", 2)
    tree = {
        "fields": [{"name": "id", "type": "integer"}, {"name": "up", "type": "integer"}],
        "primaryKey": ["id"],
        "foreignKeys": [{"fields": ["up"], "reference": {"resource": "tree", "fields": ["id"]}}],
    }
    good = package(("tree", tree, "id,up\n1,\n2,1\n3,2\n4,5\n5,1\n"))
    response = await ds.client.post("/-/apps/import", content=good, headers={**root, **ZIP})
    assert response.status_code == 201, response.json()
    assert response.json()["resources"][0]["rows_written"] == 5
    stored = response.json()["resources"][0]["datatable"]["json_schema"]
    assert stored["foreignKeys"][0]["reference"]["resource"] == ""  # itself, by name, is ""
    duplicate = package(("tree", tree, "id,up\n1,\n2,1\n3,2\n1,\n"))
    body = assert_error(
        await ds.client.post("/-/apps/import", content=duplicate, headers={**root, **ZIP}), 400
    )
    errors = body["report"]["tasks"][0]["errors"]
    assert [(e["type"], e["rowNumber"]) for e in errors] == [("primary-key", 5)]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "files,message",
    [
        ({"datapackage.json": {"name": "x", "resources": []}}, "non-empty"),
        ({"datapackage.json": "{nope"}, "not valid JSON"),
        ({"other.json": "{}"}, "datapackage.json"),
        (
            {"datapackage.json": {"resources": [{"name": "t", "path": "t.csv", "schema": SIMPLE}]}},
            'data file "t.csv" is not in the zip',
        ),
        (
            {
                "datapackage.json": {
                    "resources": [{"name": "t", "path": "../t.csv", "schema": SIMPLE}]
                }
            },
            "relative path inside the zip",
        ),
        (
            {"datapackage.json": {"resources": [{"name": "t", "path": "t.csv"}]}, "t.csv": "id\n"},
            "needs a Table Schema",
        ),
        (
            {
                "datapackage.json": {
                    "resources": [
                        {"name": "t", "path": "t.csv", "schema": {"fields": [{"name": 1}]}}
                    ]
                },
                "t.csv": "id\n",
            },
            "schema:",
        ),
        (
            {
                "datapackage.json": {
                    "resources": [
                        {"name": "parents", "path": "t.csv", "schema": CHILD},
                        {
                            "name": "children",
                            "path": "t.csv",
                            "schema": {
                                **CHILD,
                                "foreignKeys": [
                                    {
                                        "fields": ["parent"],
                                        "reference": {"resource": "parents", "fields": ["id"]},
                                    }
                                ],
                            },
                        },
                    ]
                },
                "t.csv": "id,parent\n",
            },
            '"id" of datatable "parents" are neither its primary key nor unique',
        ),
        (
            {
                "datapackage.json": {
                    "resources": [
                        {
                            "name": "parents",
                            "path": "t.csv",
                            "schema": {**CHILD, "primaryKey": "id", "foreignKeys": []},
                        },
                        {
                            "name": "children",
                            "path": "t.csv",
                            "schema": {
                                "fields": [
                                    {"name": "id", "type": "integer"},
                                    {"name": "parent", "type": "string"},
                                ],
                                "foreignKeys": CHILD["foreignKeys"],
                            },
                        },
                    ]
                },
                "t.csv": "id,parent\n",
            },
            'field "parent" is string but "id" of datatable "parents" is integer',
        ),
    ],
)
async def test_bad_packages_are_refused(ds, root, files, message):
    before = await app_slugs(ds, root)
    response = await ds.client.post(
        "/-/apps/import", content=make_zip(files), headers={**root, **ZIP}
    )
    body = assert_error(response, 400)
    assert message in body["error"], body["error"]
    assert body["report"]["valid"] is False
    assert await app_slugs(ds, root) == before


@pytest.mark.asyncio
async def test_foreign_key_cycle_is_refused(ds, root):
    a = {
        "fields": [{"name": "id", "type": "integer"}, {"name": "b", "type": "integer"}],
        "primaryKey": ["id"],
        "foreignKeys": [{"fields": ["b"], "reference": {"resource": "b", "fields": ["id"]}}],
    }
    b = {**a, "foreignKeys": [{"fields": ["b"], "reference": {"resource": "a", "fields": ["id"]}}]}
    response = await ds.client.post(
        "/-/apps/import",
        content=package(("a", a, "id,b\n"), ("b", b, "id,b\n")),
        headers={**root, **ZIP},
    )
    assert "cycle" in assert_error(response, 400)["error"]


@pytest.mark.asyncio
@pytest.mark.parametrize("entry", ["../evil.csv", "/etc/evil.csv", "data/../../evil.csv", "C:/x"])
async def test_zip_slip_entries_are_refused(ds, root, entry):
    content = make_zip({"datapackage.json": {"resources": []}, entry: "x"})
    response = await ds.client.post("/-/apps/import", content=content, headers={**root, **ZIP})
    assert "leaves the package" in assert_error(response, 400)["error"]


@pytest.mark.asyncio
async def test_upload_checks(ds, root, tmp_path):
    not_zip = await ds.client.post("/-/apps/import", content=b"hello", headers={**root, **ZIP})
    assert "not a zip" in assert_error(not_zip, 400)["error"]
    json_body = await ds.client.post("/-/apps/import", json={"a": 1}, headers=root)
    assert_error(json_body, 415)
    content = package(("t", SIMPLE, "id,n\n1,2\n"))
    bad_provider = await ds.client.post(
        "/-/apps/import?provider_type=nope", content=content, headers={**root, **ZIP}
    )
    assert_error(bad_provider, 400)
    assert_error(
        await ds.client.post(
            "/-/apps/import?slug=Bad_Slug", content=content, headers={**root, **ZIP}
        ),
        400,
    )
    ok = await ds.client.post("/-/apps/import?slug=taken", content=content, headers={**root, **ZIP})
    assert ok.status_code == 201
    again = await ds.client.post(
        "/-/apps/import?slug=taken", content=content, headers={**root, **ZIP}
    )
    assert_error(again, 409)
    derived = await ds.client.post("/-/apps/import", content=content, headers={**root, **ZIP})
    assert derived.json()["app"]["slug"] == "pkg"
    assert derived.json()["datasource"]["slug"] == "data"

    small = make_datasette(tmp_path / "small", max_body_bytes=100)  # packages: 10 x 100 bytes
    await small.invoke_startup()
    try:
        headers = {"Authorization": f"Bearer {await small.create_token('root')}", **ZIP}
        big = package(("t", SIMPLE, "id,n\n" + "".join(f"{i},1\n" for i in range(500))))
        assert_error(await small.client.post("/-/apps/import", content=big, headers=headers), 413)
    finally:
        small.close()


@pytest.mark.asyncio
async def test_failure_after_creation_is_undone(ds, root, monkeypatch):
    """If loading fails once the catalog work began, the tables are purged and the app is
    left soft-deleted (its audit trail refers to it), holding no table."""
    real = importer.import_rows
    calls = []

    async def failing(service, datatable, chunks, **options):
        calls.append(datatable["name"])
        status = await real(service, datatable, chunks, **options)
        if len(calls) == 2:
            status.state, status.error = "failed", "SQLite refused the rows: simulated"
        return status

    monkeypatch.setattr(importer, "import_rows", failing)
    content = package(("parents", SIMPLE, "id,n\n1,1\n"), ("children", CHILD, "id,parent\n1,1\n"))
    response = await ds.client.post(
        "/-/apps/import?slug=half", content=content, headers={**root, **ZIP}
    )
    assert "simulated" in assert_error(response, 400)["error"]
    assert (await ds.client.get("/-/apps/half.json", headers=root)).status_code == 404
    app = (await ds.client.get("/-/apps/half.json?include_deleted=1", headers=root)).json()
    assert app["is_active"] is False and app["table_count"] == 0
    tables = await ds.client.get("/-/apps/half/datatables.json?include_deleted=1", headers=root)
    assert tables.json()["count"] == 0
    assert "half_data" not in ds.databases
    path = service_for(ds).config.data_dir / "half_data.db"
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []


@pytest.mark.asyncio
async def test_permissions(ds, root, tmp_path):
    await build_shop(ds, root, "flat_table")
    content = package(("t", SIMPLE, "id,n\n1,2\n"))
    assert_error(await ds.client.post("/-/apps/import", content=content, headers=ZIP), 401)
    alice = {"Authorization": f"Bearer {await ds.create_token('alice')}"}
    assert_error(
        await ds.client.post("/-/apps/import", content=content, headers={**alice, **ZIP}), 403
    )
    # Reading follows the view permission: allowed to everyone by default...
    for path in (
        "datapackage.json",
        "datapackage.zip",
        "datasources/main/datatables/orders/data.csv",
    ):
        assert (await ds.client.get(f"/-/apps/shop/{path}")).status_code == 200
    assert_error(await ds.client.get("/-/apps/nope/datapackage.json"), 404)

    # ... and denied where datasette.yml says so.
    private = make_datasette(
        tmp_path / "private", permissions={"dataservice-view-app": {"id": "root"}}
    )
    await private.invoke_startup()
    try:
        headers = {"Authorization": f"Bearer {await private.create_token('root')}"}
        await build_shop(private, headers, "jsonb")
        for path in (
            "datapackage.json",
            "datapackage.zip",
            "datasources/main/datatables/orders/data.csv",
        ):
            assert_error(await private.client.get(f"/-/apps/shop/{path}"), 401)
            assert (
                await private.client.get(f"/-/apps/shop/{path}", headers=headers)
            ).status_code == 200
    finally:
        private.close()


@pytest.mark.asyncio
async def test_several_datasources_become_one(ds, root):
    """Resource names keep datasources apart; on import, clashing datatable names get a
    suffix and the foreign keys follow them."""
    await create_app(ds, root, name="multi")
    items = {"fields": [{"name": "id", "type": "integer"}], "primaryKey": ["id"]}
    links = {
        "fields": [{"name": "item", "type": "integer"}],
        "foreignKeys": [{"fields": ["item"], "reference": {"resource": "items", "fields": ["id"]}}],
    }
    for slug in ("one", "two"):
        await create_datasource(ds, root, "multi", slug=slug)
        await create_datatable(ds, root, "multi", slug, "items", items)
    await create_datatable(ds, root, "multi", "two", "links", links)
    await create_datatable(ds, root, "multi", "two", "later", items, materialize=False)
    base = "/-/apps/multi/datasources/two/datatables"
    for table, rows in (("items", [{"id": 7}]), ("links", [{"item": 7}])):
        response = await ds.client.post(f"{base}/{table}/import", json=rows, headers=root)
        assert response.status_code == 201, response.json()
    later = await ds.client.get(f"{base}/later/data.csv")
    assert later.text == "id\r\n"  # not materialized: the header alone

    descriptor = (await ds.client.get("/-/apps/multi/datapackage.json")).json()
    assert [r["name"] for r in descriptor["resources"]] == [
        "one-items",
        "two-items",
        "two-links",
        "two-later",
    ]
    links_fk = descriptor["resources"][2]["schema"]["foreignKeys"][0]["reference"]
    assert links_fk["resource"] == "two-items"

    exported = await ds.client.get("/-/apps/multi/datapackage.zip")
    response = await ds.client.post(
        "/-/apps/import", content=exported.content, headers={**root, **ZIP}
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["datasource"]["slug"] == "data"  # the package spans several datasources
    tables = {r["name"]: r["datatable"] for r in body["resources"]}
    assert [tables[n]["name"] for n in ("one-items", "two-items", "two-links")] == [
        "items",
        "items_2",
        "links",
    ]
    reference = tables["two-links"]["json_schema"]["foreignKeys"][0]["reference"]
    assert reference["resource"] == "items_2"
    assert [r["rows_written"] for r in body["resources"]] == [0, 1, 1, 0]


@pytest.mark.asyncio
async def test_a_package_written_by_frictionless_imports(ds, root, tmp_path, monkeypatch):
    from frictionless import Package, Resource

    monkeypatch.chdir(tmp_path)  # frictionless zips relative paths only
    (tmp_path / "fruits.csv").write_text("id,name,price,when\n1,apple,1.5,2024-01-01\n2,pear,2,\n")
    (tmp_path / "stock.csv").write_text("fruit,qty\n1,3\n2,4\n")
    # The referencing resource comes first: tables are still created referenced-first.
    written = Package(
        resources=[Resource(path="stock.csv"), Resource(path="fruits.csv")],
        name="fruit-shop",
        title="Fruit shop",
    )
    written.infer()
    written.resources[1].schema.primary_key = ["id"]
    written.resources[0].schema.foreign_keys = [
        {"fields": ["fruit"], "reference": {"resource": "fruits", "fields": ["id"]}}
    ]
    written.publish("fruit.zip")
    response = await ds.client.post(
        "/-/apps/import?provider_type=jsonb",
        content=(tmp_path / "fruit.zip").read_bytes(),
        headers={**root, **ZIP},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["app"]["slug"], body["app"]["name"]) == ("fruit-shop", "Fruit shop")
    assert [(r["name"], r["rows_written"]) for r in body["resources"]] == [
        ("stock", 2),
        ("fruits", 2),
    ]
    rows = await ds.client.get("/-/apps/fruit-shop/datasources/data/datatables/fruits/data.csv")
    assert rows.text == "id,name,price,when\r\n1,apple,1.5,2024-01-01\r\n2,pear,2.0,\r\n"
