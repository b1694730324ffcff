"""The contract suite: the same operations on {flat_table, jsonb} x {sqlite, postgres} give
the same JSON (ISSUE 5). SQLite-backed tables are served by Datasette core, Postgres-backed
ones by the plugin; a client must not be able to tell them apart.

Each combination runs on its own Datasette with the same slugs, so URLs match too. Every
test is parametrized over the four combinations and asserts engine-independent expectations;
``test_every_response_is_identical`` then replays one long scenario on both engines and
compares every response, so shapes nobody wrote down cannot drift apart either.
"""

from __future__ import annotations

import copy
import urllib.parse
from dataclasses import dataclass

import pytest
import pytest_asyncio
from conftest import close_data_service, make_datasette, path_of, postgres_config_for
from datasette.tokens import TokenRestrictions

PROVIDERS = ["flat_table", "jsonb"]
ENGINES = ["sqlite", "postgres"]
COMBINATIONS = [(p, e) for p in PROVIDERS for e in ENGINES]

SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "name", "type": "string", "constraints": {"required": True}},
        {"name": "price", "type": "number", "constraints": {"minimum": 0}},
        {"name": "active", "type": "boolean"},
        {"name": "tags", "type": "array"},
        {"name": "born", "type": "date"},
        {"name": "seen", "type": "datetime"},
    ],
    "primaryKey": ["id"],
}
ROWS = [
    {
        "id": 1,
        "name": "Ada",
        "price": 9.5,
        "active": True,
        "tags": ["a", "b"],
        "born": "1815-12-10",
        "seen": "2024-01-02T03:04:05Z",
    },
    {"id": 2, "name": "brian", "price": 3, "active": False, "tags": [], "born": None},
    {"id": 3, "name": "Cleo", "price": None, "born": "2001-01-01", "seen": "2024-05-06T07:08:09Z"},
    {"id": 4, "name": "Dan", "price": 3, "active": True, "tags": ["b"], "born": "1999-09-09"},
    {"id": 5, "name": "Éva", "price": 120.25, "active": False, "tags": ["a"]},
]
# Volatile or engine-specific keys: timings, timestamps, and the DDL each engine runs.
VOLATILE = {
    "query_ms",
    "created_at",
    "updated_at",
    "last_operation_at",
    "duration_ms",
    "sql",
    "engine",
}


@dataclass
class Service:
    """One Datasette, one app "shop", one datasource "main", one datatable "items"."""

    ds: object
    headers: dict
    provider: str
    engine: str
    datatable: dict

    @property
    def json_path(self) -> str:
        return path_of(self.datatable["json_url"])

    @property
    def table_path(self) -> str:  # the physical table: jsonb documents are written here
        return path_of(self.datatable["insert_url"]).rsplit("/-/", 1)[0]

    @property
    def database_path(self) -> str:
        return "/" + self.datatable["database"]

    def body_rows(self, rows: list[dict]) -> list[dict]:
        return [{"data": r} for r in rows] if self.provider == "jsonb" else rows

    async def get(self, path: str):
        return await self.ds.client.get(path, headers=self.headers)

    async def post(self, path: str, body=None, **kwargs):
        return await self.ds.client.post(path, json=body, headers=self.headers, **kwargs)

    async def insert(self, rows: list[dict], **options):
        body = {"rows": self.body_rows(rows), **options}
        return await self.post(path_of(self.datatable["insert_url"]), body)

    async def rows(self, query: str = "") -> list[dict]:
        response = await self.get(self.json_path + "?_shape=objects" + query)
        assert response.status_code == 200, response.text
        return response.json()["rows"]


async def start_service(
    tmp_path,
    provider: str,
    engine: str,
    postgres_config: dict | None,
    settings=None,
    schema=SCHEMA,
) -> Service:
    ds = make_datasette(
        tmp_path / f"{provider}-{engine}", postgres=postgres_config, settings=settings
    )
    await ds.invoke_startup()
    headers = {"Authorization": f"Bearer {await ds.create_token('root')}"}
    client = ds.client
    assert (await client.post("/-/apps", json={"name": "shop"}, headers=headers)).status_code == 201
    config = {"engine": engine, **({"connection": "main"} if engine == "postgres" else {})}
    response = await client.post(
        "/-/apps/shop/datasources",
        json={"name": "main", "provider_type": provider, "provider_config": config},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    response = await client.post(
        "/-/apps/shop/datasources/main/datatables",
        json={"name": "items", "json_schema": copy.deepcopy(schema)},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return Service(ds, headers, provider, engine, response.json())


@pytest_asyncio.fixture(params=COMBINATIONS, ids=["-".join(c) for c in COMBINATIONS])
async def service(request, tmp_path):
    provider, engine = request.param
    started = await start_service(tmp_path, provider, engine, postgres_config_for(request))
    yield started
    await close_data_service(started.ds)


@pytest_asyncio.fixture
async def stocked(service):
    response = await service.insert(ROWS)
    assert response.status_code == 201, response.text
    return service


def without_volatile(value):
    if isinstance(value, dict):
        return {k: without_volatile(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [without_volatile(v) for v in value]
    return value


# Reads ------------------------------------------------------------------------------------


def stored(service: Service, row: dict) -> dict:
    """A row as core shows it for this datatable: booleans 1/0, JSON as text."""
    import json

    shown = {}
    for field in SCHEMA["fields"]:
        value = row.get(field["name"])
        if isinstance(value, bool):
            value = int(value)
        elif isinstance(value, list):  # core shows JSON text; json_extract writes it compact
            separators = (",", ":") if service.provider == "jsonb" else None
            value = json.dumps(value, separators=separators)
        elif field["type"] == "number" and value is not None:
            value = float(value)
        shown[field["name"]] = value
    return {"_id": row["id"], **shown} if service.provider == "jsonb" else shown


@pytest.mark.asyncio
async def test_rows_read_back_as_core_shows_them(stocked):
    assert await stocked.rows() == [stored(stocked, r) for r in ROWS]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "query, ids",
    [
        ("name__exact=Ada", [1]),
        ("name=Ada", [1]),
        ("price__gt=3", [1, 5]),
        ("price__gte=3", [1, 2, 4, 5]),
        ("price__lt=9.5", [2, 4]),
        ("price__lte=9.5", [1, 2, 4]),
        ("name__contains=a", [1, 2, 4, 5]),
        ("name__startswith=C", [3]),
        ("id__in=1,3,9", [1, 3]),
        ("price__isnull=1", [3]),
        ("seen__notnull=1", [1, 3]),
        ("born__gt=2000-01-01", [3]),
        ("active=1", [1, 4]),
        ("tags__contains=a", [1, 5]),
        ("price__gt=3&name__startswith=A", [1]),
    ],
)
async def test_filters(stocked, query, ids):
    assert [row["id"] for row in await stocked.rows("&" + query)] == ids


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "query, ids",
    [
        ("_sort=price", [3, 2, 4, 1, 5]),
        ("_sort_desc=price", [5, 1, 2, 4, 3]),
        ("_sort=name", [1, 3, 4, 2, 5]),  # binary collation, as SQLite: "brian" after "Dan"
        ("_sort_desc=born", [3, 4, 1, 2, 5]),
    ],
)
async def test_sorting(stocked, query, ids):
    assert [row["id"] for row in await stocked.rows("&" + query)] == ids


@pytest.mark.asyncio
@pytest.mark.parametrize("sort", ["", "&_sort=price", "&_sort_desc=price", "&_sort=born"])
async def test_keyset_pagination_sees_every_row_once_in_order(stocked, sort):
    everything = [row["id"] for row in await stocked.rows(sort)]
    seen, path = [], stocked.json_path + "?_shape=objects&_size=2" + sort
    while path:
        body = (await stocked.get(path)).json()
        seen += [row["id"] for row in body["rows"]]
        path = path_of(body["next_url"]) if body["next_url"] else None
        assert len(seen) <= len(ROWS)
    assert seen == everything


@pytest.mark.asyncio
async def test_shapes(stocked):
    first = stored(stocked, ROWS[0])
    arrays = (await stocked.get(stocked.json_path + "?_shape=arrays&_size=1")).json()
    assert arrays["rows"] == [list(first.values())]
    array = (await stocked.get(stocked.json_path + "?_shape=array&_size=1")).json()
    assert array == [first]
    if stocked.provider == "flat_table":  # _shape=object needs a primary key
        objects = (await stocked.get(stocked.json_path + "?_shape=object&_size=2")).json()
        assert objects == {"1": first, "2": stored(stocked, ROWS[1])}


@pytest.mark.asyncio
async def test_extras(stocked):
    body = (await stocked.get(stocked.json_path + "?_extra=count,columns,primary_keys")).json()
    columns = [f["name"] for f in SCHEMA["fields"]]
    if stocked.provider == "jsonb":
        assert body["columns"] == ["_id", *columns]
        assert body["primary_keys"] == []  # a view
    else:
        assert body["columns"] == columns
        assert body["primary_keys"] == ["id"]
    assert body["count"] == len(ROWS)


@pytest.mark.asyncio
@pytest.mark.parametrize("provider, engine", COMBINATIONS)
async def test_size_is_capped_by_max_returned_rows(request, tmp_path, provider, engine):
    capped = {"max_returned_rows": 2}
    postgres_config = postgres_config_for(request)
    service = await start_service(tmp_path, provider, engine, postgres_config, capped)
    try:
        assert (await service.insert(ROWS)).status_code == 201
        body = (await service.get(service.json_path)).json()
        assert len(body["rows"]) == 2
        too_big = await service.get(service.json_path + "?_size=50")
        assert too_big.status_code == 400
        assert too_big.json()["error"] == "_size must be <= 2"
    finally:
        await close_data_service(service.ds)


@pytest.mark.asyncio
async def test_row_page(stocked):
    key = "1"
    response = await stocked.get(f"{stocked.table_path}/{key}.json?_shape=objects")
    assert response.status_code == 200, response.text
    (row,) = response.json()["rows"]
    if stocked.provider == "jsonb":
        assert row["id"] == 1 and isinstance(row["data"], str)
    else:
        assert row == stored(stocked, ROWS[0])
    missing = await stocked.get(f"{stocked.table_path}/999.json")
    assert missing.status_code == 404


@pytest.mark.asyncio
async def test_query_with_named_parameters(stocked):
    table = stocked.datatable["table"]
    sql = f'select id, name from "{table}" where price >= :low order by id'
    query = urllib.parse.urlencode({"sql": sql, "low": "9", "_shape": "objects"})
    response = await stocked.get(f"{stocked.database_path}/-/query.json?{query}")
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == [{"id": 1, "name": "Ada"}, {"id": 5, "name": "Éva"}]


@pytest.mark.asyncio
@pytest.mark.parametrize("sql", ["delete from {table}", "drop table {physical}"])
async def test_query_is_read_only(stocked, sql):
    sql = sql.format(table=stocked.datatable["table"], physical=stocked.datatable["table"])
    query = urllib.parse.urlencode({"sql": sql})
    response = await stocked.get(f"{stocked.database_path}/-/query.json?{query}")
    assert response.status_code in (400, 403)
    assert response.json()["ok"] is False
    assert len(await stocked.rows()) == len(ROWS)


# Writes -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_invalid_rows_are_refused_with_a_report(service):
    bad = [{"id": 1, "name": "ok"}, {"id": 2, "price": -1, "born": "yesterday"}]
    response = await service.insert(bad)
    assert response.status_code == 400
    body = response.json()
    assert body["ok"] is False
    errors = body["report"]["errors"]
    assert {(e["type"], e["rowNumber"], e.get("fieldName")) for e in errors} == {
        ("constraint-error", 2, "name"),
        ("constraint-error", 2, "price"),
        ("type-error", 2, "born"),
    }
    assert await service.rows() == []  # nothing half-written


@pytest.mark.asyncio
async def test_insert_returns_the_rows_as_core_does(service):
    response = await service.insert(ROWS[:2], **{"return": True})
    assert response.status_code == 201, response.text
    rows = response.json()["rows"]
    if service.provider == "jsonb":
        assert [r["id"] for r in rows] == [1, 2]
    else:
        assert rows == [stored(service, r) for r in ROWS[:2]]


@pytest.mark.asyncio
async def test_duplicate_key_is_refused(stocked):
    response = await stocked.insert([{"id": 1, "name": "again"}])
    assert response.status_code == 400
    assert response.json()["report"]["errors"][0]["type"] == "primary-key"


@pytest.mark.asyncio
async def test_ignore_and_replace(stocked):
    assert (await stocked.insert([{"id": 1, "name": "X"}], ignore=True)).status_code == 201
    assert (await stocked.rows("&id=1"))[0]["name"] == "Ada"
    if stocked.provider == "flat_table":
        assert (await stocked.insert([{"id": 1, "name": "X"}], replace=True)).status_code == 201
        assert (await stocked.rows("&id=1"))[0]["name"] == "X"


@pytest.mark.asyncio
async def test_large_batches_in_every_mode(service):
    """Postgres writes batches of 50 rows and more with COPY: same results as row by row."""
    first = [{"id": i, "name": f"n{i}", "price": i / 2} for i in range(1, 201)]
    assert (await service.insert(first)).status_code == 201
    second = [{"id": i, "name": "second"} for i in range(101, 301)]
    assert (await service.insert(second, ignore=True)).status_code == 201
    clash = [{"id": i, "name": "clash"} for i in range(300, 400)]
    assert (await service.insert(clash)).status_code == 400
    body = (await service.get(service.json_path + "?_extra=count&_shape=objects")).json()
    assert body["count"] == 300  # nothing of the refused batch was written
    rows = {r["id"]: r for r in await service.rows("&id__in=100,101,201")}
    assert [rows[i]["name"] for i in (100, 101, 201)] == ["n100", "n101", "second"]
    if service.provider == "flat_table":
        third = [{"id": i, "name": "third"} for i in range(1, 61)]
        assert (await service.insert(third, replace=True)).status_code == 201
        assert (await service.rows("&id=60"))[0]["name"] == "third"
        assert (await service.rows("&id=60"))[0]["price"] is None  # replaced whole


@pytest.mark.asyncio
async def test_upsert_changes_only_the_named_fields(stocked):
    key = {"_id": 2} if stocked.provider == "jsonb" else {"id": 2}
    row = {**key, "price": 4.5} if stocked.provider == "flat_table" else {"_id": 2, "price": 4.5}
    path = path_of(stocked.datatable["insert_url"]).replace("/-/insert", "/-/upsert")
    body = {"rows": [row]} if stocked.provider == "flat_table" else {"rows": [row]}
    response = await stocked.post(path, body)
    assert response.status_code == 200, response.text
    (updated,) = await stocked.rows("&id=2")
    assert updated["price"] == 4.5 and updated["name"] == "brian"


@pytest.mark.asyncio
async def test_update_and_delete_a_row(stocked):
    response = await stocked.post(
        f"{stocked.table_path}/2/-/update", {"update": {"name": "Bea"}, "return": True}
    )
    assert response.status_code == 200, response.text
    assert (await stocked.rows("&id=2"))[0]["name"] == "Bea"
    invalid = await stocked.post(f"{stocked.table_path}/2/-/update", {"update": {"price": -5}})
    assert invalid.status_code == 400
    assert (await stocked.post(f"{stocked.table_path}/2/-/delete")).status_code == 200
    assert [r["id"] for r in await stocked.rows()] == [1, 3, 4, 5]
    assert (await stocked.post(f"{stocked.table_path}/2/-/delete")).status_code == 404


@pytest.mark.asyncio
async def test_permissions_come_from_datasette_actions(stocked):
    anonymous = await stocked.ds.client.get(stocked.json_path)
    assert anonymous.status_code in (200, 403)  # core's default: anyone may view-table
    restrictions = TokenRestrictions().allow_resource(
        stocked.datatable["database"], stocked.datatable["table"], "view-table"
    )
    token = await stocked.ds.create_token("reader", restrictions=restrictions)
    reader = {"Authorization": f"Bearer {token}"}
    denied = await stocked.ds.client.post(
        path_of(stocked.datatable["insert_url"]),
        json={"rows": stocked.body_rows([{"id": 9, "name": "no"}])},
        headers=reader,
    )
    assert denied.status_code == 403


@pytest.mark.asyncio
async def test_csv_import(service):
    base = "/-/apps/shop/datasources/main/datatables/items"
    csv = 'id,name,price,active,tags,born,seen\n1,Ada,9.5,true,"[""a""]",1815-12-10,\n'
    csv += "2,Bo,,false,,,2024-01-02T03:04:05Z\n"
    response = await service.post(base + "/import?format=csv", content=csv.encode())
    assert response.status_code in (200, 201), response.text
    rows = await service.rows()
    assert [(r["id"], r["name"], r["price"]) for r in rows] == [(1, "Ada", 9.5), (2, "Bo", None)]


# Schema changes ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_dry_run_and_refusal(stocked):
    base = "/-/apps/shop/datasources/main/datatables/items"
    schema = copy.deepcopy(SCHEMA)
    schema["fields"][2]["constraints"]["minimum"] = 5  # rows 2 and 4 fail
    plan = await stocked.post(base + "/schema/plan", {"json_schema": schema})
    assert plan.status_code == 200, plan.text
    body = plan.json()
    refused = await stocked.ds.client.put(
        base, json={"json_schema": schema}, headers=stocked.headers
    )
    assert refused.status_code in (400, 409, 422)
    assert [r["price"] for r in await stocked.rows()] == [9.5, 3.0, None, 3.0, 120.25]
    assert body["ok"] is True


@pytest.mark.asyncio
async def test_migrations_keep_the_data(stocked):
    base = "/-/apps/shop/datasources/main/datatables/items"
    schema = copy.deepcopy(SCHEMA)
    schema["fields"].append({"name": "note", "type": "string"})
    schema["fields"][1]["name"] = "title"
    response = await stocked.ds.client.put(
        base, json={"json_schema": schema, "renames": {"name": "title"}}, headers=stocked.headers
    )
    assert response.status_code == 200, response.text
    rows = await stocked.rows()
    assert [(r["id"], r["title"], r["note"]) for r in rows][:2] == [
        (1, "Ada", None),
        (2, "brian", None),
    ]
    schema["fields"][5] = {"name": "born", "type": "string"}  # date -> string: a re-cast
    response = await stocked.ds.client.put(
        base, json={"json_schema": schema}, headers=stocked.headers
    )
    assert response.status_code == 200, response.text
    assert [r["born"] for r in await stocked.rows()] == [r.get("born") for r in ROWS]


# The whole scenario, engine against engine --------------------------------------------------


async def scenario(service: Service) -> list[tuple[str, int, object]]:
    """Every response of a typical session, in order, as (label, status, JSON)."""
    out = []

    async def record(label, response):
        try:
            body = response.json()
        except ValueError:
            body = response.text
        out.append((label, response.status_code, without_volatile(body)))

    base = "/-/apps/shop/datasources/main/datatables/items"
    await record("insert", await service.insert(ROWS, **{"return": True}))
    await record("invalid", await service.insert([{"id": 9, "price": "x"}]))
    for query in [
        "",
        "?_shape=objects",
        "?_shape=arrays",
        "?_shape=array",
        "?_extra=count,columns,primary_keys",
        "?_size=2",
        "?_size=2&_sort=price",
        "?_size=2&_sort_desc=born",
        "?price__gte=3&_sort=name",
        "?id__in=2,4&_shape=objects",
        "?_sort=nope",
        "?nope__exact=1",
    ]:
        await record("read " + query, await service.get(service.json_path + query))
        body = out[-1][2]
        if isinstance(body, dict) and body.get("next_url"):
            await record("next " + query, await service.get(path_of(body["next_url"])))
    for key in ["1", "999"]:
        await record("row " + key, await service.get(f"{service.table_path}/{key}.json"))
    sql = urllib.parse.urlencode(
        {"sql": f'select id, name, price from "{service.datatable["table"]}" where id < :n', "n": 3}
    )
    await record("query", await service.get(f"{service.database_path}/-/query.json?{sql}"))
    await record(
        "update",
        await service.post(f"{service.table_path}/3/-/update", {"update": {"name": "Cy"}}),
    )
    await record("delete", await service.post(f"{service.table_path}/5/-/delete"))
    schema = copy.deepcopy(SCHEMA)
    schema["fields"].append({"name": "note", "type": "string"})
    await record("plan", await service.post(base + "/schema/plan", {"json_schema": schema}))
    await record(
        "apply",
        await service.ds.client.put(base, json={"json_schema": schema}, headers=service.headers),
    )
    await record("after", await service.get(service.json_path + "?_shape=objects"))
    await record("stats", await service.get(base.rsplit("/datatables", 1)[0] + "/stats.json"))
    return out


@pytest.mark.asyncio
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_every_response_is_identical(tmp_path, postgres_config, provider):
    runs = {}
    for engine in ENGINES:
        service = await start_service(tmp_path, provider, engine, postgres_config)
        try:
            runs[engine] = await scenario(service)
        finally:
            await close_data_service(service.ds)
    for on_sqlite, on_postgres in zip(runs["sqlite"], runs["postgres"], strict=True):
        assert on_postgres == on_sqlite


@pytest.mark.asyncio
@pytest.mark.parametrize("engine", ENGINES)
async def test_a_table_without_primary_key_has_rowids(request, tmp_path, engine):
    """SQLite gives such a table a rowid, which core shows and addresses rows by; a
    Postgres-backed one has the same column, so rows are read, updated and deleted alike."""
    postgres_config = postgres_config_for(request)
    service = await start_service(tmp_path, "flat_table", engine, postgres_config)
    try:
        client, headers = service.ds.client, service.headers
        schema = {"fields": [{"name": "a", "type": "string"}, {"name": "b", "type": "integer"}]}
        response = await client.post(
            "/-/apps/shop/datasources/main/datatables",
            json={"name": "log", "json_schema": schema},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        table = "/shop_main/shop_log"
        rows = [{"a": "x", "b": 1}, {"a": "y", "b": 2}, {"a": "z", "b": 3}]
        assert (await service.post(table + "/-/insert", {"rows": rows})).status_code == 201
        body = (await service.get(table + ".json?_extra=primary_keys")).json()
        assert body["primary_keys"] == []  # what core says of a rowid table
        assert body["rows"][0] == {"rowid": 1, "a": "x", "b": 1}
        row = (await service.get(table + "/2.json")).json()
        assert row["rows"] == [{"rowid": 2, "a": "y", "b": 2}]
        assert (await service.post(table + "/2/-/update", {"update": {"b": 5}})).status_code == 200
        assert (await service.post(table + "/1/-/delete")).status_code == 200
        rest = (await service.get(table + ".json?_shape=array")).json()
        assert rest == [{"rowid": 2, "a": "y", "b": 5}, {"rowid": 3, "a": "z", "b": 3}]
        schema["fields"].append({"name": "c", "type": "string", "constraints": {"required": True}})
        schema["fields"][1]["type"] = "number"  # a rebuild: rows keep their order
        schema["fields"].pop()
        response = await client.put(
            "/-/apps/shop/datasources/main/datatables/log",
            json={"json_schema": schema},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        rebuilt = (await service.get(table + ".json?_shape=array")).json()
        assert [(r["a"], r["b"]) for r in rebuilt] == [("y", 5.0), ("z", 3.0)]
    finally:
        await close_data_service(service.ds)
