"""The 1.0 proposal's /-/instance.json, /-/resources.json and /{db}/-/resources.json.

One instance serves a plain SQLite file, a "secret" database only alice may view, a database
whose name needs tilde-encoding, the plugin's catalog and two managed datasources; permissions
come from Datasette's own config blocks and a private stored query.
"""

from __future__ import annotations

import json
import sqlite3

import pytest
import pytest_asyncio
from conftest import (
    USERS_SCHEMA,
    assert_error,
    create_app,
    create_datasource,
    create_datatable,
    path_of,
)
from datasette.resources import TableResource
from datasette_test import Datasette

PLAIN_SQL = """
CREATE TABLE species (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE sightings (id INTEGER PRIMARY KEY, species_id INTEGER REFERENCES species(id));
CREATE TABLE "odd, name/with.dots~" (id INTEGER PRIMARY KEY);
CREATE VIEW species_names AS SELECT name FROM species;
CREATE VIRTUAL TABLE species_fts USING fts5(name);
"""
FTS_SHADOWS = {f"species_fts_{s}" for s in ("config", "content", "data", "docsize", "idx")}
SECRET_SQL = """
CREATE TABLE payroll (id INTEGER PRIMARY KEY, salary INTEGER);
CREATE VIEW payroll_totals AS SELECT sum(salary) AS total FROM payroll;
"""
MANY = 105  # tables in "many.tables": pages cross databases, instance.json truncates

CONFIG = {
    "databases": {
        "plain": {
            "tables": {"sightings": {"allow": {"id": "alice"}}},
            "queries": {
                "species_count": {"sql": "select count(*) from species", "title": "Species count"},
                "alice_query": {"sql": "select 1", "allow": {"id": "alice"}},
            },
        },
        # Only view-database is restricted: core still allows view-table on payroll.
        "secret": {
            "permissions": {"view-database": {"id": "alice"}},
            "queries": {"secret_query": "select * from payroll"},
        },
    }
}
METADATA = {"title": "Field station", "description": "Birds, and the budget"}

ALICE = {"id": "alice"}
BOB = {"id": "bob"}
ROOT = {"id": "root"}


def make_instance(tmp_path, files, config=None, metadata=None, plugin=None, **kwargs):
    """Like conftest.make_datasette, with database files, config and metadata."""
    plugin = {"data_dir": str(tmp_path / "data"), "rate_limits": False, **(plugin or {})}
    datasette = Datasette(
        [str(f) for f in files],
        config=json.loads(json.dumps(config or {})),
        metadata=metadata,
        plugin_config={"datasette-dataservice": plugin},
        **kwargs,
    )
    datasette.root_enabled = True
    return datasette


def sqlite_file(path, sql: str):
    conn = sqlite3.connect(path)
    conn.executescript(sql)
    conn.close()
    return path


@pytest_asyncio.fixture
async def site(tmp_path):
    many = "".join(f"CREATE TABLE t{i:03d} (id INTEGER PRIMARY KEY);" for i in range(MANY))
    files = [
        sqlite_file(tmp_path / "plain.db", PLAIN_SQL),
        sqlite_file(tmp_path / "secret.db", SECRET_SQL),
        sqlite_file(tmp_path / "many.tables.db", many),
    ]
    ds = make_instance(tmp_path, files, config=CONFIG, metadata=METADATA)
    await ds.invoke_startup()
    root = {"Authorization": f"Bearer {await ds.create_token('root')}"}
    await create_app(ds, root, name="Zoo")
    flat = await create_datasource(ds, root, "zoo", slug="animals")
    jsonb = await create_datasource(ds, root, "zoo", slug="notes", provider_type="jsonb")
    keepers = await create_datatable(ds, root, "zoo", "animals", "keepers", USERS_SCHEMA)
    memos = await create_datatable(ds, root, "zoo", "notes", "memos", USERS_SCHEMA)
    await ds.add_query(
        "plain", "alice_private", "select 2", is_private=True, owner_id="alice", source="user"
    )
    ds.flat_db, ds.jsonb_db = flat["database"], jsonb["database"]
    ds.keepers, ds.memos = keepers["physical_table_name"], memos["physical_table_name"]
    ds.root_headers = root
    yield ds
    ds.close()


def keys(entries) -> set[tuple[str, str]]:
    return {(e["database"], e["name"]) for e in entries}


async def get_json(ds, path, actor=None, status=200) -> dict:
    response = await ds.client.get(path, actor=actor)
    assert response.status_code == status, (path, response.status_code, response.text[:500])
    return response.json()


async def walk(ds, path, actor=None) -> tuple[list[dict], list[dict]]:
    """Every resource behind ``path``, following next_url; and the pages seen."""
    pages, resources = [], []
    while path:
        page = await get_json(ds, path, actor)
        pages.append(page)
        resources.extend(page["resources"])
        assert (page["next"] is None) == (page["next_url"] is None)
        path = path_of(page["next_url"]) if page["next_url"] else None
        assert len(pages) <= 200, "pagination does not end"
    return resources, pages


def visible_to_anyone(ds) -> dict[str, set[tuple[str, str]]]:
    """What an actor with no grants sees: never secret, _dataservice or alice's things."""
    many = {("many.tables", f"t{i:03d}") for i in range(MANY)}
    return {
        "table": {("plain", "species"), ("plain", "odd, name/with.dots~"), ("plain", "species_fts")}
        | {("plain", s) for s in FTS_SHADOWS}
        | many
        | {(ds.flat_db, ds.keepers), (ds.jsonb_db, ds.memos)},
        # The jsonb provider's view exposes each field as a column.
        "view": {("plain", "species_names"), (ds.jsonb_db, ds.memos + "_view")},
        "query": {("plain", "species_count")},
    }


def alice_extra() -> dict[str, set[tuple[str, str]]]:
    return {
        "table": {("plain", "sightings"), ("secret", "payroll")},
        "view": {("secret", "payroll_totals")},
        "query": {("plain", "alice_query"), ("plain", "alice_private"), ("secret", "secret_query")},
    }


@pytest.mark.asyncio
async def test_views_are_named_as_the_jsonb_provider_names_them(site):
    # Guards the expectations below: the jsonb datatable is a table plus a generated view.
    listing = await get_json(site, f"/{site.jsonb_db}.json", ROOT)
    assert {v["name"] for v in listing["views"]} == {site.memos + "_view"}
    assert {t["name"] for t in listing["tables"]} == {site.memos}


@pytest.mark.asyncio
@pytest.mark.parametrize("actor", [None, BOB])
async def test_instance_lists_what_an_ungranted_actor_may_see(site, actor):
    data = await get_json(site, "/-/instance.json", actor)
    assert data["ok"] is True and "metadata" not in data
    expected = visible_to_anyone(site)
    names = [e["name"] for e in data["databases"]["entries"]]
    assert names == sorted(["plain", "many.tables", site.flat_db, site.jsonb_db])
    assert data["databases"]["count"] == 4 and data["databases"]["truncated"] is False
    tables = data["tables"]
    assert tables["count"] == len(expected["table"]) and tables["truncated"] is True
    assert len(tables["entries"]) == 100  # the first 100, in (database, name) order
    first = sorted(expected["table"])[:100]
    assert [(e["database"], e["name"]) for e in tables["entries"]] == first
    for kind, plural in (("table", "tables"), ("view", "views"), ("query", "queries")):
        block = data[plural]
        assert keys(block["entries"]) <= expected[kind], kind
        if kind != "table":
            assert keys(block["entries"]) == expected[kind], kind
            assert block["count"] == len(expected[kind]) and block["truncated"] is False
        assert all(e["type"] == kind and e["private"] is False for e in block["entries"])
    text = json.dumps(data)
    for hidden in ("_dataservice", "secret", "payroll", "sightings", "alice_"):
        assert hidden not in text, hidden
    assert data["resources_url"] == "http://localhost/-/resources.json"


@pytest.mark.asyncio
async def test_instance_entries_carry_urls_flags_and_query_titles(site):
    data = await get_json(site, "/-/instance.json")
    plain = next(e for e in data["databases"]["entries"] if e["name"] == "plain")
    assert plain == {
        "database": "plain",
        "name": "plain",
        "route": "plain",
        "url": "http://localhost/plain",
        "json_url": "http://localhost/plain.json",
        "resources_url": "http://localhost/plain/-/resources.json",
        "private": False,
        "is_mutable": True,
        "is_memory": False,
    }
    resources = (await get_json(site, "/-/resources.json?_size=max"))["resources"]
    tables = {e["name"]: e for e in resources if e["type"] == "table"}
    assert tables["species"]["hidden"] is False and tables["species_fts"]["hidden"] is False
    assert all(tables[name]["hidden"] is True for name in FTS_SHADOWS)
    assert "count" not in tables["species"]  # counting rows is too slow for a listing
    odd = tables["odd, name/with.dots~"]
    assert odd["url"] == "http://localhost/plain/odd~2C+name~2Fwith~2Edots~7E"
    assert data["queries"]["entries"] == [e for e in resources if e["type"] == "query"]
    query = data["queries"]["entries"][0]
    assert query["title"] == "Species count" and query["is_write"] is False
    assert query["json_url"] == "http://localhost/plain/species_count.json"
    # Every URL handed out works, for the actor it was handed to.
    for entry in [odd, query, tables[site.keepers], data["views"]["entries"][0], plain]:
        response = await site.client.get(path_of(entry["json_url"]))
        assert response.status_code == 200, entry


@pytest.mark.asyncio
async def test_granted_actor_sees_more_and_it_is_marked_private(site):
    data = await get_json(site, "/-/instance.json", ALICE)
    anyone, extra = visible_to_anyone(site), alice_extra()
    assert "secret" in [e["name"] for e in data["databases"]["entries"]]
    secret = next(e for e in data["databases"]["entries"] if e["name"] == "secret")
    assert secret["private"] is True
    resources, _ = await walk(site, "/-/resources.json", ALICE)
    for kind, plural in (("table", "tables"), ("view", "views"), ("query", "queries")):
        entries = [r for r in resources if r["type"] == kind]
        assert keys(entries) == anyone[kind] | extra[kind], kind
        assert data[plural]["count"] == len(entries)
        private = {(e["database"], e["name"]) for e in entries if e["private"]}
        assert private == extra[kind], kind
    assert "_dataservice" not in json.dumps(data)


@pytest.mark.asyncio
async def test_catalog_database_is_listed_for_root_alone(site):
    for actor in (None, ALICE, BOB):
        everything, _ = await walk(site, "/-/resources.json?_size=max", actor)
        assert all(r["database"] != "_dataservice" for r in everything)
        assert_error(await site.client.get("/_dataservice/-/resources.json", actor=actor), 403)
    data = await get_json(site, "/-/instance.json", ROOT)
    catalog = next(e for e in data["databases"]["entries"] if e["name"] == "_dataservice")
    assert catalog["private"] is True
    assert ("_dataservice", "apps") in keys(data["tables"]["entries"])
    own, _ = await walk(site, "/_dataservice/-/resources.json", ROOT)
    assert own and {r["database"] for r in own} == {"_dataservice"}
    assert all(r["private"] for r in own)


@pytest.mark.asyncio
async def test_denied_database_and_its_tables_appear_nowhere(site):
    # Core itself still allows view-table on secret's tables: only view-database is denied.
    assert await site.allowed(
        action="view-table", resource=TableResource("secret", "payroll"), actor=BOB
    )
    for actor in (None, BOB):
        for path in (
            "/-/instance.json",
            "/-/resources.json?_size=max",
            "/-/resources.json?type=table",
            "/-/resources.json?type=query",
            "/plain/-/resources.json",
        ):
            text = json.dumps(await get_json(site, path, actor))
            assert "secret" not in text and "payroll" not in text, path
        body = assert_error(await site.client.get("/secret/-/resources.json", actor=actor), 403)
        assert "permission" in body["error"]
    secret, _ = await walk(site, "/secret/-/resources.json", ALICE)
    assert {(r["type"], r["name"]) for r in secret} == {
        ("query", "secret_query"),
        ("table", "payroll"),
        ("view", "payroll_totals"),
    }


@pytest.mark.asyncio
@pytest.mark.parametrize("actor, size", [(None, 1), (ALICE, 2), (BOB, 7), (ALICE, 1000)])
async def test_pagination_returns_every_resource_exactly_once(site, actor, size):
    everything, pages = await walk(site, f"/-/resources.json?_size={size}", actor)
    listed = [(r["database"], r["type"], r["name"]) for r in everything]
    assert len(listed) == len(set(listed)), "a resource was listed twice"
    assert listed == sorted(listed)
    expected = visible_to_anyone(site)
    if actor == ALICE:
        expected = {kind: expected[kind] | alice_extra()[kind] for kind in expected}
    assert {(d, t, n) for d, t, n in listed} == {
        (d, kind, n) for kind, pairs in expected.items() for d, n in pairs
    }
    assert all(len(p["resources"]) <= size for p in pages)
    assert all(p["count"] == len(listed) for p in pages)
    assert len(pages) == -(-len(listed) // size)  # no empty trailing page
    assert pages[-1]["next"] is None
    instance = await get_json(site, "/-/instance.json", actor)
    assert len(listed) == sum(instance[k]["count"] for k in ("tables", "views", "queries"))


@pytest.mark.asyncio
async def test_next_url_keeps_filters_and_tokens_survive_odd_names(site):
    first = await get_json(site, "/plain/-/resources.json?type=table&_size=1")
    assert first["next_url"].startswith("http://localhost/plain/-/resources.json?")
    assert "type=table" in first["next_url"] and "_size=1" in first["next_url"]
    everything, pages = await walk(site, "/plain/-/resources.json?type=table&_size=1")
    names = [r["name"] for r in everything]
    assert "odd, name/with.dots~" in names and all(r["type"] == "table" for r in everything)
    # The page after the odd name starts exactly after it.
    odd_page = next(i for i, p in enumerate(pages) if p["resources"][0]["name"].startswith("odd"))
    assert pages[odd_page]["next"] == "plain,table,odd~2C+name~2Fwith~2Edots~7E"
    assert pages[odd_page + 1]["resources"][0]["name"] == names[odd_page + 1]


@pytest.mark.asyncio
async def test_database_resources_are_scoped_to_that_database(site):
    plain, _ = await walk(site, "/plain/-/resources.json?_size=2")
    assert {r["database"] for r in plain} == {"plain"}
    assert {(r["type"], r["name"]) for r in plain} == {
        ("query", "species_count"),
        ("view", "species_names"),
    } | {("table", n) for d, n in visible_to_anyone(site)["table"] if d == "plain"}
    # A database whose name needs tilde-encoding, reached by the URL the listing gives out.
    data = await get_json(site, "/-/instance.json")
    many = next(e for e in data["databases"]["entries"] if e["name"] == "many.tables")
    assert many["resources_url"] == "http://localhost/many~2Etables/-/resources.json"
    tables, pages = await walk(site, path_of(many["resources_url"]) + "?_size=10")
    assert [r["name"] for r in tables] == [f"t{i:03d}" for i in range(MANY)]
    assert [len(p["resources"]) for p in pages] == [10] * 10 + [5]
    # Managed datasources are databases like any other.
    notes = await get_json(site, f"/{site.jsonb_db}/-/resources.json")
    assert [(r["type"], r["name"]) for r in notes["resources"]] == [
        ("table", site.memos),
        ("view", site.memos + "_view"),
    ]


@pytest.mark.asyncio
async def test_type_filter(site):
    views = await get_json(site, "/-/resources.json?type=view")
    assert keys(views["resources"]) == visible_to_anyone(site)["view"]
    assert views["count"] == len(views["resources"])
    mixed = await get_json(site, "/-/resources.json?type=query,view&_size=max")
    both = await get_json(site, "/-/resources.json?type=query&type=view&_size=max")
    assert mixed["resources"] == both["resources"]
    assert {r["type"] for r in mixed["resources"]} == {"query", "view"}
    assert mixed["count"] == len(visible_to_anyone(site)["view"]) + 1


@pytest.mark.asyncio
async def test_new_tables_are_listed_at_once(site, users_schema):
    visitors = await create_datatable(
        site, site.root_headers, "zoo", "animals", "visitors", users_schema
    )
    listing = await get_json(site, f"/{site.flat_db}/-/resources.json")
    names = {r["name"] for r in listing["resources"]}
    assert names == {site.keepers, visitors["physical_table_name"]}


@pytest.mark.asyncio
async def test_metadata_only_on_request(site):
    data = await get_json(site, "/-/instance.json?_extra=metadata")
    assert data["metadata"]["title"] == METADATA["title"]
    assert data["metadata"]["description"] == METADATA["description"]
    assert "metadata" not in await get_json(site, "/-/instance.json")
    body = assert_error(await site.client.get("/-/instance.json?_extra=count"), 400)
    assert "count" in body["error"]
    assert_error(await site.client.get("/-/resources.json?_extra=metadata"), 400)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "path, status, needle",
    [
        ("/nope/-/resources.json", 404, '"nope"'),
        ("/-/resources.json?_size=0", 400, "_size"),
        ("/-/resources.json?_size=1001", 400, "_size"),
        ("/-/resources.json?_size=ten", 400, "_size"),
        ("/-/resources.json?_next=garbage", 400, "_next"),
        ("/-/resources.json?_next=plain,table", 400, "_next"),
        ("/-/resources.json?_next=plain,index,species", 400, "_next"),
        ("/plain/-/resources.json?_next=secret,table,payroll", 400, "_next"),
        ("/-/resources.json?type=index", 400, "type"),
        ("/plain/-/resources.json?type=tables", 400, "type"),
    ],
)
async def test_refusals(site, path, status, needle):
    assert needle in assert_error(await site.client.get(path), status)["error"]


@pytest.mark.asyncio
async def test_read_only(site):
    response = await site.client.post("/-/resources.json", json={})
    assert assert_error(response, 405) and response.headers["allow"] == "GET"


@pytest.mark.asyncio
async def test_view_instance_is_required_and_cors_is_honoured(tmp_path):
    plain = sqlite_file(tmp_path / "plain.db", PLAIN_SQL)
    config = {"permissions": {"view-instance": {"id": "alice"}}}
    ds = make_instance(tmp_path, [plain], config=config, cors=True)
    await ds.invoke_startup()
    try:
        for path in ("/-/instance.json", "/-/resources.json"):
            assert_error(await ds.client.get(path), 403)
            response = await ds.client.get(path, actor=ALICE)
            assert response.status_code == 200
            assert response.headers["access-control-allow-origin"] == "*"
    finally:
        ds.close()


@pytest.mark.asyncio
async def test_a_tenant_lists_its_own_databases_only(tmp_path):
    plain = sqlite_file(tmp_path / "plain.db", PLAIN_SQL)
    tenancy = {"mode": "subdomain", "base_domain": "example.com"}
    ds = make_instance(tmp_path, [plain], plugin={"tenancy": tenancy})
    await ds.invoke_startup()
    root = {"Authorization": f"Bearer {await ds.create_token('root')}"}
    try:
        databases = {}
        for tenant in ("acme", "globex"):
            headers = {**root, "host": f"{tenant}.example.com"}
            await create_app(ds, headers, name="CRM")
            source = await create_datasource(ds, headers, "crm", slug="main")
            await create_datatable(ds, headers, "crm", "main", "people", USERS_SCHEMA)
            databases[tenant] = source["database"]
        for tenant, other in (("acme", "globex"), ("globex", "acme")):
            headers = {**root, "host": f"{tenant}.example.com"}
            response = await ds.client.get("/-/instance.json", headers=headers)
            names = [e["name"] for e in response.json()["databases"]["entries"]]
            assert names == [databases[tenant]]
            response = await ds.client.get("/-/resources.json", headers=headers)
            assert {r["database"] for r in response.json()["resources"]} == {databases[tenant]}
            assert other not in response.text and "_dataservice" not in response.text
            path = f"/{databases[other]}/-/resources.json"
            assert_error(await ds.client.get(path, headers=headers), 404)
    finally:
        ds.close()
