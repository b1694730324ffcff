"""Hostile and malformed input to every endpoint of the Postgres data plane.

The project rule: a 500 is a bug; bad input gets a 4xx in Datasette's error shape that says
what to fix, and nothing is lost or half-written. Two Datasettes on real PostgreSQL, one
with a flat_table datasource (a table with a primary key and one without), one with a jsonb
datasource, each stocked with the contract suite's rows, take filters, sorts, page tokens,
shapes, extras, ``?_where=``, row keys, ``?sql=`` queries and write bodies that are wrong
in every way we could think of, as JSON and as HTML pages. After every refused write the
stored rows are compared with what they were.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass

import pytest
import pytest_asyncio
from conftest import RUN_PREFIX, _schema_numbers, close_data_service
from datasette import handle_exception as datasette_errors
from datasette.utils import MultiParams
from test_contract import ROWS, Service, start_service

from datasette_dataservice.dataplane.postgres import execute, introspect, tablequery
from datasette_dataservice.service.core import service_for
from datasette_dataservice.web.postgres import table

pytestmark = pytest.mark.asyncio(loop_scope="module")

NUL = "\x00"
DEEP = 300  # levels of nesting: beyond orjson's (255) dump limit, within its parse limit
LOG_SCHEMA = {"fields": [{"name": "a", "type": "string"}, {"name": "b", "type": "integer"}]}
LOG_ROWS = [{"a": "x", "b": 1}, {"a": "y", "b": 2}, {"a": "z", "b": 3}]
PAIRS_SCHEMA = {  # a compound primary key, one part text
    "fields": [
        {"name": "a", "type": "integer"},
        {"name": "b", "type": "string"},
        {"name": "d", "type": "date"},
    ],
    "primaryKey": ["a", "b"],
}
PAIRS_ROWS = [
    {"a": 1, "b": "x", "d": "2024-01-01"},
    {"a": 1, "b": "y,z", "d": None},
    {"a": 2, "b": "é/~", "d": "1999-09-09"},
]
FLAT_TABLES = {"log": (LOG_SCHEMA, LOG_ROWS), "pairs": (PAIRS_SCHEMA, PAIRS_ROWS)}


@dataclass
class Target:
    """One table (or view) of a service, addressed as core addresses it."""

    name: str
    service: Service
    path: str  # /db/table, without format
    key: str = "2"  # the URL key of a stored row
    missing: str = "999"  # one of no stored row


@pytest.fixture(scope="module", autouse=True)
def quiet_errors():
    """Datasette prints every refused request's traceback with its locals (rich): hundreds of
    them make this module crawl, and say nothing a failed assertion does not."""
    saved, datasette_errors.rich = datasette_errors.rich, None
    yield
    datasette_errors.rich = saved


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def services(tmp_path_factory, postgres_dsn):
    started = {}
    for provider in ("flat_table", "jsonb"):
        config = {"main": {"dsn": postgres_dsn, "schema_prefix": f"{RUN_PREFIX}bad{provider}_"}}
        config["main"]["schema_prefix"] += f"{next(_schema_numbers)}_"
        tmp = tmp_path_factory.mktemp(provider)
        service = await start_service(tmp, provider, "postgres", config)
        started[provider] = service
        assert (await service.insert(ROWS)).status_code == 201
    flat = started["flat_table"]
    for name, (schema, rows) in FLAT_TABLES.items():
        response = await flat.post(
            "/-/apps/shop/datasources/main/datatables", {"name": name, "json_schema": schema}
        )
        assert response.status_code == 201, response.text
        response = await flat.post(f"/shop_main/shop_{name}/-/insert", {"rows": rows})
        assert response.status_code == 201, response.text
    yield started
    for service in started.values():
        await close_data_service(service.ds)


@pytest.fixture(scope="module")
def targets(services) -> dict[str, Target]:
    flat, jsonb = services["flat_table"], services["jsonb"]
    return {
        "flat": Target("flat", flat, flat.table_path),
        "nopk": Target("nopk", flat, "/shop_main/shop_log"),
        "pairs": Target("pairs", flat, "/shop_main/shop_pairs", "1,x", "1,q"),
        "jsonb": Target("jsonb", jsonb, jsonb.table_path),
        "jsonb_view": Target("jsonb_view", jsonb, flat_path(jsonb.json_path)),
    }


def flat_path(json_path: str) -> str:
    return json_path.removesuffix(".json")


def handled(response, what: str, json_body: bool = True) -> dict | None:
    """No 500; a 4xx from a JSON endpoint in Datasette's error shape, saying something."""
    assert response.status_code < 500, (what, response.status_code, response.text[:1000])
    if not (json_body and 400 <= response.status_code < 500):
        return None
    assert response.headers["content-type"].startswith("application/json"), what
    body = response.json()
    assert body["ok"] is False and body["status"] == response.status_code, (what, body)
    assert body["errors"] and all(isinstance(e, str) and e.strip() for e in body["errors"])
    assert body["error"] == "; ".join(body["errors"]), (what, body)
    return body


async def get(service: Service, path: str, html: bool = False):
    headers = dict(service.headers)
    if html:
        headers["Accept"] = "text/html"
    return await service.ds.client.get(path, headers=headers)


async def snapshot(service: Service) -> dict[str, list]:
    """Every stored row of a service's tables, read with the plugin's own JSON."""
    paths = [service.table_path]
    if service.provider == "flat_table":
        paths += [f"/shop_main/shop_{name}" for name in FLAT_TABLES]
    rows = {}
    for path in paths:
        response = await get(service, path + ".json?_shape=array&_size=max")
        assert response.status_code == 200, response.text
        rows[path] = response.json()
    return rows


def quoted(query: str) -> str:
    """``a=b&c=d`` with each value percent-encoded (``%xx`` escapes kept as written)."""
    pairs = []
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        pairs.append(f"{key}={urllib.parse.quote(value, safe='%~$,[]')}")
    return "&".join(pairs)


# Table pages --------------------------------------------------------------------------------

TABLE_QUERIES = [
    # filters with values the column's type cannot hold
    "id__gt=abc",
    "born__gt=notadate",
    "seen__lt=2024-13-45",
    "price__in=",
    "id__in=1,x",
    'tags__exact={"a":',
    "id__in=[1,",
    'id__in={"a":1}',
    'id__in=[[1],{"a":null},true,null]',
    "id__in=" + "[" * 5_000,  # deeper than json can read: a 400, not a RecursionError
    "id__in=99999999999999999999999",
    "id__notin=abc,99999999999999999999999",
    "id__gt=99999999999999999999999",
    "id=-99999999999999999999999",
    "id__gt=%D9%A1",  # an Arabic-Indic digit: Python's int() reads it, PostgreSQL's does not
    "id=%C2%A01",  # a no-break space around a number
    "price__gt=%D9%A1.5",
    "price__gt=NaN",
    "price__lt=-Infinity",
    "price__gt=inf",
    "price__gt=1e999999",
    "price__exact=0x10",
    "price__gte=1_000",
    "active=maybe",
    "active__gt=2",
    "born__date=2024-13-45",
    "born__date=99999-01-01",
    "born__gt=2024-W01-1",
    "born__date=nope&_nocount=1",
    "name__date=2024-01-01",
    "born__gt=20240101",
    "born=0000-00-00",
    "born__lt=infinity",
    "born__gt=%D9%A1%D9%A1%D9%A1%D9%A1-01-01",
    "seen__gt=2024-01-01T25:00:00",
    "seen__gt=2024-01-01T00:00:00%2B99:00",
    "seen__lt=2024-01-01T00:00:00.1234567%2B05:30:15",
    "seen__date=2024-02-30",
    "seen__gt=10000-01-01",
    "seen__in=2024-13-45,nope",
    # unknown columns, operators, patterns
    "nope__exact=1",
    "id__regex=.",
    "nope__in=1",
    "nope__arraycontains=x",
    "%5Bnope%5D__exact=1",
    "price__arraycontains=1",
    "tags__arraycontains=%00",
    "name__glob=[",
    "name__glob=[a-",
    "name__glob=[]]",
    "name__glob=%5C",
    "name__glob=[[:alpha:]",
    "name__like=%25",
    "id__isnull=maybe",
    "name__notnull=",
    # NUL bytes and invalid UTF-8
    "name__contains=%00",
    "name=%00",
    "name__in=a%00b",
    "born__gt=2024%00",
    "name=%FF%FE",
    "name__exact=" + "x" * 10000,
    "id__exact=" + "9" * 10000,
    # sorting
    "_sort=nope",
    "_sort=tags",
    "_sort_desc=tags",
    "_sort=data",
    "_sort=id&_sort_desc=id",
    "_sort=%00",
    # page sizes
    "_size=-1",
    "_size=0",
    "_size=abc",
    "_size=max",
    "_size=99999999",
    "_size=1.5",
    "_size=" + "9" * 400,
    # page tokens
    "_next=abc",
    "_next=~ZZ",
    "_next=~",
    "_next=1,2,3",
    "_next=$null",
    "_next=99999999999999999999999",
    "_next=-1",
    "_next=~00",
    "_next=%00",
    "_next=%D9%A1",
    "_next=" + "9" * 400,
    "_next=$null,1&_sort=price",
    "_next=abc,def&_sort=born",
    "_next=1&_sort=price",
    "_next=,&_sort_desc=seen",
    "_next=notadate,1&_sort=seen",
    "_next=2024-13-45,abc&_sort=born",
    "_next=$null,$null,$null&_sort_desc=price",
    "_next=~00,~00&_sort=name",
    "_next=2&_size=1&_sort=tags",
    "_next=1,x&_size=1",
    "_next=abc,x",
    "_next=1,~00",
    "_next=1,x,y,z",
    "_next=$null,1,x&_sort=d",
    "_next=notadate,1,x&_sort_desc=d",
    # shapes, extras, columns
    "_shape=bogus",
    "_shape=object",
    "_shape=arrayfirst",
    "_shape=arrays",
    "_shape=array&_nl=on",
    "_extra=bogus",
    "_extra=count&_extra=count_sql&_extra=query&_extra=human_description_en",
    "_extra=facet_results",
    "_extra=_bogus",
    "_extra=%00",
    "_facet=name",
    "_facet_array=tags",
    "_col=nope",
    "_col=%00",
    "_col=id&_nocol=id",
    "_nocol=nope",
    "_json=nope",
    "_json=tags&_json_infinity=1",
    "_timelimit=abc",
    "_timelimit=-1",
    "_ttl=abc",
    "_search=x",
    "_labels=on",
    "_nocount=1&_extra=count",
    "_filter_column=name&_filter_op=exact&_filter_value=x",
    "_filter_column=%00&_filter_op=%00&_filter_value=%00",
    "_sort_by_desc=1",
    # ?_where= SQL
    "_where=1=",
    "_where=1;delete from shop_items",
    "_where=true) or (true",
    "_where=1=1) union all select null",
    "_where=pg_sleep(5) is null&_timelimit=50",
    "_where=(select count(*) from pg_authid) > 0",
    "_where=%00",
    "_where=id > :x",
    "_where=%25(p0)s",
    "_where=set_config('transaction_read_only', 'off', true) is null",
    "_where=(select 1 from (values (1)) v(x) for update) = 1",
    "_where=id::text ~ '('",
    "_where=1/0 = 1",
    "_where=" + "x" * 10000,
]


@pytest.mark.parametrize("query", TABLE_QUERIES)
async def test_table_pages_refuse_bad_arguments_cleanly(targets, query):
    for target in targets.values():
        for html in (False, True):
            path = f"{target.path}{'' if html else '.json'}?{quoted(query)}"
            response = await get(target.service, path, html=html)
            handled(response, f"{target.name} {path}", json_body=not html)


@pytest.mark.parametrize("where", ["true) --", "true)%00", "true) or (true"])
async def test_where_cannot_lift_the_page_limit(targets, where):
    """``?_where=`` SQL that comments out (or, with a NUL, cuts off) the rest of the
    statement loses its LIMIT: the rows fetched are still capped at the page size."""
    for target in targets.values():
        path = f"{target.path}.json?_size=2&_shape=objects&_where={quoted('x=' + where)[2:]}"
        response = await get(target.service, path)
        handled(response, path)
        if response.status_code == 200:
            assert len(response.json()["rows"]) <= 2, (path, response.text)


async def test_where_fetches_no_more_than_a_page(targets):
    """The table page runs ``?_where=`` SQL as it runs a user's query, fetching at most the
    page (and one more row to know there is a next), whatever the SQL did to its LIMIT."""
    ds = targets["flat"].service.ds
    service = service_for(ds)
    pg = service.postgres_target("shop_main")
    relation = await introspect.cached_relation(
        service, lambda: execute.connection(pg), pg.schema, "shop_items"
    )
    args = MultiParams({"_where": ["true) --"], "_size": ["1"]})
    query = tablequery.build(relation, pg.schema, args, 100, 1000)
    assert query.sql.endswith("LIMIT 2")  # commented out by the _where SQL
    async with execute.connection(pg) as conn:
        result = await table.run(conn, pg, query, query.sql, query.params, 1000)
    assert len(result.rows) == 2, result.rows  # of the 5 stored


# Row pages, database pages, unknown tables ---------------------------------------------------

BAD_KEYS = [
    "abc",
    "1,2",
    str(2**70),
    str(-(2**63) - 1),
    "%00",
    "~00",
    "9" * 5000,
    "-1",
    "1.5",
    "~",
    "~ZZ",
    "%FF",
    "1~2C2",
    "$null",
    "0x10",
    "%D9%A1",
    "%201",
    "1%0A",
    "%2C",
]


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_row_pages_refuse_bad_keys_cleanly(targets, key):
    for target in targets.values():
        for html in (False, True):
            path = f"{target.path}/{key}{'' if html else '.json'}"
            for suffix in ("", "?_extra=bogus", "?_extra=foreign_key_tables"):
                response = await get(target.service, path + suffix, html=html)
                handled(response, f"{target.name} {path}{suffix}", json_body=not html)


OTHER_PATHS = [
    "/shop_main.json?_extra=bogus",
    "/shop_main.json?_size=abc",
    "/shop_main.csv",
    "/shop_main.json?sql=select%201",
    "/shop_main.json?sql=%00",
    "/shop_main/~00.json",
    "/shop_main/%00.json",
    "/shop_main/nope.json",
    "/shop_main/%FF.json",
    "/shop_main/" + "x" * 5000 + ".json",
    "/shop_main/shop_items.csv",
    "/shop_main/shop_items.json.json",
    "/shop_main/shop_items/1.csv",
    "/shop_main/shop_items/1/2.json",
    "/shop_main/nope/1.json",
    "/shop_main/~00/1.json",
    "/shop_main/shop_items/-/insert",
    "/shop_main/shop_items/1/-/update",
    "/shop_main/shop_items/1/-/delete",
    "/shop_main/~00/-/insert",
    "/shop_main/-/query.csv?sql=select%201",
]


@pytest.mark.parametrize("path", OTHER_PATHS)
async def test_other_paths_never_fail(services, path):
    for service in services.values():
        for html in (False, True):
            response = await get(service, path, html=html)
            handled(response, path, json_body=path.split("?")[0].endswith(".json") and not html)


# ?sql= queries -------------------------------------------------------------------------------

QUERIES: list[tuple[str, dict]] = [
    ("select", {}),
    ("select 1; select 2", {}),
    ("select 1;", {}),
    ("select * from nope", {}),
    ("select :a::int", {"a": "abc"}),
    ("select :a::bigint", {"a": str(2**70)}),
    ("select :a", {}),
    ("select :_x", {}),
    ("select :a", {"a": NUL}),
    ("select :a::jsonb", {"a": '{"a":'}),
    ("select ':a', $$:b$$, 1 -- :c", {}),
    ("select 1::int, :a::text /* :b */", {"a": "x"}),
    ("select %(a)s", {"a": "1"}),
    ("select $1", {}),
    ("select ?", {}),
    ("set role postgres", {}),
    ("reset role", {}),
    ("set transaction read write", {}),
    ("select 1; set transaction read write", {}),
    ("commit; delete from shop_items", {}),
    ("select 1; commit; delete from shop_items", {}),
    ("copy (select 1) to program 'id'", {}),
    ("select set_config('role', 'postgres', false)", {}),
    ("select set_config('transaction_read_only', 'off', true)", {}),
    ("select pg_read_file('/etc/passwd')", {}),
    ("select pg_terminate_backend(pg_backend_pid())", {}),
    ("select lo_import('/etc/passwd')", {}),
    ("select * from pg_authid", {}),
    ("with d as (delete from shop_items returning *) select * from d", {}),
    ("explain analyze delete from shop_items", {}),
    ("select pg_sleep(5)", {"_timelimit": "50"}),
    ("select " + "1+" * 5000 + "1", {}),
    ("select '" + "x" * 10000 + "'", {}),
    ("select " + "(" * 3000 + "1" + ")" * 3000, {}),
    ("select 1" + NUL, {}),
    ("select 'a" + NUL + "b'", {}),
    ("select E'\\x00'", {}),
    ("select chr(0)", {}),
    ("select '\\u0000'::jsonb", {}),
    ("select '\"\\u0000\"'::json", {}),
    ("select 1e999999", {}),
    ("select 'NaN'::float8, 'Infinity'::numeric, '-Infinity'::float8, 'NaN'::numeric", {}),
    ("select 'infinity'::date, '-infinity'::timestamptz, '10000-01-01'::date", {}),
    ("select '1 day'::interval, point(1, 2), '\\x00ff'::bytea, array[array[1]], row(1, 'a')", {}),
    ("select '{}'::int[], 'a'::regclass, 1 as a, 2 as a, null", {}),
    ("select repeat('[', 5000)::text", {}),
    ("select jsonb_build_object('a', 1) #> '{a,b}'", {}),
    ("select txid_current()", {}),
    ('select 1 as ""', {}),
    ("select :é, :a_1, :A", {"é": "1", "a_1": "2"}),
    ("select :a, :a::int + 1, ':a'", {"a": "5"}),
    ("select :sql, :_shape", {"_shape": "objects"}),
    ("select 1 as \"%(x)s\", '%s', 100 % 7", {}),
    ("select 1", {"_shape": "bogus"}),
    ("select 1", {"_shape": "object"}),
    ("select 1", {"_extra": "bogus"}),
    ("select 1", {"_json": "nope"}),
    ("select 1", {"_timelimit": "abc"}),
    ("", {}),
    ("   ", {}),
    ("%FF%FE", {}),
]


@pytest.mark.parametrize("sql, params", QUERIES, ids=[q[0][:60] for q in QUERIES])
async def test_queries_refuse_bad_sql_cleanly(services, sql, params):
    for service in services.values():
        before = await snapshot(service)
        for html in (False, True):
            args = {"sql": sql, **params}
            if sql.startswith("%"):
                query = f"sql={sql}"
            else:
                query = urllib.parse.urlencode(args)
            path = f"/shop_main/-/query{'' if html else '.json'}?{query}"
            response = await get(service, path, html=html)
            handled(response, f"{service.provider} {sql[:80]!r}", json_body=not html)
        assert await snapshot(service) == before


async def test_query_cannot_escape_the_read_only_transaction(services):
    for service in services.values():
        for sql in [
            "set role postgres",
            "commit; delete from shop_items",
            "select pg_read_file('/etc/passwd')",
            "select * from pg_authid",
            "with d as (delete from shop_items returning *) select * from d",
            "explain analyze delete from shop_items",
        ]:
            query = urllib.parse.urlencode({"sql": sql})
            response = await get(service, f"/shop_main/-/query.json?{query}")
            body = handled(response, sql)
            assert response.status_code in (400, 403), (sql, response.text)
            assert body is not None and body["ok"] is False


# Writes ------------------------------------------------------------------------------------


def nested(levels: int):
    """``[[...["x"]...]]``; past what json.dumps can write here, a marker post_json expands."""
    if levels > 500:
        return f"<deep {levels}>"
    value: object = "x"
    for _ in range(levels):
        value = [value]
    return value


def nested_object(levels: int):
    value: object = "x"
    for _ in range(levels):
        value = {"a": value}
    return value


def as_body(target: Target, rows: list[dict]) -> dict:
    if target.name == "jsonb":
        return {"rows": [{"data": r} for r in rows]}
    return {"rows": rows}


RAW_BODIES = [
    b"",
    b"not json",
    b"[1, 2]",
    b"null",
    b'"x"',
    b"{",
    b'{"rows": {}}',
    b'{"rows": "x"}',
    b'{"rows": [1]}',
    b'{"rows": [null]}',
    b'{"row": null}',
    b'{"row": []}',
    b'{"row": {}, "rows": []}',
    b'{"rows": [{"id": NaN, "name": "x"}]}',
    b'{"rows": [{"id": 9, "name": "x", "price": Infinity}]}',
    b'{"rows": [{"id": 9, "name": "x", "price": 1e400}]}',
    b'{"rows": [{"id": 9, "name": "x", "price": -1e400}]}',
    b'{"rows": [{"id": 9, "name": "x", "price": ' + b"9" * 500 + b"}]}",
    b'{"rows": [{"id": 1, "name": "'
    + b"9" * 20
    + b'", "tags": '
    + b"[" * 1020
    + b"]" * 1020
    + b"}]}",
    b'{"rows": [{"id": 9, "name": "\xff\xfe"}]}',
    b'{"rows": [{"id": 9, "name": "\\ud800"}]}',
    b'{"rows": [{"id": 9, "name": "x"}], "on_invalid": ["skip"]}',
    b'{"rows": [{"id": 9, "name": "x"}], "on_invalid": {"a": 1}}',
    b'{"rows": [{"id": 9, "name": "x"}], "on_invalid": "bogus"}',
    b'{"rows": [{"id": 9, "name": "x"}], "bogus": 1}',
    b'{"rows": [{"id": 9, "name": "x"}], "alter": true}',
    b'{"rows": [{"id": 9, "name": "x"}], "ignore": true, "replace": true}',
    b'{"rows": [' + b"[" * 5000 + b"]" * 5000 + b"]}",
]

# Rows the validator or PostgreSQL refuse, for each kind of table (None: the row as given).
FLAT_ROWS = [
    {"id": 2**63, "name": "x"},
    {"id": -(2**63) - 1, "name": "x"},
    {"id": 2**64 - 1, "name": "x"},
    {"id": 10**23, "name": "x"},
    {"id": 9, "name": "a" + NUL + "b"},
    {"id": 9, "name": "x", "tags": ["a" + NUL]},
    {"id": 9, "name": "x", "tags": [{"k" + NUL: 1}]},
    {"id": "abc", "name": "x"},
    {"id": True, "name": "x"},
    {"id": 1.5, "name": "x"},
    {"id": None, "name": "x"},
    {"id": 9, "name": ["x"]},
    {"id": 9, "name": {"a": 1}},
    {"id": 9, "name": "x", "price": "NaN"},
    {"id": 9, "name": "x", "price": "-inf"},
    {"id": 9, "name": "x", "price": 10**400},
    {"id": 9, "name": "x", "born": "0000-01-01"},
    {"id": 9, "name": "x", "born": "99999-01-01"},
    {"id": 9, "name": "x", "born": "2024-02-30"},
    {"id": 9, "name": "x", "born": "infinity"},
    {"id": 9, "name": "x", "born": "2024" + NUL},
    {"id": 9, "name": "x", "seen": "2024-01-01T00:00:00+25:00"},
    {"id": 9, "name": "x", "seen": "2024-01-01T00:00:00+16:00"},  # beyond PostgreSQL's offsets
    {"id": 9, "name": "x", "seen": "0001-01-01T00:00:00+14:00"},  # year 0 in UTC
    {"id": 9, "name": "x", "seen": "9999-12-31T23:00:00-15:00"},  # year 10000 in UTC
    {"id": 9, "name": "x", "active": "maybe"},
    {"id": 9, "name": "x", "tags": "notalist"},
    {"id": 9, "name": "x", "tags": {"a": 1}},
    {"id": 9, "name": "x", "nope": 1},
    {"id": 9, "name": "x", NUL: 1},
    {"id": 1, "name": "duplicate key"},
]
LOG_BAD_ROWS = [
    {"a": "x" + NUL, "b": 1},
    {"a": "x", "b": 2**63},
    {"a": "x", "b": "abc"},
    {"a": "x", "rowid": "abc"},
    {"a": "x", "rowid": 2**63},
    {"a": "x", "rowid": -1},
    {"a": "x", "rowid": 1},
    {"a": ["x"], "b": 1},
    {NUL: 1},
]
JSONB_BAD_ROWS = [  # documents, or rows in Datasette's {"id", "data"} shape
    {"id": "abc", "data": {"id": 9, "name": "x"}},
    {"id": 2**63, "data": {"id": 9, "name": "x"}},
    {"id": 1.5, "data": {"id": 9, "name": "x"}},
    {"id": True, "data": {"id": 9, "name": "x"}},
    {"id": 1, "data": {"id": 9, "name": "x"}},
    {"_id": "abc", "id": 9, "name": "x"},
    {"_id": 2**63, "id": 9, "name": "x"},
    {"_id": -(2**63) - 1, "id": 9, "name": "x"},
    {"_id": [1], "id": 9, "name": "x"},
    {"_id": "1e3", "id": 9, "name": "x"},
    {"data": "not an object"},
    {"data": None},
    {"data": {"id": 9, "name": "x" + NUL}},
    {"data": {"id": 9, "name": "x", NUL: 1}},
    {"data": {"id": 9, "name": "x", "price": 10**400}},
    {"data": {"id": 1, "name": "duplicate key"}},
]


PAIRS_BAD_ROWS = [
    {"a": "abc", "b": "x"},
    {"a": 2**63, "b": "x"},
    {"a": 9, "b": "x" + NUL},
    {"a": 9, "b": "x", "d": "2024-02-30"},
    {"a": None, "b": "x"},
    {"a": 9},
    {"a": 1, "b": "x", "d": "duplicate key"},
]


def bad_rows(target: Target) -> list[dict]:
    if target.name == "pairs":
        return PAIRS_BAD_ROWS
    if target.name == "nopk":
        return LOG_BAD_ROWS
    if target.name == "jsonb":
        return JSONB_BAD_ROWS
    return FLAT_ROWS


def bad_row_ids(name: str) -> list[str]:
    return [json.dumps(r, default=str)[:50] for r in bad_rows(Target(name, None, ""))]


WRITABLE = ["flat", "nopk", "pairs", "jsonb"]
CASES = [(name, i) for name in WRITABLE for i in range(len(bad_rows(Target(name, None, ""))))]


async def post_raw(target: Target, path: str, body: bytes):
    headers = {**target.service.headers, "Content-Type": "application/json"}
    return await target.service.ds.client.post(path, content=body, headers=headers)


async def post_json(target: Target, path: str, body) -> object:
    text = json.dumps(body, allow_nan=True)
    for levels in re.findall(r'"<deep (\d+)>"', text):
        n = int(levels)
        text = text.replace(f'"<deep {n}>"', "[" * n + '"x"' + "]" * n)
    return await post_raw(target, path, text.encode())


@pytest.mark.parametrize("body", RAW_BODIES, ids=[b[:50].decode("latin-1") for b in RAW_BODIES])
async def test_malformed_write_bodies_are_refused(targets, body):
    for name in WRITABLE:
        target = targets[name]
        before = await snapshot(target.service)
        for path in (
            f"{target.path}/-/insert",
            f"{target.path}/-/upsert",
            f"{target.path}/{target.key}/-/update",
        ):
            response = await post_raw(target, path, body)
            handled(response, f"{path} {body[:80]!r}")
            assert response.status_code >= 400, (path, body[:80], response.text)
        path = f"{target.path}/{target.missing}/-/delete"
        response = await post_raw(target, path, body)  # takes no body
        handled(response, f"{name} delete {body[:80]!r}")
        assert response.status_code == 404, response.text
        assert await snapshot(target.service) == before


@pytest.mark.parametrize("name, index", CASES, ids=[f"{n}-{i}" for n, i in CASES])
async def test_invalid_rows_are_refused_and_nothing_is_written(targets, name, index):
    target = targets[name]
    row = bad_rows(target)[index]
    before = await snapshot(target.service)
    path = f"{target.path}/-/"
    good = {"nopk": {"a": "new", "b": 7}, "pairs": {"a": 90, "b": "new"}}.get(
        name, {"id": 90, "name": "new"}
    )
    good = {"data": good} if name == "jsonb" else good
    for kind, body in [
        ("insert", {"rows": [row]}),
        ("insert", {"rows": [good, row]}),  # a valid row first: all or nothing
        ("insert", {"row": row, "return": True}),
        *([] if is_duplicate(row) else [("upsert", {"rows": [row]})]),
        ("insert", {"rows": [copy_of(good, i) for i in range(60)] + [row]}),  # COPY
        ("insert", {"rows": [row], "on_invalid": "skip"}),
        ("insert", {"rows": [row], "ignore": True}),
    ]:
        response = await post_json(target, path + kind, body)
        what = f"{name} {kind} {json.dumps(row, default=str)[:120]}"
        handled(response, what)
        legal = body.get("ignore") and is_duplicate(row)
        if body.get("on_invalid") != "skip" and not legal:
            assert response.status_code >= 400, (what, response.text)
        assert await snapshot(target.service) == before, what


def is_duplicate(row: dict) -> bool:
    document = row.get("data") if isinstance(row.get("data"), dict) else {}
    names = (row.get("name"), document.get("name"), row.get("d"))
    return "duplicate key" in names or row.get("id") == 1


def copy_of(good: dict, i: int) -> dict:
    if "data" in good:
        return {"data": {**good["data"], "id": 100 + i}}
    if "id" in good:
        return {**good, "id": 100 + i}
    if isinstance(good.get("a"), int):  # pairs: (a, b) is the key
        return {**good, "a": 100 + i}
    return {**good, "b": 100 + i}


UPDATES = [
    {"update": []},
    {"update": None},
    {"update": {}},
    {"update": {"id": "abc"}},
    {"update": {"id": 1}},
    {"update": {"id": 2**63}},
    {"update": {"id": None}},
    {"update": {"name": None}},
    {"update": {"name": "a" + NUL}},
    {"update": {"tags": ["a" + NUL]}},
    {"update": {"price": -1}},
    {"update": {"price": 10**400}},
    {"update": {"born": "2024-02-30"}},
    {"update": {"nope": 1}},
    {"update": {NUL: 1}},
    {"update": {"_id": 5}},
    {"update": {"_id": "abc"}},
    {"update": {"rowid": 5}},
    {"update": {"rowid": "abc"}},
    {"update": {"b": 2**63}},
    {"update": {"a": "x" + NUL}},
    {"update": {"name": "x"}, "bogus": 1},
    {"update": {"name": "x"}, "alter": True},
]


VALID_ON_JSONB = [{"update": {"id": 2**63}}]  # a document holds any JSON number


@pytest.mark.parametrize("update", UPDATES, ids=[json.dumps(u)[:60] for u in UPDATES])
async def test_bad_updates_are_refused(targets, update):
    for name in WRITABLE:
        target = targets[name]
        before = await snapshot(target.service)
        for key in (target.key, target.missing):
            response = await post_json(target, f"{target.path}/{key}/-/update", update)
            what = f"{name} {key} {json.dumps(update)[:100]}"
            handled(response, what)
            legal = update["update"] in ({}, {"_id": 5}) or (
                name == "jsonb" and update in VALID_ON_JSONB
            )
            if key == target.missing or not legal:
                assert response.status_code >= 400, (what, response.text)
            elif response.status_code == 200 and update in VALID_ON_JSONB:  # put it back
                undo = await post_json(target, f"{target.path}/2/-/update", {"update": {"id": 2}})
                assert undo.status_code == 200, undo.text
        assert await snapshot(target.service) == before


@pytest.mark.parametrize("key", BAD_KEYS + ["999", "0", "1,x,y", "abc,x", "1,~00", "1,2"])
async def test_updates_and_deletes_of_bad_keys_are_refused(targets, key):
    for name in WRITABLE:
        target = targets[name]
        before = await snapshot(target.service)
        update = {"update": {"nopk": {"b": 5}, "pairs": {"d": "2000-01-01"}}.get(name)}
        update["update"] = update["update"] or {"name": "changed"}
        for kind, body in (("update", update), ("delete", None)):
            path = f"{target.path}/{key}/-/{kind}"
            response = (
                await post_json(target, path, body) if body else await post_raw(target, path, b"")
            )
            handled(response, f"{name} {path}")
            assert response.status_code >= 400, (name, path, response.text)
        assert await snapshot(target.service) == before


@pytest.mark.parametrize(
    "update",
    [{"a": "abc"}, {"a": None}, {"b": None}, {"b": "x" + NUL}, {"a": 1, "b": "y,z"}, {"a": 2**63}],
)
async def test_compound_key_updates_are_refused(targets, update):
    target = targets["pairs"]
    before = await snapshot(target.service)
    response = await post_json(target, f"{target.path}/1,x/-/update", {"update": update})
    handled(response, json.dumps(update))
    assert response.status_code == 400, response.text
    assert await snapshot(target.service) == before


async def test_jsonb_upserts_need_a_usable_id(targets):
    target = targets["jsonb"]
    before = await snapshot(target.service)
    for row in [
        {"name": "no id"},
        {"_id": None, "id": 9, "name": "x"},
        {"_id": "abc", "id": 9, "name": "x"},
        {"_id": 2**63, "id": 9, "name": "x"},
        {"_id": 1.5, "id": 9, "name": "x"},
        {"_id": [1], "id": 9, "name": "x"},
        {"id": "abc", "data": {"name": "x"}},
        {"id": 2**63, "data": {"name": "x"}},
        {"_id": 2, "name": "x" + NUL},
    ]:
        response = await post_json(target, f"{target.path}/-/upsert", {"rows": [row]})
        what = json.dumps(row, default=str)[:120]
        handled(response, what)
        assert response.status_code >= 400, (what, response.text)
        assert await snapshot(target.service) == before, what


@pytest.mark.parametrize("row_id", [-1, 0, "-5"])
async def test_jsonb_upserts_of_new_ids_insert(targets, row_id):
    """An upsert naming an id no document has inserts one with that id (SQLite's rowid
    takes negative ids and 0 too)."""
    target = targets["jsonb"]
    before = await snapshot(target.service)
    row = {"_id": row_id, "id": 80, "name": "x"}
    response = await post_json(target, f"{target.path}/-/upsert", {"rows": [row]})
    assert response.status_code == 200, response.text
    shown = await get(target.service, f"{target.path}/{row_id}.json")
    assert shown.json()["rows"][0]["id"] == int(row_id), shown.text
    deleted = await post_raw(target, f"{target.path}/{row_id}/-/delete", b"")
    assert deleted.status_code == 200, deleted.text
    assert await snapshot(target.service) == before


async def test_flat_upserts_need_a_usable_key(targets):
    for name, rows in [
        ("flat", [{"name": "no key"}, {"id": None, "name": "x"}, {"id": 2**63, "name": "x"}]),
        ("flat", [{"id": 2, "name": "x" + NUL}, {"id": 2, "seen": "0001-01-01T00:00:00+01:00"}]),
        ("nopk", [{"a": "no key"}, {"rowid": "abc", "a": "x"}, {"rowid": 2**63, "a": "x"}]),
        ("nopk", [{"rowid": 2, "a": "x" + NUL}]),
    ]:
        target = targets[name]
        before = await snapshot(target.service)
        for row in rows:
            response = await post_json(target, f"{target.path}/-/upsert", {"rows": [row]})
            what = f"{name} {json.dumps(row, default=str)[:120]}"
            handled(response, what)
            assert response.status_code >= 400, (what, response.text)
            assert await snapshot(target.service) == before, what


# Values at the edges: refused cleanly, or stored and read back ------------------------------

EDGE_ROWS = {  # valid by the schema, hard for PostgreSQL or for reading back
    "flat": [
        {"id": 70, "name": "x", "tags": nested(DEEP)},
        {"id": 70, "name": "x", "tags": nested(1000)},
        {"id": 70, "name": "x", "tags": [nested_object(DEEP)]},
        {"id": 70, "name": "x", "tags": [2**70, -(2**70), 0.1, 1e308]},
        {"id": 70, "name": "x", "tags": ["\u2028", "\ud7ff", "😀", "a\\b"]},
        {"id": 70, "name": "x", "price": "Infinity"},
        {"id": 70, "name": "x", "price": "1e999999"},
        {"id": 70, "name": "x", "price": 10**300},
        {"id": 70, "name": "x", "price": 1e308},
        {"id": 70, "name": "x", "price": 5e-324},
        {"id": 2**63 - 1, "name": "x"},
        {"id": -(2**63), "name": "x"},
        {"id": 70, "name": "x" * 100_000},
        {"id": 70, "name": "x", "born": "0001-01-01", "seen": "0001-01-01T00:00:00Z"},
        {"id": 70, "name": "x", "born": "9999-12-31", "seen": "9999-12-31T23:59:59Z"},
        {"id": 70, "name": "x", "seen": "0001-01-01T00:00:00-01:00"},
        {"id": 70, "name": "x", "seen": "9999-12-31T23:59:59+14:00"},
        {"id": 70, "name": "x", "seen": "2024-01-01T00:00:00.999999+15:59"},
    ],
    "nopk": [{"a": "x" * 100_000, "b": 2**63 - 1}, {"a": "", "b": -(2**63)}],
    "jsonb": [
        {"id": -1, "data": {"id": 70, "name": "x"}},
        {"id": 0, "data": {"id": 70, "name": "x"}},
        {"_id": "71", "id": 70, "name": "x"},
        {"data": {"id": 2**63, "name": "x"}},
        {"data": {"id": 10**30, "name": "x", "price": 10**300}},
        {"data": {"id": 70, "name": "x", "tags": nested(DEEP)}},
        {"data": {"id": 70, "name": "x", "tags": nested(1000)}},
        {"data": {"id": 70, "name": "x", "tags": [2**70]}},
        {"data": {"id": 70, "name": "x", "seen": "0001-01-01T00:00:00+14:00"}},
        {"data": {"id": 70, "name": "x", "seen": "9999-12-31T23:59:59-23:59"}},
    ],
}
EDGE_CASES = [(name, i) for name, rows in EDGE_ROWS.items() for i in range(len(rows))]


@pytest.mark.parametrize("name, index", EDGE_CASES, ids=[f"{n}-{i}" for n, i in EDGE_CASES])
async def test_edge_values_are_refused_or_read_back(targets, name, index):
    """Stored or refused, never half: what is stored reads back on every page, and a
    refusal is a 4xx in Datasette's shape."""
    target = targets[name]
    row = EDGE_ROWS[name][index]
    before = await snapshot(target.service)
    response = await post_json(target, f"{target.path}/-/insert", {"rows": [row]})
    what = f"{name} {json.dumps(row, default=str)[:120]}"
    handled(response, what)
    if response.status_code >= 400:
        assert await snapshot(target.service) == before, what
        return
    after = await snapshot(target.service)
    path = target.path
    (added,) = [r for r in after[path] if r not in before[path]]
    key = added.get("rowid", added.get("id"))
    pages = [
        f"{target.path}.json?_size=max",
        f"{target.path}?_size=max",
        f"{target.path}/{key}.json",
        f"{target.path}/{key}",
        "/shop_main/-/query.json?sql=" + urllib.parse.quote(f"select * from {path.split('/')[-1]}"),
    ]
    if name == "jsonb":
        pages += [targets["jsonb_view"].path + ".json?_size=max", targets["jsonb_view"].path]
    for page in pages:
        shown = await get(target.service, page, html="." not in page.split("/")[-1])
        assert shown.status_code == 200, (what, page, shown.text[:500])
    deleted = await post_raw(target, f"{target.path}/{key}/-/delete", b"")
    assert deleted.status_code == 200, deleted.text
    assert await snapshot(target.service) == before, what


# User SQL cannot leave its reader role -------------------------------------------------


async def test_query_cannot_leave_the_reader_role(services):
    """SET ROLE could be undone from a SELECT (set_config('role', session_user, true));
    user SQL therefore logs in as the reader, so there is no other role to go back to."""
    service = services["flat_table"]
    sql = (
        "select set_config('role', session_user, true) as role,"
        " query_to_xml('select count(*) from pg_authid', true, true, '') as escaped"
    )
    response = await get(service, "/shop_main/-/query.json?" + urllib.parse.urlencode({"sql": sql}))
    assert response.status_code in (400, 403), response.text
    sql = "select current_user as current, session_user as session"
    who = await get(service, "/shop_main/-/query.json?" + urllib.parse.urlencode({"sql": sql}))
    (row,) = who.json()["rows"]
    assert row["current"].endswith("_reader") and row["session"] == row["current"]


async def test_too_many_rows_are_refused_whole(targets):
    target = targets["flat"]
    before = await snapshot(target.service)
    limit = service_for(target.service.ds).config.max_rows_per_request
    rows = [{"id": 1000 + i, "name": "n"} for i in range(limit + 1)]
    response = await post_json(target, f"{target.path}/-/insert", {"rows": rows})
    handled(response, "too many rows")
    assert response.status_code == 413, response.text
    assert await snapshot(target.service) == before


async def test_writes_answer_only_post(targets):
    """A GET (a link, an image tag) must never write: core's write views are POST-only."""
    for name in WRITABLE:
        target = targets[name]
        before = await snapshot(target.service)
        for path in ("-/insert", "-/upsert", "1/-/update", "1/-/delete", "2/-/delete"):
            for method in ("GET", "HEAD", "PUT", "DELETE", "PATCH"):
                response = await target.service.ds.client.request(
                    method, f"{target.path}/{path}", headers=target.service.headers
                )
                assert response.status_code == 405, (name, method, path, response.text)
                if method != "HEAD":
                    handled(response, f"{name} {method} {path}")
        assert await snapshot(target.service) == before


async def test_the_data_plane_still_answers_after_all_that(targets):
    for target in targets.values():
        response = await get(target.service, target.path + ".json?_shape=array&_size=max")
        assert response.status_code == 200, response.text
    rows = await get(targets["flat"].service, targets["flat"].path + ".json?_shape=array")
    assert [r["id"] for r in rows.json()] == [r["id"] for r in ROWS]
