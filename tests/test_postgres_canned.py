"""Canned queries (``databases: {db: {queries: ...}}`` in Datasette's config) of a managed
database: on SQLite core serves them; on Postgres the plugin must give the same answers at
the same URLs (ISSUE 14): the query page and its JSON, the listings, the definition, the
permissions, a table of the same name winning, and write queries refused.
"""

from __future__ import annotations

import json
import re

import pytest
import pytest_asyncio
from conftest import assert_error, close_data_service, make_datasette, postgres_config_for
from datasette.tokens import TokenRestrictions
from test_contract import COMBINATIONS, ROWS, SCHEMA, Service

DATABASE = "shop_main"


def queries_for(provider: str) -> dict:
    """The canned queries, read from the datatable as each provider shows it (a jsonb
    datatable's columns are its view's)."""
    table = "shop_items_view" if provider == "jsonb" else "shop_items"
    return {
        "by_name": {
            "sql": f"select id, name, price, active, tags, born from {table}"
            " where name = :name order by id",
            "title": "Items by name",
            "description": "One customer's items",
        },
        "cheaper": {"sql": f"select id, name from {table} where price < :max order by id"},
        "hidden": {
            "sql": f"select name from {table} where id = :id",
            "hide_sql": True,
            "params": ["id"],
            "fragment": "results",
        },
        "who": {"sql": "select :_actor_id as who"},
        "broken": {"sql": f"select no_such_column from {table}"},
        "shop_items": {"sql": "select 1 as shadowed"},  # the table of that name wins
        "secret": {"sql": "select 42 as answer", "allow": {"id": "root"}},
        "write": {"sql": f"delete from {table}", "write": True},
    }


async def start(tmp_path, provider: str, engine: str, postgres_config) -> Service:
    """App "shop", datasource "main" (database shop_main), datatable "items" with ROWS,
    and the canned queries configured for shop_main before Datasette starts."""
    ds = make_datasette(tmp_path / f"{provider}-{engine}", postgres=postgres_config)
    ds.config["databases"] = {DATABASE: {"queries": queries_for(provider)}}
    await ds.invoke_startup()
    headers = {"Authorization": f"Bearer {await ds.create_token('root')}"}
    assert (await ds.client.post("/-/apps", json={"name": "shop"}, headers=headers)).is_success
    config = {"engine": engine, **({"connection": "main"} if engine == "postgres" else {})}
    response = await ds.client.post(
        "/-/apps/shop/datasources",
        json={"name": "main", "provider_type": provider, "provider_config": config},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    response = await ds.client.post(
        "/-/apps/shop/datasources/main/datatables",
        json={"name": "items", "json_schema": SCHEMA},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    service = Service(ds, headers, provider, engine, response.json())
    assert (await service.insert(ROWS)).status_code == 201
    return service


@pytest_asyncio.fixture(params=COMBINATIONS, ids=["-".join(c) for c in COMBINATIONS])
async def shop(request, tmp_path):
    provider, engine = request.param
    service = await start(tmp_path, provider, engine, postgres_config_for(request))
    yield service
    await close_data_service(service.ds)


async def get_json(service: Service, path: str, headers: dict | None = None):
    response = await service.ds.client.get(
        path, headers=service.headers if headers is None else headers
    )
    return response.status_code, response.json()


# What core answers, on both engines ------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_canned_query_answers_with_its_parameters(shop):
    status, body = await get_json(shop, f"/{DATABASE}/by_name.json?name=Ada")
    assert status == 200, body
    assert body == {
        "ok": True,
        "rows": [
            {"id": 1, "name": "Ada", "price": 9.5, "active": 1, "tags": body["rows"][0]["tags"]}
            | {"born": "1815-12-10"}
        ],
        "truncated": False,
    }
    assert json.loads(body["rows"][0]["tags"]) == ["a", "b"]
    status, body = await get_json(shop, f"/{DATABASE}/cheaper.json?max=5&_shape=array")
    assert (status, body) == (200, [{"id": 2, "name": "brian"}, {"id": 4, "name": "Dan"}])
    status, body = await get_json(shop, f"/{DATABASE}/by_name.json?_shape=arrays")
    assert (status, body["rows"]) == (200, [])  # a missing parameter: no match, not an error


@pytest.mark.asyncio
async def test_magic_parameters_and_extras(shop):
    status, body = await get_json(shop, f"/{DATABASE}/who.json?_shape=array")
    assert (status, body) == (200, [{"who": "root"}])
    status, body = await get_json(
        shop, f"/{DATABASE}/hidden.json?id=3&_extra=query&_extra=metadata&_extra=columns"
    )
    assert status == 200, body
    assert body["rows"] == [{"name": "Cleo"}] and body["columns"] == ["name"]
    assert body["query"] == {
        "sql": queries_for(shop.provider)["hidden"]["sql"],
        "params": {"id": "3"},
    }
    assert body["metadata"]["hide_sql"] is True and body["metadata"]["fragment"] == "results"
    assert "source" not in body["metadata"]


@pytest.mark.asyncio
async def test_a_table_of_the_same_name_wins(shop):
    status, body = await get_json(shop, f"/{DATABASE}/shop_items.json?_size=1")
    assert status == 200 and "shadowed" not in body["rows"][0]


@pytest.mark.asyncio
async def test_a_broken_query_reports_its_error(shop):
    response = await shop.ds.client.get(f"/{DATABASE}/broken.json", headers=shop.headers)
    body = response.json()
    assert body["ok"] is False and "no_such_column" in body["error"]


@pytest.mark.asyncio
async def test_permissions(shop):
    # allow: only root may see "secret"; it is private; anonymous gets core's 403
    status, body = await get_json(shop, f"/{DATABASE}/secret.json?_extra=private")
    assert (status, body["rows"], body["private"]) == (200, [{"answer": 42}], True)
    status, body = await get_json(shop, f"/{DATABASE}/secret.json", headers={})
    assert status == 403 and body["ok"] is False
    # a write query stays refused on a managed database, with the way to write instead
    for method in ("get", "post"):
        response = await getattr(shop.ds.client, method)(
            f"/{DATABASE}/write.json", headers=shop.headers
        )
        assert response.status_code == 403, (method, response.text)
        assert "managed by the data service" in response.json()["error"]
    assert len(await shop.rows()) == len(ROWS)


@pytest.mark.asyncio
async def test_a_stored_query_runs_for_who_may_run_sql(shop):
    """A query stored by a user (untrusted, not from config) runs as a config one does, for
    an actor who may also execute SQL (core's rule); a config query needs view-query only."""
    table = "shop_items_view" if shop.provider == "jsonb" else "shop_items"
    await shop.ds.add_query(
        DATABASE, "stored", f"select count(*) as n from {table}", source="user", owner_id="root"
    )
    status, body = await get_json(shop, f"/{DATABASE}/stored.json?_shape=array")
    assert (status, body) == (200, [{"n": len(ROWS)}])
    restrictions = (
        TokenRestrictions()
        .allow_all("view-instance")
        .allow_database(DATABASE, "view-database")
        .allow_resource(DATABASE, "stored", "view-query")
        .allow_resource(DATABASE, "who", "view-query")
    )
    token = await shop.ds.create_token("root", restrictions=restrictions)
    viewer = {"Authorization": f"Bearer {token}"}
    status, body = await get_json(shop, f"/{DATABASE}/stored.json", headers=viewer)
    assert status == 403, body
    status, body = await get_json(shop, f"/{DATABASE}/who.json?_shape=array", headers=viewer)
    assert (status, body) == (200, [{"who": "root"}])


@pytest.mark.asyncio
@pytest.mark.parametrize("provider", ["flat_table", "jsonb"])
async def test_storing_a_query_is_refused_clearly_on_postgres(request, tmp_path, provider):
    """Core classifies a query to store with SQLite's analysis: on a Postgres-backed database
    storing and editing answer 404 with the way to add queries (they were 404 "change its
    tables through the data service" before)."""
    shop = await start(tmp_path, provider, "postgres", request.getfixturevalue("postgres_config"))
    try:
        client = shop.ds.client
        for method, path in [
            ("post", f"/{DATABASE}/-/queries/store"),
            ("get", f"/{DATABASE}/-/queries/analyze?sql=select+1"),
            ("get", f"/{DATABASE}/by_name/-/edit"),
            ("post", f"/{DATABASE}/by_name/-/update"),
            ("post", f"/{DATABASE}/by_name/-/delete"),
        ]:
            response = await getattr(client, method)(path, headers=shop.headers)
            body = assert_error(response, 404)
            assert "configure them as canned queries" in body["error"], path
        assert (await get_json(shop, f"/{DATABASE}/by_name/-/definition"))[0] == 200
    finally:
        await close_data_service(shop.ds)


@pytest.mark.asyncio
async def test_listings_and_definition(shop):
    status, body = await get_json(shop, f"/{DATABASE}.json")
    assert status == 200
    names = [q["name"] for q in body["queries"]]
    # core's order (title, else name), five at most; "write" is hidden (view-query denied)
    assert names == ["broken", "cheaper", "hidden", "by_name", "secret"]
    assert (body["queries_more"], body["queries_count"]) == (True, 7)
    assert [q["private"] for q in body["queries"]] == [False, False, False, False, True]
    anonymous = (await get_json(shop, f"/{DATABASE}.json", headers={}))[1]
    assert "secret" not in [q["name"] for q in anonymous["queries"]]
    assert anonymous["queries_count"] == 6

    status, body = await get_json(shop, f"/{DATABASE}/-/queries.json?_size=4")
    assert status == 200, body
    assert [q["name"] for q in body["queries"]] == names[:4]
    assert body["next"] and body["next_url"].startswith(f"http://localhost/{DATABASE}/-/queries")
    status, rest = await get_json(shop, f"/{DATABASE}/-/queries.json?_size=4&_next={body['next']}")
    assert [q["name"] for q in rest["queries"]] == ["secret", "shop_items", "who"]
    status, body = await get_json(shop, f"/{DATABASE}/-/queries.json?q=Cleo")
    assert status == 200 and body["queries"] == []

    status, body = await get_json(shop, f"/{DATABASE}/by_name/-/definition")
    assert status == 200 and body["query"]["title"] == "Items by name"
    status, body = await get_json(shop, f"/{DATABASE}/secret/-/definition", headers={})
    assert status == 403
    status, body = await get_json(shop, f"/{DATABASE}/nope/-/definition")
    assert status == 404


@pytest.mark.asyncio
async def test_the_query_page(shop):
    client, headers = shop.ds.client, shop.headers
    html = (await client.get(f"/{DATABASE}/by_name?name=Ada", headers=headers)).text
    assert re.search(r"<h1[^>]*>Items by name</h1>", html), html
    assert '<div class="metadata-description">' in html and "One customer&#39;s items" in html
    assert '<pre id="sql-query">select id, name, price' in html
    assert re.search(r'<input type="text" id="qp1" name="name" value="Ada"', html)
    assert 'class="col-name">Ada</td>' in html
    assert f'action="/{DATABASE}/by_name" method="get"' in html
    assert "returning 1 row" in html

    hidden = (await client.get(f"/{DATABASE}/hidden?id=3", headers=headers)).text
    assert '<pre id="sql-query">' not in hidden and 'class="col-name">Cleo</td>' in hidden
    assert f'href="/{DATABASE}/hidden?id=3&amp;_show_sql=1">show</a>' in hidden
    shown = (await client.get(f"/{DATABASE}/hidden?id=3&_show_sql=1", headers=headers)).text
    assert '<pre id="sql-query">select name' in shown

    page = (await client.get(f"/{DATABASE}", headers=headers)).text
    assert '<h2 id="queries">Queries</h2>' in page
    assert (
        f'<a href="/{DATABASE}/by_name" title="One customer&#39;s items">Items by name</a>' in page
    )
    assert f'<a href="/{DATABASE}/hidden#results"' in page
    assert f'<a href="/{DATABASE}/-/queries">View 7 queries</a>' in page

    listing = (await client.get(f"/{DATABASE}/-/queries?_size=3", headers=headers)).text
    assert f'class="query-list-title" href="/{DATABASE}/by_name" title=' not in listing
    assert f'class="query-list-title" href="/{DATABASE}/hidden#results"' in listing
    assert re.search(
        r'<a href="http://localhost/shop_main/-/queries\?_size=3&amp;_next=[^"]+">', listing
    )


# The same answers on both engines ------------------------------------------------------------

PATHS = [
    "/{db}/by_name.json?name=Ada",
    "/{db}/by_name.json?name=Ada&_shape=arrays",
    "/{db}/by_name.json?name=Ada&_shape=object",
    "/{db}/by_name.json?name=nobody&_extra=query&_extra=metadata&_extra=database",
    "/{db}/cheaper.json?max=5&_shape=array",
    "/{db}/hidden.json?id=1&_extra=private&_extra=columns",
    "/{db}/who.json",
    "/{db}/secret.json",
    "/{db}/write.json",
    "/{db}.json",
    "/{db}/-/queries.json",
    "/{db}/-/queries.json?_size=2",
    "/{db}/-/queries.json?is_write=1",
    "/{db}/-/queries.json?q=price",
    "/{db}/by_name/-/definition",
    "/{db}/write/-/definition",
]
ENGINE_SPECIFIC = {"size", "table_columns", "tables"}  # the database's own make-up


def comparable(body):
    if isinstance(body, dict):
        return {k: comparable(v) for k, v in body.items() if k not in ENGINE_SPECIFIC}
    if isinstance(body, list):
        return [comparable(v) for v in body]
    return body


@pytest.mark.asyncio
@pytest.mark.parametrize("provider", ["flat_table", "jsonb"])
async def test_postgres_answers_as_core_does_on_sqlite(request, tmp_path, provider):
    sqlite = await start(tmp_path, provider, "sqlite", None)
    postgres = await start(
        tmp_path, provider, "postgres", request.getfixturevalue("postgres_config")
    )
    try:
        for template in PATHS:
            path = template.format(db=DATABASE)
            for anonymous in (False, True):
                expected = await sqlite.ds.client.get(
                    path, headers={} if anonymous else sqlite.headers
                )
                got = await postgres.ds.client.get(
                    path, headers={} if anonymous else postgres.headers
                )
                assert got.status_code == expected.status_code, (path, got.text)
                assert comparable(got.json()) == comparable(expected.json()), path
    finally:
        await close_data_service(sqlite.ds)
        await close_data_service(postgres.ds)
