"""Refusals in Datasette's error shape, no 500s, and who may do what."""

from __future__ import annotations

import json

import pytest
import pytest_asyncio
from conftest import (
    assert_error,
    create_app,
    create_datasource,
    create_datatable,
    make_datasette,
)
from datasette.app import Datasette

TABLES = "/-/apps/shop/datasources/main/datatables"


@pytest_asyncio.fixture
async def shop(ds, root, users_schema):
    await create_app(ds, root, name="Shop")
    await create_datasource(ds, root, "shop", slug="main")
    await create_datasource(ds, root, "shop", slug="docs", provider_type="jsonb")
    await create_datatable(ds, root, "shop", "main", "users", users_schema)


def cookie(ds, actor_id: str) -> dict:
    return {"ds_actor": ds.client.actor_cookie({"id": actor_id})}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "content, needle",
    [
        (b"{bad", "Invalid JSON"),
        (b"", "JSON object"),
        (b"   ", "JSON object"),
        (b"[1, 2]", "JSON object"),
        (b'"a string"', "JSON object"),
        (b"null", "JSON object"),
        (b"\xff\xfe\x00", "Invalid JSON"),
    ],
)
async def test_bad_bodies(ds, root, content, needle):
    headers = {**root, "Content-Type": "application/json"}
    response = await ds.client.post("/-/apps", content=content, headers=headers)
    assert needle in assert_error(response, 400)["error"]


@pytest.mark.asyncio
async def test_unknown_keys_are_each_named(ds, root, shop):
    body = {"name": "X", "colour": "red", "size": 2}
    errors = assert_error(await ds.client.post("/-/apps", json=body, headers=root), 400)["errors"]
    assert len(errors) == 2 and '"colour"' in errors[0] and '"size"' in errors[1]
    response = await ds.client.patch("/-/apps/shop", json={"is_active": False}, headers=root)
    assert "is_active" in assert_error(response, 400)["error"]
    assert (await ds.client.get("/-/apps.json", headers=root)).json()["count"] == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "path, body, needles",
    [
        ("/-/apps", {}, ['"name" is required']),
        ("/-/apps", {"name": 5}, ['"name" must be a string']),
        ("/-/apps", {"name": "x" * 201}, ['"name" must be at most']),
        ("/-/apps", {"name": "!!!"}, ["slug"]),
        ("/-/apps", {"name": "X", "description": ["a"]}, ['"description" must be a string']),
        ("/-/apps/shop/datasources", {}, ['"name" is required', '"provider_type" is required']),
        (TABLES, {}, ['"name" is required', '"json_schema" is required']),
        (TABLES, {"name": "t", "json_schema": {"fields": []}, "materialize": "yes"}, ["materia"]),
    ],
)
async def test_missing_and_wrong_fields(ds, root, shop, path, body, needles):
    errors = assert_error(await ds.client.post(path, json=body, headers=root), 400)["errors"]
    assert len(errors) >= len(needles)
    for needle in needles:
        assert any(needle in error for error in errors), (needle, errors)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "method, path, allow",
    [
        ("put", "/-/apps", "GET, POST"),
        ("delete", "/api/apps/", "GET, POST"),
        ("post", "/-/apps/shop", "DELETE, GET, PATCH, PUT"),
        ("get", "/-/apps/shop/restore", "POST"),
        ("delete", "/-/apps/shop/stats.json", "GET"),
        ("patch", "/-/apps/shop/operations.json", "GET"),
        ("put", f"{TABLES}", "GET, POST"),
        ("post", f"{TABLES}/users/schema.json", "GET"),
        ("get", f"{TABLES}/users/materialize", "POST"),
        ("post", f"{TABLES}/users", "DELETE, GET, PATCH, PUT"),
    ],
)
async def test_wrong_method_is_405_with_allow(ds, root, shop, method, path, allow):
    response = await ds.client.request(method.upper(), path, headers=root)
    assert_error(response, 405)
    assert response.headers["allow"] == allow


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/-/apps/nope.json"),
        ("get", "/api/apps/nope/"),
        ("patch", "/-/apps/nope"),
        ("delete", "/-/apps/nope"),
        ("get", "/-/apps/nope/stats.json"),
        ("get", "/-/apps/nope/operations.json"),
        ("get", "/-/apps/nope/datatables.json"),
        ("post", "/-/apps/nope/datasources"),
        ("get", "/-/apps/shop/datasources/nope.json"),
        ("get", "/-/apps/shop/datasources/nope/datatables.json"),
        ("get", "/-/apps/shop/datasources/nope/stats.json"),
        ("get", f"{TABLES}/nope.json"),
        ("delete", f"{TABLES}/nope"),
        ("get", f"{TABLES}/nope/operations.json"),
        ("post", f"{TABLES}/nope/materialize"),
        ("get", "/-/apps/%F0%9F%98%80.json"),
    ],
)
async def test_unknown_resources_are_404(ds, root, shop, method, path):
    kwargs = {}
    if method == "patch":
        kwargs = {"json": {"name": "x"}}
    elif path.endswith("/datasources"):
        kwargs = {"json": {"name": "x", "provider_type": "flat_table"}}
    body = assert_error(await ds.client.request(method.upper(), path, headers=root, **kwargs), 404)
    assert "not found" in body["error"].lower()


MALFORMED = [
    ("get", "/-/apps.json?_size=0", None),
    ("get", "/-/apps.json?_size=-1", None),
    ("get", "/-/apps.json?_size=abc", None),
    ("get", "/-/apps.json?_size=100000", None),
    ("get", "/-/apps.json?_size=max", None),
    ("get", "/-/apps.json?_size=1", None),
    ("get", "/-/apps.json?_next=abc", None),
    ("get", "/-/apps.json?_next=99999999999999999999999999", None),
    ("get", "/-/apps.json?_size=%C2%B2", None),  # "²".isdigit() is True, int("²") fails
    ("get", "/-/apps.json?_next=%C2%B2", None),
    ("get", f"{TABLES}/users/schema.json?version=%C2%B2", None),
    ("get", "/-/apps.json?include_deleted=maybe", None),
    ("get", "/-/apps/shop/datatables.json?is_materialized=2", None),
    ("get", f"{TABLES}/users/schema.json?version=0", None),
    ("get", f"{TABLES}/users/schema.json?version=99999999999999999999999", None),
    ("get", "/-/apps/..%2F..%2Fetc.json", None),
    ("post", "/-/apps", b'{"name": NaN}'),
    ("post", "/-/apps", b'{"name": 1e999}'),
    ("post", "/-/apps", b'{"name": "a\\u0000b"}'),
    ("post", "/-/apps", {"name": "x", "slug": 5}),
    ("post", "/-/apps", {"name": "x", "description": {"a": 1}}),
    ("post", "/-/apps", {"name": "x" * 100_000}),
    ("post", "/-/apps/shop/datasources", {"name": "x", "provider_type": ["flat_table"]}),
    ("post", "/-/apps/shop/datasources", {"name": "x", "provider_type": "jsonb", "slug": "ü"}),
    ("post", TABLES, {"name": "t", "json_schema": "users.json"}),
    ("post", TABLES, {"name": "t", "json_schema": {"fields": {"id": "integer"}}}),
    ("post", TABLES, {"name": "t", "json_schema": {"fields": [{"name": 1}]}}),
    ("post", TABLES, {"name": "t", "json_schema": {"fields": [None, 3, "x"]}}),
    ("post", TABLES, {"name": "sqlite_master", "json_schema": {"fields": [{"name": "a"}]}}),
    ("post", TABLES, {"name": "../etc", "json_schema": {"fields": [{"name": "a"}]}}),
    ("post", TABLES, {"name": "a" * 64, "json_schema": {"fields": [{"name": "a"}]}}),
    ("post", TABLES, {"name": 7, "json_schema": {"fields": [{"name": "a"}]}}),
    (
        "post",
        TABLES,
        {"name": "re", "json_schema": {"fields": [{"name": "a", "constraints": {"pattern": "("}}]}},
    ),
    ("post", TABLES, {"name": "q", "json_schema": {"fields": [{"name": 'a"b'}, {"name": "]"}]}}),
    (
        "post",
        "/-/apps/shop/datasources/docs/datatables",
        {"name": "j", "json_schema": {"fields": [{"name": "it's"}, {"name": "_id"}]}},
    ),
    (
        "post",
        TABLES,
        {
            "name": "e",
            "json_schema": {
                "fields": [
                    {"name": "n", "type": "integer", "constraints": {"enum": [1, "a", None]}}
                ]
            },
        },
    ),
    ("patch", f"{TABLES}/users", {"json_schema": {"fields": [{"name": "id"}]}}),
    ("patch", f"{TABLES}/users", {"name": None}),
    ("patch", "/-/apps/shop/datasources/main", [1, 2]),
    ("post", f"{TABLES}/users/restore", b"garbage"),
]


@pytest.mark.asyncio
async def test_never_a_500(ds, root, shop):
    failures = []
    for method, path, body in MALFORMED:
        kwargs = {}
        if isinstance(body, bytes):
            kwargs = {"content": body, "headers": {**root, "Content-Type": "application/json"}}
        elif body is not None:
            kwargs = {"json": body}
        kwargs.setdefault("headers", root)
        response = await ds.client.request(method.upper(), path, **kwargs)
        if response.status_code >= 500:
            failures.append((method, path, response.status_code, response.text[:200]))
        elif response.status_code >= 400 and path.startswith("/-/apps"):
            assert_error(response, response.status_code)
    assert not failures, "\n".join(map(str, failures))


@pytest.mark.asyncio
async def test_body_size_limit_is_413(tmp_path, users_schema):
    datasette = make_datasette(tmp_path / "data", max_body_bytes=200)
    await datasette.invoke_startup()
    headers = {"Authorization": f"Bearer {await datasette.create_token('root')}"}
    response = await datasette.client.post("/-/apps", json={"name": "x" * 300}, headers=headers)
    assert "200 bytes" in assert_error(response, 413)["error"]
    datasette.close()


@pytest.mark.asyncio
async def test_anonymous_writes_are_refused(ds, root, shop, users_schema):
    writes = [
        ("post", "/-/apps", {"name": "Anon"}),
        ("patch", "/-/apps/shop", {"name": "Hacked"}),
        ("delete", "/-/apps/shop", None),
        ("post", "/-/apps/shop/restore", None),
        ("post", "/-/apps/shop/datasources", {"name": "x", "provider_type": "jsonb"}),
        ("delete", "/-/apps/shop/datasources/main", None),
        ("post", TABLES, {"name": "t", "json_schema": users_schema}),
        ("patch", f"{TABLES}/users", {"description": "x"}),
        ("delete", f"{TABLES}/users", None),
        ("get", "/-/apps.json?include_deleted=1", None),
    ]
    for method, path, body in writes:
        kwargs = {"json": body} if body is not None else {}
        response = await ds.client.request(method.upper(), path, **kwargs)
        assert response.status_code in (401, 403), (method, path, response.status_code)
        assert "dataservice-" in assert_error(response, response.status_code)["error"]
    app = (await ds.client.get("/-/apps/shop.json")).json()  # reading is open, like tables
    assert (app["name"], app["is_active"], app["table_count"]) == ("Shop", True, 1)


@pytest.mark.asyncio
async def test_token_of_an_actor_without_permissions_is_403(ds, root, shop):
    bob = {"Authorization": f"Bearer {await ds.create_token('bob')}"}
    response = await ds.client.post("/-/apps", json={"name": "Bob's"}, headers=bob)
    assert "dataservice-create-app" in assert_error(response, 403)["error"]
    response = await ds.client.patch("/-/apps/shop", json={"name": "Bob"}, headers=bob)
    assert "dataservice-manage-app" in assert_error(response, 403)["error"]
    assert_error(await ds.client.delete("/-/apps/shop", headers=bob), 403)
    assert (await ds.client.get("/-/apps.json", headers=bob)).json()["count"] == 1
    assert (await ds.client.get("/-/apps/shop.json")).json()["name"] == "Shop"


@pytest.mark.asyncio
async def test_datasette_yml_permissions_grant_actions(tmp_path):
    datasette = Datasette(
        config={
            "permissions": {"dataservice-create-app": {"id": "alice"}},
            # app-scoped actions are keyed by app slug where core would name a database
            "databases": {
                "alice-app": {"permissions": {"dataservice-manage-app": {"id": "alice"}}}
            },
            "plugins": {"datasette-dataservice": {"data_dir": str(tmp_path / "data")}},
        }
    )
    await datasette.invoke_startup()
    client = datasette.client
    alice, bob = cookie(datasette, "alice"), cookie(datasette, "bob")
    response = await client.post("/-/apps", json={"name": "Alice App"}, cookies=alice)
    assert response.status_code == 201, response.json()
    token = {"Authorization": f"Bearer {await datasette.create_token('alice')}"}
    response = await client.post("/-/apps", json={"name": "Other App"}, headers=token)
    assert response.status_code == 201, response.json()
    assert_error(await client.post("/-/apps", json={"name": "Bob"}, cookies=bob), 403)
    body = {"name": "Main", "provider_type": "flat_table"}
    response = await client.post("/-/apps/alice-app/datasources", json=body, cookies=alice)
    assert response.status_code == 201, response.json()
    response = await client.post("/-/apps/other-app/datasources", json=body, cookies=alice)
    assert '"other-app"' in assert_error(response, 403)["error"]
    datasette.close()


@pytest.mark.asyncio
async def test_catalog_is_visible_to_root_only(ds, root, shop):
    assert (await ds.client.get("/_dataservice.json", headers=root)).status_code == 200
    rows = await ds.client.get("/_dataservice/apps.json", headers=root)
    assert [row["slug"] for row in rows.json()["rows"]] == ["shop"]
    for cookies in (None, cookie(ds, "alice")):
        for path in (
            "/_dataservice.json",
            "/_dataservice/apps.json",
            "/_dataservice/schema_operations.json",
            "/_dataservice/-/query.json?sql=select+*+from+apps",
        ):
            response = await ds.client.get(path, cookies=cookies)
            assert response.status_code in (403, 404), (path, cookies, response.status_code)
        index = await ds.client.get("/.json", cookies=cookies)
        assert index.status_code == 200 and "_dataservice" not in index.text
    assert "_dataservice" in (await ds.client.get("/.json", headers=root)).text


@pytest.mark.asyncio
async def test_anonymous_core_pages_do_not_touch_the_data_service(ds, root, shop):
    ds._permission_checks.clear()
    for path in (
        "/",
        "/.json",
        "/-/actions.json",
        "/-/databases.json",
        "/-/versions.json",
        "/shop_main",
        "/shop_main.json",
        "/shop_main/shop_users.json",
    ):
        response = await ds.client.get(path)
        assert response.status_code < 500, path
        if path == "/":
            assert "Data service" not in response.text
            assert 'href="/-/apps"' not in response.text
    checked = [c.action for c in ds._permission_checks if c.action.startswith("dataservice-")]
    assert checked == []
    assert len(ds._permission_checks) > 0  # the log is live: core did check its own actions


@pytest.mark.asyncio
async def test_menu_links_to_apps_for_those_who_may_create_them(ds, root):
    for headers, cookies in ((root, None), ({}, cookie(ds, "root"))):
        page = await ds.client.get("/", headers=headers, cookies=cookies)
        assert page.status_code == 200
        assert '<a href="/-/apps">Data service apps</a>' in page.text
    page = await ds.client.get("/", cookies=cookie(ds, "bob"))
    assert 'href="/-/apps"' not in page.text
    assert json.loads((await ds.client.get("/-/actor.json", cookies=cookie(ds, "bob"))).text)[
        "actor"
    ] == {"id": "bob"}


@pytest.mark.asyncio
async def test_token_restricted_to_one_app_manages_only_that_app(tmp_path):
    from conftest import make_datasette
    from datasette.tokens import TokenRestrictions

    datasette = make_datasette(
        tmp_path / "data",
        permissions={"dataservice-manage-app": {"id": ["alice", "root"]}},
    )
    await datasette.invoke_startup()
    root_headers = {"Authorization": f"Bearer {await datasette.create_token('root')}"}
    for name in ("crm", "hr"):
        response = await datasette.client.post("/-/apps", json={"name": name}, headers=root_headers)
        assert response.status_code == 201
    token = await datasette.create_token(
        "alice",
        restrictions=TokenRestrictions().allow_database("crm", "dataservice-manage-app"),
    )
    alice = {"Authorization": f"Bearer {token}"}
    body = {"name": "Main", "provider_type": "flat_table"}
    allowed = await datasette.client.post("/-/apps/crm/datasources", json=body, headers=alice)
    assert allowed.status_code == 201, allowed.json()
    refused = await datasette.client.post("/-/apps/hr/datasources", json=body, headers=alice)
    assert refused.status_code == 403
    assert "dataservice-manage-app" in refused.json()["error"]
    datasette.close()
