"""The Postgres data plane's reads (web/postgres/): Datasette's URLs and JSON for
Postgres-backed databases, compared response by response with core serving the same rows
from SQLite.

Two Datasettes hold a database named "db" with the same tables and rows: one a SQLite file
(served by core), one a PostgreSQL schema (served by the plugin). Types are those the
providers use: SQLite stores booleans 1/0, dates, datetimes and JSON as text; PostgreSQL
has BOOLEAN, NUMERIC, DATE, TIMESTAMPTZ and JSONB.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import urllib.parse

import psycopg
import pytest
import pytest_asyncio
from conftest import RUN_PREFIX, close_data_service, make_datasette, path_of
from datasette.database import Database
from datasette.tokens import TokenRestrictions
from test_contract import start_service

from datasette_dataservice.dataplane.postgres import filters, introspect, sqltext, tablequery
from datasette_dataservice.providers.postgres_isolation import ensure_database, ensure_reader_role
from datasette_dataservice.providers.postgres_storage import PostgresTarget
from datasette_dataservice.service.core import service_for
from datasette_dataservice.web.postgres import render

SCHEMA = RUN_PREFIX + "pgread"  # a schema, in a database of the same name
# id, name, score, flag, meta, tags, note, day, at
ROWS = [
    (1, "Ada", 9.5, True, {"a": 1}, ["a", "b"], "first", "1815-12-10", "2024-01-02T03:04:05Z"),
    (2, "brian", 3.0, False, None, [], "", None, None),
    (3, "Cleo", None, True, {"b": [1, 2]}, ["b"], None, "2001-01-01", "2024-05-06T07:08:09Z"),
    (4, "Dan", 3.0, True, None, ["a"], "x", "1999-09-09", None),
    (5, "Éva", 120.25, False, {}, None, None, None, "2024-01-02T23:59:59Z"),
    (6, "éva", None, None, None, None, "n6", "2001-01-01", None),
    (7, "a_b", 3.0, None, {"k": "é"}, ["c", 1], "", None, "2023-12-31T00:00:00Z"),
    (8, "50%", 0.0, True, None, [], "eight", "2024-02-29", None),
    (9, "Zed", -1.5, False, {"a": None}, ["a"], None, None, None),
    (10, "zed", 3.0, None, None, None, "ten", "1999-09-09", "2024-01-02T03:04:05Z"),
    (11, "ADA", None, False, {"x": [1, {"y": 2}]}, ["b", "a"], "", None, None),
    (12, "abc,def", 7.25, True, None, [], None, "2010-10-10", None),
]
COMP = [(1, "2", "one-two"), (1, "a/b", "slash"), (1, "x,y", "comma"), (2, "é", "accent")]
NOPK = [("x", 1), ("y", 2), ("z", 3)]
VOLATILE = {"query_ms", "size"}


def sqlite_value(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def make_sqlite(path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, flag INTEGER,
          meta TEXT, tags TEXT, note TEXT, day TEXT, at TEXT);
        CREATE TABLE comp (a INTEGER, b TEXT, v TEXT, PRIMARY KEY (a, b));
        CREATE TABLE nopk (a TEXT, b INTEGER);
        CREATE VIEW v AS SELECT id AS _id, name, score FROM t;
        """
    )
    conn.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [[sqlite_value(v) for v in row] for row in ROWS],
    )
    conn.executemany("INSERT INTO comp VALUES (?, ?, ?)", COMP)
    conn.executemany("INSERT INTO nopk VALUES (?, ?)", NOPK)
    conn.commit()
    conn.close()


@pytest.fixture(scope="module")
def pg_schema(postgres_dsn):
    asyncio.run(_database(postgres_dsn))
    with psycopg.connect(postgres_dsn, autocommit=True, dbname=SCHEMA) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{SCHEMA}"')
        conn.execute(f'SET search_path TO "{SCHEMA}"')
        conn.execute(
            "CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, score NUMERIC, flag BOOLEAN,"
            " meta JSONB, tags JSONB, note TEXT, day DATE, at TIMESTAMPTZ)"
        )
        conn.execute("CREATE TABLE comp (a BIGINT, b TEXT, v TEXT, PRIMARY KEY (a, b))")
        conn.execute("CREATE VIEW v AS SELECT id AS _id, name, score FROM t")
        conn.execute("CREATE TABLE nopk (a TEXT, b BIGINT)")
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO t VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    [psycopg.types.json.Jsonb(v) if isinstance(v, dict | list) else v for v in row]
                    for row in ROWS
                ],
            )
            cursor.executemany("INSERT INTO comp VALUES (%s, %s, %s)", COMP)
            cursor.executemany("INSERT INTO nopk VALUES (%s, %s)", NOPK)
    asyncio.run(_reader_role(postgres_dsn))  # what materialize does: user SQL runs as it
    return SCHEMA


async def _database(dsn: str) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await ensure_database(conn, SCHEMA, "main")


async def _reader_role(dsn: str) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True, dbname=SCHEMA) as conn:
        async with conn.transaction():
            assert await ensure_reader_role(conn, SCHEMA)


async def engines(tmp_path, postgres_dsn, schema, **kwargs):
    """(core on SQLite, the plugin on PostgreSQL), each with a database "db"."""
    lite = make_datasette(tmp_path / "lite", **kwargs)
    make_sqlite(tmp_path / "db.db")
    lite.add_database(Database(lite, path=str(tmp_path / "db.db"), is_mutable=True), name="db")
    await lite.invoke_startup()
    pg = make_datasette(tmp_path / "pg", postgres={"main": {"dsn": postgres_dsn}}, **kwargs)
    await pg.invoke_startup()
    service = service_for(pg)
    service.postgres_targets["db"] = PostgresTarget("db", schema, "main", service.postgres, SCHEMA)
    service.managed_databases.add("db")
    return lite, pg


@pytest_asyncio.fixture
async def pair(tmp_path, postgres_dsn, pg_schema):
    lite, pg = await engines(tmp_path, postgres_dsn, pg_schema)
    yield lite, pg
    await close_data_service(lite)
    await close_data_service(pg)


def body_of(response):
    if response.headers["content-type"].startswith("application/json"):
        body = response.json()
        if isinstance(body, dict):
            body = {k: v for k, v in body.items() if k not in VOLATILE}
        return body
    return response.text


async def both(pair, path: str, headers=None):
    lite, pg = pair
    on_sqlite = await lite.client.get(path, headers=headers)
    on_postgres = await pg.client.get(path, headers=headers)
    return (on_sqlite.status_code, body_of(on_sqlite)), (
        on_postgres.status_code,
        body_of(on_postgres),
    )


async def assert_same(pair, path: str, headers=None):
    on_sqlite, on_postgres = await both(pair, path, headers)
    assert on_postgres == on_sqlite, path
    if isinstance(on_sqlite[1], dict):  # the same keys in the same order
        assert list(on_postgres[1]) == list(on_sqlite[1]), path
    return on_postgres


# Side by side with core ------------------------------------------------------------------

TABLE_READS = [
    "",
    "?_shape=objects",
    "?_shape=arrays",
    "?_shape=array",
    "?_shape=object",
    "?_shape=array&_nl=on",
    "?_shape=bad",
    "?_extra=count,columns,primary_keys",
    "?_extra=count&_size=2",
    "?_extra=all_columns,database,table,is_view,private,metadata,database_color",
    "?_extra=human_description_en,column_types&name__contains=a&_sort_desc=score",
    "?_extra=count,count_truncated&flag=1",
    "?_extra=bogus",
    "?_extra=_html",
    "?_size=0",
    "?_size=max",
    "?_size=3",
    "?_size=x",
    "?_size=-1",
    "?_size=5000",
    "?_sort=nope",
    "?_sort=id&_sort_desc=name",
    "?_col=name&_col=score",
    "?_nocol=meta&_nocol=tags",
    "?_col=nope",
    "?_nocol=id",
    # ?_json= is parsed on managed tables (tests/test_json_columns.py), which core's table
    # page on this unmanaged SQLite database skips
    "?_next=abc",
    "?_next=5",
    "?_sort=score&_next=3~2E0,2",
    "?_sort_desc=score&_next=$null,6",
    "?_sort=score&_next=$null,6",
    "?_where=id > 9&_extra=count",
    "?_where=id > 2&_where=score >= 3&_size=2&_sort=score",
]
FILTERS = [
    "name=Ada",
    "name__exact=ada",
    "name__not=Ada",
    "score__gt=3",
    "score__gte=3",
    "score__lt=3",
    "score__lte=3",
    "score__gt=3.1",
    "score__gt=abc",
    "score__lt=abc",
    "score=abc",
    "score__not=abc",
    "id=abc",
    "id__gt=abc",
    "id__in=1,3,99",
    "id__in=[1,3]",
    "id__in=1,x",
    "id__notin=1,2",
    "name__in=Ada,Dan",
    'name__in=["abc,def"]',
    "name__contains=a",
    "name__contains=%25",
    "name__contains=_",
    "name__contains=É",
    "name__contains=ada",
    "name__notcontains=a",
    "name__startswith=a",
    "name__endswith=a",
    "name__like=a%25",
    "name__notlike=%25a%25",
    "name__glob=*a*",
    "name__glob=[A-Z]*",
    "name__gt=D",
    "name__lt=a",
    "name__gte=Zed",
    "score__isnull=1",
    "score__notnull=1",
    "note__isblank=1",
    "note__notblank=1",
    "flag=1",
    "flag=0",
    "flag__not=1",
    "flag__gt=0",
    "flag__isnull=1",
    "day__gt=2000-01-01",
    "day__lte=1999-09-09",
    "day=2001-01-01",
    "day__date=2001-01-01",
    "at__date=2024-01-02",
    "day__startswith=1999",
    "day__gt=2000",
    "day__in=2001-01-01,1999-09-09",
    "day__not=x",
    "at__contains=T03",
    "at__startswith=2024-01-02T03",
    "at__gt=2024-01-02",
    "at__gt=2024-01-02T03:04:05Z",
    "at__lt=2024-05",
    "at__gt=x",
    "at__endswith=Z",
    "flag__contains=1",
    "tags__arraycontains=a",
    "tags__arraynotcontains=a",
    "tags__contains=a",
    "score__contains=5",
    "meta__contains=é",
    "nope=1",
    "nope__gt=1",
    "nope__isnull=1",
    "nope__in=1",
    "NAME=Ada",
    "id__bogus=1",
    "score__gte=3&name__startswith=D",
    "id__gte=3&id__lte=5",
    "id=1&id=2",
    "_filter_column=name&_filter_op=contains&_filter_value=a",
]
OTHER_READS = [
    "/db.json",
    "/db/nope.json",
    "/db/t/1.json",
    "/db/t/99.json",
    "/db/t/abc.json",
    "/db/t/1,2.json",
    "/db/t/5.json?_shape=arrays",
    "/db/t/1.json?_extra=columns,primary_keys,database,table,private,database_color,metadata",
    "/db/t/1.json?_extra=bogus",
    "/db/comp.json",
    "/db/comp.json?_shape=object",
    "/db/comp.json?_size=1",
    "/db/comp.json?_size=1&_next=1,a~2Fb",
    "/db/comp/1,a~2Fb.json",
    "/db/comp/1,x~2Cy.json",
    "/db/comp/2,%C3%A9.json",
    "/db/comp/1.json",
    "/db/v.json",
    "/db/v.json?_size=3",
    "/db/v.json?_size=3&_next=3",
    "/db/v.json?_extra=count,columns,primary_keys,is_view",
    "/db/v.json?_shape=object",
    "/db/v.json?_sort=name&_size=4",
    "/db/v.json?_sort_desc=score",
    "/db/v.json?score__gt=3",
    "/db/v/1.json",
    "/db/-/query.json",
    "/db/-/query.json?sql=select+1+as+one",
    "/db/-/query.json?sql=delete+from+t",
    "/db/-/query.json?sql=drop+table+t",
    "/db/-/query.json?sql=pragma+table_info(t)",
    "/db/-/query.json?sql=set+transaction+read+write",
]
QUERIES = [
    ("select id, name from t where id > :min order by id", {"min": "8"}),
    ("select id, name, score from t where score >= :low order by id", {"low": "7"}),
    ("select id, name from t order by id", {"_shape": "array"}),
    ("select id, name from t order by id", {"_shape": "arrays"}),
    ("select id, name from t order by id", {"_shape": "object"}),
    ("select * from t order by id limit 4", {}),
    ("select count(*) as n from t", {}),
    ("select id from t where id < 3 order by id", {"_extra": "columns,query,database,private"}),
    ("select id from t where id < 3 order by id", {"_extra": "count"}),
    ("select a, b, v from comp order by a, b", {}),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("query", TABLE_READS)
async def test_table_reads_match_core(pair, query):
    await assert_same(pair, "/db/t.json" + query)


@pytest.mark.asyncio
@pytest.mark.parametrize("query", FILTERS)
async def test_filters_match_core(pair, query):
    status, body = await assert_same(pair, "/db/t.json?_sort=id&" + query)
    if status == 200 and query.startswith(("score__gt=3", "name__contains=a", "flag=1")):
        assert body["rows"], "a filter that matches nothing proves little"


@pytest.mark.asyncio
@pytest.mark.parametrize("path", OTHER_READS)
async def test_other_reads_match_core(pair, path):
    await assert_same(pair, path)


@pytest.mark.asyncio
@pytest.mark.parametrize("sql, args", QUERIES)
async def test_queries_match_core(pair, sql, args):
    await assert_same(pair, "/db/-/query.json?" + urllib.parse.urlencode({"sql": sql, **args}))


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "order",
    [
        "",
        "&_sort=score",
        "&_sort_desc=score",
        "&_sort=name",
        "&_sort_desc=name",
        "&_sort=flag",
        "&_sort_desc=flag",
        "&_sort=day",
        "&_sort_desc=at",
        "&_sort=note",
        "&_sort=score&name__notcontains=z",
        "&_sort_desc=score&_col=name",
    ],
)
@pytest.mark.parametrize("size", [2, 5])
async def test_keyset_pages_match_core_and_see_every_row_once(pair, order, size):
    lite, pg = pair
    everything = (await pg.client.get(f"/db/t.json?_size=max{order}")).json()["rows"]
    path, seen, pages = f"/db/t.json?_size={size}{order}", [], 0
    while path:
        on_postgres = await assert_same(pair, path)
        body = on_postgres[1]
        seen += [row["id"] for row in body["rows"]]
        path = path_of(body["next_url"]) if body["next_url"] else None
        pages += 1
        assert pages <= len(ROWS)
    assert seen == [row["id"] for row in everything]
    assert sorted(seen) == sorted(r["id"] for r in everything) and len(set(seen)) == len(seen)


@pytest.mark.asyncio
async def test_view_pages_by_offset_like_core(pair):
    path, seen = "/db/v.json?_size=5&_sort=score", []
    while path:
        body = (await assert_same(pair, path))[1]
        seen += [row["_id"] for row in body["rows"]]
        path = path_of(body["next_url"]) if body["next_url"] else None
    assert sorted(seen) == [r[0] for r in ROWS]


@pytest.mark.asyncio
async def test_size_ceiling_matches_core(tmp_path, postgres_dsn, pg_schema):
    lite, pg = await engines(tmp_path, postgres_dsn, pg_schema, settings={"max_returned_rows": 5})
    try:
        for path in [
            "/db/t.json",
            "/db/t.json?_size=5",
            "/db/t.json?_size=max",
            "/db/t.json?_size=6",
        ]:
            await assert_same((lite, pg), path)
        status, body = await assert_same((lite, pg), "/db/t.json?_size=6")
        assert status == 400 and body["error"] == "_size must be <= 5"
        status, body = await assert_same((lite, pg), "/db/t.json")
        assert len(body["rows"]) == 5  # capped at max_returned_rows, as core caps it
        query = urllib.parse.urlencode({"sql": "select id from t order by id"})
        status, body = await assert_same((lite, pg), f"/db/-/query.json?{query}")
        assert len(body["rows"]) == 5 and body["truncated"] is True
    finally:
        await close_data_service(lite)
        await close_data_service(pg)


# Permissions, as core applies them ----------------------------------------------------------


@pytest.mark.asyncio
async def test_a_token_restricted_to_one_table_sees_only_it(pair):
    lite, pg = pair
    tokens = []
    for datasette in pair:
        restrictions = TokenRestrictions().allow_resource("db", "t", "view-table")
        tokens.append(await datasette.create_token("reader", restrictions=restrictions))
    for path in ["/db/t.json", "/db/comp.json", "/db/comp/1,2.json", "/db/v.json", "/db.json"]:
        lite_response = await lite.client.get(
            path, headers={"Authorization": f"Bearer {tokens[0]}"}
        )
        pg_response = await pg.client.get(path, headers={"Authorization": f"Bearer {tokens[1]}"})
        assert (pg_response.status_code, body_of(pg_response)) == (
            lite_response.status_code,
            body_of(lite_response),
        ), path
    assert (
        await pg.client.get("/db/t.json", headers={"Authorization": f"Bearer {tokens[1]}"})
    ).status_code == 200
    denied = await pg.client.get("/db/comp.json", headers={"Authorization": f"Bearer {tokens[1]}"})
    assert denied.status_code == 403
    assert denied.json() == {
        "ok": False,
        "error": "You do not have permission to view this table",
        "errors": ["You do not have permission to view this table"],
        "status": 403,
    }
    query = await pg.client.get(
        "/db/-/query.json?sql=select+1+as+one", headers={"Authorization": f"Bearer {tokens[1]}"}
    )
    assert query.status_code == 403


@pytest.mark.asyncio
async def test_denied_actors_get_core_403s(tmp_path, postgres_dsn, pg_schema):
    permissions = {"view-table": {"id": "root"}, "execute-sql": {"id": "root"}}
    lite, pg = await engines(tmp_path, postgres_dsn, pg_schema, permissions=permissions)
    try:
        for path in ["/db/t.json", "/db/t/1.json", "/db.json", "/db/-/query.json?sql=select+1"]:
            status, _ = await assert_same((lite, pg), path)
            if path != "/db.json":
                assert status == 403, path
        root = {"Authorization": f"Bearer {await pg.create_token('root')}"}
        assert (await pg.client.get("/db/t.json", headers=root)).status_code == 200
        listing = (await pg.client.get("/db.json")).json()
        assert listing["tables"] == [] and listing["views"] == []
    finally:
        await close_data_service(lite)
        await close_data_service(pg)


# The query endpoint: read-only, one statement, time-limited ----------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "sql",
    [
        "with gone as (delete from t returning *) select * from gone",
        "select 1; delete from t",
        "select set_config('transaction_read_only', 'off', true)",
        "with x as (select set_config('transaction_read_only', 'off', false)) select * from x",
        "select nextval('nope')",
        "select * from t for update",
    ],
)
async def test_query_cannot_write(pair, sql):
    _, pg = pair
    response = await pg.client.get("/db/-/query.json?" + urllib.parse.urlencode({"sql": sql}))
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["ok"] is False and body["rows"] == [] and body["errors"] == [body["error"]]
    count = await pg.client.get("/db/-/query.json?sql=select+count(*)+as+n+from+t")
    assert count.json()["rows"] == [{"n": len(ROWS)}]


@pytest.mark.asyncio
async def test_where_sql_is_read_only_and_needs_execute_sql(pair):
    lite, pg = pair
    for where in [
        "1=1; delete from t",
        "id in (with gone as (delete from t returning id) select id from gone)",
    ]:
        response = await pg.client.get("/db/t.json?" + urllib.parse.urlencode({"_where": where}))
        assert response.status_code == 400, response.text
    assert (await pg.client.get("/db/t.json?_extra=count&_size=0")).json()["count"] == len(ROWS)
    restrictions = TokenRestrictions().allow_resource("db", "t", "view-table")
    for datasette in pair:
        token = await datasette.create_token("reader", restrictions=restrictions)
        response = await datasette.client.get(
            "/db/t.json?_where=id>1", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 403
        assert response.json()["error"] == "_where= is not allowed"
    facets = await pg.client.get("/db/t.json?_facet=flag")
    assert facets.status_code == 200 and "flag" in facets.json()["facet_results"]["results"]


@pytest.mark.asyncio
async def test_query_parameters_leave_casts_and_strings_alone(pair):
    _, pg = pair
    sql = "select :a::int + 1 as x, ':not_a_param' as s, '50%' as p, :b as b"
    response = await pg.client.get(
        "/db/-/query.json?" + urllib.parse.urlencode({"sql": sql, "a": "41", "b": "é"})
    )
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == [{"x": 42, "s": ":not_a_param", "p": "50%", "b": "é"}]
    html = await pg.client.get("/db/-/query?" + urllib.parse.urlencode({"sql": sql, "a": "41"}))
    assert html.status_code == 200 and 'name="a" value="41"' in html.text


@pytest.mark.asyncio
async def test_query_timeout_is_cores_timeout(tmp_path, postgres_dsn, pg_schema):
    lite, pg = await engines(tmp_path, postgres_dsn, pg_schema, settings={"sql_time_limit_ms": 100})
    try:
        slow = {
            "sqlite": "with recursive c(x) as (select 1 union all select x + 1 from c)"
            " select count(*) from c",
            "postgres": "select pg_sleep(2)",
        }
        responses = []
        for datasette, sql in zip((lite, pg), slow.values(), strict=True):
            path = "/db/-/query.json?" + urllib.parse.urlencode({"sql": sql})
            responses.append(await datasette.client.get(path))
        assert [r.status_code for r in responses] == [400, 400]
        assert responses[1].json() == responses[0].json()
        assert "sql_time_limit_ms" in responses[1].json()["error"]
        # The connection is usable afterwards: the timeout ended with its transaction.
        again = await pg.client.get("/db/-/query.json?sql=select+1+as+one")
        assert again.json()["rows"] == [{"one": 1}]
    finally:
        await close_data_service(lite)
        await close_data_service(pg)


# HTML pages ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_html_pages(pair):
    lite, pg = pair
    database = await pg.client.get("/db")
    assert database.status_code == 200
    assert '<form class="sql core" action="/db/-/query"' in database.text
    assert '<a href="/db/t">t</a>' in database.text and '<a href="/db/v">v</a>' in database.text
    table = await pg.client.get("/db/t?_size=3&_sort=name")
    assert table.status_code == 200
    assert 'class="rows-and-columns"' in table.text
    assert all(name in table.text for name in ("50%", "ADA", "Ada")) and "Cleo" not in table.text
    assert '<a href="/db/t/1">1</a>' in table.text
    assert 'rel="alternate"' in table.headers["link"]
    assert "Next page" in table.text and "_next=Ada%2C1&amp;" in table.text
    assert (
        '<p class="crumbs"><a href="/">home</a> / <a href="/db">db</a> / <a href="/db/t">t</a>'
        in table.text
    )
    link = '<a href="/db/comp/1,a~2Fb">1,a/b</a>'  # core's: the key as it is, its URL encoded
    for datasette in (lite, pg):
        assert link in (await datasette.client.get("/db/comp")).text
    row = await pg.client.get("/db/t/5")
    assert row.status_code == 200 and "Éva" in row.text and "120.25" in row.text
    query = await pg.client.get("/db/-/query?sql=select+name+from+t+where+id+%3D+8")
    assert query.status_code == 200 and "50%" in query.text and "sql-editor" in query.text
    bad = await pg.client.get("/db/-/query?sql=select+nope")
    assert bad.status_code == 200 and 'class="message-error"' in bad.text
    missing = await pg.client.get("/db/nope")
    assert missing.status_code == 404 and "Table not found" in missing.text
    redirect = await pg.client.get("/db/t?_filter_column=name&_filter_op=contains&_filter_value=a")
    assert redirect.status_code == 302 and redirect.headers["location"] == "/db/t?name__contains=a"


@pytest.mark.asyncio
async def test_table_without_primary_key_pages_by_offset(pair):
    _, pg = pair
    first = (await pg.client.get("/db/nopk.json?_size=2")).json()
    assert first["rows"] == [{"a": "x", "b": 1}, {"a": "y", "b": 2}] and first["next"] == "2"
    second = (await pg.client.get(path_of(first["next_url"]))).json()
    assert second["rows"] == [{"a": "z", "b": 3}] and second["next"] is None
    assert (await pg.client.get("/db/nopk/1.json")).status_code == 404
    shaped = await pg.client.get("/db/nopk.json?_shape=object")
    assert shaped.json()["error"] == "_shape=object not available for tables with no primary keys"


# Pure parts --------------------------------------------------------------------------------


def test_named_parameters():
    assert sqltext.to_psycopg("select :a, :a::text, 'x:y', \"c:d\" from t where b = :b") == (
        "select %(a)s, %(a)s::text, 'x:y', \"c:d\" from t where b = %(b)s",
        ["a", "b"],
    )
    assert sqltext.to_psycopg("select $$:x$$, $t$:x$t$ -- :x\n/* :x /* :x */ */") == (
        "select $$:x$$, $t$:x$t$ -- :x\n/* :x /* :x */ */",
        [],
    )
    assert sqltext.to_psycopg("select 5 % 2, '%'")[0] == "select 5 %% 2, '%%'"


def relation():
    return introspect.Relation(
        "t",
        False,
        (
            introspect.Column("id", introspect.INT8, -1, "bigint", True, 1),
            introspect.Column("name", introspect.TEXT, -1, "text", False, 0),
            introspect.Column("flag", introspect.BOOL, -1, "boolean", False, 0),
        ),
    )


@pytest.mark.parametrize(
    "pairs, clause",
    [
        ([("id", "3")], '"id" = %(p0)s'),
        ([("id", "x")], "FALSE"),
        ([("id__not", "x")], '"id" IS NOT NULL'),
        ([("id__lt", "x")], '"id" IS NOT NULL'),
        ([("name__gt", "b")], '"name" COLLATE "C" > %(p0)s'),
        ([("flag", "maybe")], "FALSE"),
        ([("NAME", "x")], '"name" = %(p0)s'),
        ([("nope", "x")], "'nope' = %(p0)s"),
        ([("id__in", "1,x,2")], '"id" IN (%(p0)s, %(p2)s)'),
        ([("id__notin", "x")], '"id" IS NOT NULL'),
        ([("name__isblank", "1")], '("name" IS NULL OR "name" = \'\')'),
    ],
)
def test_filter_clauses(pairs, clause):
    assert filters.build_where(pairs, relation()).clauses == [clause]


def test_like_filters_fold_ascii_only():
    where = filters.build_where([("name__contains", "ÉvA")], relation())
    assert where.params == {"p0": "%Éva%"} and where.shown == {"p0": "%ÉvA%"}
    assert "ESCAPE ''" in where.clauses[0]


def test_unknown_columns_fail_as_on_sqlite():
    with pytest.raises(Exception, match="no such column: nope"):
        filters.build_where([("nope__in", "1")], relation())
    # core double-quotes such a name, which SQLite reads as a string: no error (corpus)
    assert filters.build_where([("select", "1")], relation()).clauses == ["'select' = %(p0)s"]


def test_keyset_condition():
    class Args(dict):
        def getlist(self, key):
            return [self[key]] if key in self else []

    query = tablequery.build(relation(), "s", Args(_sort="name", _next="b~2Cc,7"), 100, 1000)
    assert (
        '("name" COLLATE "C" > %(p1)s OR ("name" COLLATE "C" = %(p2)s AND (("id" > %(p0)s))))'
        in query.sql
    )
    assert query.params == {"p0": "7", "p1": "b,c", "p2": "b,c"}
    assert 'ORDER BY "name" COLLATE "C" NULLS FIRST, "id"' in query.sql


@pytest.mark.parametrize(
    "oid, value, field, shown",
    [
        (introspect.BOOL, True, None, 1),
        (introspect.NUMERIC, __import__("decimal").Decimal("3"), None, 3.0),
        (introspect.NUMERIC, __import__("decimal").Decimal("3"), "integer", 3),
        (introspect.JSONB, {"a": [1, "é"]}, None, '{"a": [1, "é"]}'),
        (introspect.JSONB, "text", "any", "text"),
    ],
)
def test_values_render_as_sqlite_stores_them(oid, value, field, shown):
    convert = render.converter(oid, None, field)
    assert convert(value) == shown and type(convert(value)) is type(shown)


# Datatables made through the control plane: the providers' own tables and views -----------

DATATABLE_SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer"},
        {"name": "name", "type": "string"},
        {"name": "score", "type": "number"},
        {"name": "flag", "type": "boolean"},
        {"name": "meta", "type": "object"},
        {"name": "tags", "type": "array"},
        {"name": "day", "type": "date"},
        {"name": "at", "type": "datetime"},
        {"name": "whatever", "type": "any"},
    ],
    "primaryKey": ["id"],
}
DATATABLE_ROWS = [
    {
        "id": 1,
        "name": "alpha",
        "score": 1.5,
        "flag": True,
        "meta": {"a": "é", "bb": [1, 2.5]},
        "tags": ["x", 1],
        "day": "2024-01-02",
        "at": "2024-01-02T03:04:05Z",
        "whatever": "text",
    },
    {
        "id": 2,
        "name": "Beta",
        "score": 2,
        "flag": False,
        "tags": [],
        "at": "2024-01-02T03:04:05.123Z",
        "whatever": {"k": [1]},
    },
    {"id": 3, "name": None, "score": None, "flag": None, "whatever": 5},
    {"id": 4, "name": "delta", "score": 2, "flag": True, "day": "1999-12-31", "whatever": None},
]


async def datatable_service(tmp_path, postgres_config, provider: str, engine: str):
    """The contract suite's service with this module's datatable and rows."""
    service = await start_service(
        tmp_path, provider, engine, postgres_config, schema=DATATABLE_SCHEMA
    )
    response = await service.insert(DATATABLE_ROWS)
    assert response.status_code == 201, response.text
    return service.ds, service.headers, service.datatable


@pytest.mark.asyncio
@pytest.mark.parametrize("provider", ["flat_table", "jsonb"])
async def test_datatables_read_as_core_reads_them(tmp_path, postgres_config, provider):
    services = [
        await datatable_service(tmp_path, postgres_config, provider, engine)
        for engine in ("sqlite", "postgres")
    ]
    try:
        datatable = services[0][2]
        rows_at = path_of(datatable["json_url"])
        table = path_of(datatable["insert_url"]).rsplit("/-/", 1)[0]
        database = "/" + datatable["database"]
        query = urllib.parse.urlencode({"sql": f'select * from "{datatable["table"]}"'})
        paths = [
            rows_at,
            rows_at + "?_shape=arrays&_extra=count,columns,primary_keys",
            rows_at + "?_sort=score&_size=2",
            rows_at + "?_sort_desc=day&_size=3",
            rows_at + "?flag=1",
            rows_at + "?score__gte=2&_sort=name",
            rows_at + "?id__in=1,3",
            rows_at + "?name__contains=A",
            table + ".json",
            table + "/1.json",
            table + "/2.json?_shape=array",
            table + "/9.json",
            database + ".json",
            f"{database}/-/query.json?{query}",
        ]
        for path in paths:
            responses = []
            for datasette, headers, _ in services:
                response = await datasette.client.get(path, headers=headers)
                responses.append((response.status_code, body_of(response)))
                if isinstance(responses[-1][1], dict) and responses[-1][1].get("next_url"):
                    follow = await datasette.client.get(
                        path_of(responses[-1][1]["next_url"]), headers=headers
                    )
                    responses.append((follow.status_code, body_of(follow)))
            half = len(responses) // 2
            assert responses[half:] == responses[:half], path
            assert responses[0][0] == (404 if path.endswith("/9.json") else 200), path
        # A schema change shows at once (what the data plane caches is keyed to the catalog)
        schema = {**DATATABLE_SCHEMA, "fields": [*DATATABLE_SCHEMA["fields"], {"name": "note"}]}
        after = []
        for datasette, headers, _ in services:
            response = await datasette.client.put(
                "/-/apps/shop/datasources/main/datatables/items",
                json={"json_schema": schema},
                headers=headers,
            )
            assert response.status_code == 200, response.text
            response = await datasette.client.get(rows_at + "?_extra=columns", headers=headers)
            after.append(body_of(response))
        assert after[1] == after[0] and after[1]["columns"][-1] == "note"
    finally:
        for datasette, _, _ in services:
            await close_data_service(datasette)


@pytest.mark.asyncio
async def test_urls_honour_base_url_as_core(tmp_path, postgres_dsn, pg_schema):
    settings = {"base_url": "/prefix/"}
    lite, pg = await engines(tmp_path, postgres_dsn, pg_schema, settings=settings)
    try:
        for path in ["/db/t.json?_size=2&_sort=name", "/db/comp.json?_size=1", "/db.json"]:
            on_sqlite, on_postgres = await both((lite, pg), path)
            if "next_url" in on_sqlite[1]:  # core writes base_url twice there; we once
                url = on_sqlite[1]["next_url"].replace("/prefix/prefix/", "/prefix/")
                on_sqlite[1]["next_url"] = url
            assert on_postgres == on_sqlite and on_postgres[0] == 200, path
        body = (await pg.client.get("/db/t.json?_size=2")).json()
        assert body["next_url"] == "http://localhost/prefix/db/t.json?_size=2&_next=2"
        page = await pg.client.get("/db/t")
        assert '<a href="/prefix/db/t/1">1</a>' in page.text
    finally:
        await close_data_service(lite)
        await close_data_service(pg)
