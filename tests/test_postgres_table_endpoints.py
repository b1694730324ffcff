"""A Postgres-backed table's helper endpoints answer as core's do for the same datatable on
SQLite (issue 14): ``/-/schema`` (HTML, ``.json``, ``.md``), ``POST /-/count`` (core's
"count all"), ``/-/fragment`` (the rows' table core's scripts reload, ``?_row=``) and
``/-/autocomplete`` (the insert and edit forms' foreign-key lookups); their errors too.
Only the engine's own text (its DDL) is left out of the comparison."""

from __future__ import annotations

import re

import pytest
from conftest import close_data_service, make_datasette, path_of
from test_contract import ENGINES, PROVIDERS
from test_foreign_keys import Tables
from test_postgres_html_parity import structure
from test_postgres_labels import linked_tables

from datasette_dataservice.service.core import service_for

MORE_PARENTS = [
    {"id": 3, "code": "ab"},
    {"id": 10, "code": "ba", "label": "B"},
    {"id": 11, "code": "Abc"},
    {"id": 12, "code": "x1"},
    {"id": 13, "code": "50%_off"},
]
SCHEMA_PAGES = ["/-/schema.json", "/-/schema.md", "/-/schema"]
COUNTS = [
    "",
    "?ref=1",
    "?ref__gt=0&_sort=note&_size=1&_col=note&_next=5",  # only the filters count
    "?note__isnull=1",
    "?_where=id>1",
    "?ref__in=1,2&_labels=on",
    "?_through=nope",
    '?_through={"table":"nope","column":"id","value":"1"}',
]
FRAGMENTS = ["", "?ref=1", "?_sort_desc=note", "?_size=1", "?_row=2", "?_row=1,2", "?_row=nope"]
AUTOCOMPLETES = {
    "parent": ["?q=a", "?q=A", "?q=1", "?q=%25", "?q=_", "?q=", "?_initial=1", "?_initial=0"],
    "named": ["?q=UN", "?q=zz"],
    "pair": ["?q=re", "?_initial=on"],
    "child": ["?q=1", "?q=3", "?_initial=true"],
}


FORBIDDEN = [
    ("schema", lambda client, path: client.get(path + "/-/schema.json")),
    ("count", lambda client, path: client.post(path + "/-/count")),
    ("fragment", lambda client, path: client.get(path + "/-/fragment")),
    ("autocomplete", lambda client, path: client.get(path + "/-/autocomplete?q=1")),
]


def schema_answer(page: str, response) -> object:
    """The answer without the DDL: each engine writes its own."""
    if page.endswith(".json"):
        body = response.json()
        if "schema" in body:
            body["schema"] = "(the engine's DDL)"
        return body
    if page.endswith(".md"):
        return re.sub(r"```sql\n.*?```", "```sql (the engine's DDL)```", response.text, flags=re.S)
    items = structure(response.text)
    return [
        "(the engine's DDL)" if isinstance(item, str) and "CREATE " in item else item
        for item in items
        if not (isinstance(item, str) and item.startswith("· Queries took"))
    ]


def answer(response) -> object:
    """JSON as parsed, HTML (a fragment, an error page) as its structure."""
    if response.headers["content-type"].startswith("application/json"):
        return response.json()
    return structure(response.text)


async def scenario(tmp_path, postgres_config, provider: str, engine: str) -> list:
    config = postgres_config if engine == "postgres" else None
    ds = make_datasette(tmp_path / f"{provider}-{engine}", postgres=config)
    await ds.invoke_startup()
    try:
        headers, made, child = await linked_tables(ds, provider, engine)
        tables = Tables(ds, headers, provider, engine)
        assert (await tables.insert(made["parent"], MORE_PARENTS)).status_code == 201
        path = {n: path_of(made[n]["json_url"]).rsplit(".json", 1)[0] for n in made}
        client, out = ds.client, []
        for name in ("child", "parent"):
            for page in SCHEMA_PAGES:
                response = await client.get(path[name] + page, headers=headers)
                out.append((name + page, response.status_code, schema_answer(page, response)))
        for page in ("/nope/-/schema.json", "/nope/-/schema"):
            response = await client.get(path["child"].rsplit("/", 1)[0] + page, headers=headers)
            out.append((page, response.status_code, schema_answer(page, response)))

        for query in COUNTS:
            response = await client.post(child + "/-/count" + query, headers=headers)
            out.append(("count" + query, response.status_code, response.json()))
            assert response.status_code != 500, response.text
        response = await client.get(child + "/-/count", headers=headers)
        out.append(("GET count", response.status_code, response.text))
        gone = child.rsplit("/", 1)[0] + "/nope/-/count"
        response = await client.post(gone, headers=headers)
        out.append(("count of no table", response.status_code, response.json()))
        response = await client.post(child + "/-/count?_where=id>1")  # no execute-sql
        out.append(("anonymous count", response.status_code, response.json()))

        for query in FRAGMENTS:
            response = await client.get(child + "/-/fragment" + query, headers=headers)
            assert response.status_code != 500, response.text
            out.append(("fragment" + query, response.status_code, answer(response)))

        for name, queries in AUTOCOMPLETES.items():
            for query in queries:
                url = path[name] + "/-/autocomplete" + query
                response = await client.get(url, headers=headers)
                assert response.status_code != 500, response.text
                out.append((name + query, response.status_code, answer(response)))
        # a table only root may see: each endpoint refuses anyone else, as core does
        database, table = child.strip("/").split("/")
        ds.config["databases"] = {database: {"tables": {table: {"allow": {"id": "root"}}}}}
        for name, send in FORBIDDEN:
            response = await send(client, child)
            out.append(("anonymous " + name, response.status_code, answer(response)))
        return out
    finally:
        await close_data_service(ds)


@pytest.mark.asyncio
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_table_endpoints_answer_as_core(tmp_path, postgres_config, provider):
    runs = {e: await scenario(tmp_path, postgres_config, provider, e) for e in ENGINES}
    answers = {label: (status, body) for label, status, body in runs["sqlite"]}
    assert answers["count"] == (200, {"ok": True, "count": 3})
    assert answers["count?_where=id>1"] == (200, {"ok": True, "count": 2})
    refused = {name: answers["anonymous " + name][0] for name, _ in FORBIDDEN}
    views = provider == "jsonb"  # core: autocomplete of a view is a 400 before it checks
    assert refused == {
        "schema": 403,
        "count": 403,
        "fragment": 403,
        "autocomplete": 400 if views else 403,
    }
    if provider == "flat_table":  # a jsonb datatable is read from a view: no autocomplete
        rows = answers["parent?q=1"][1]["rows"]
        assert [r["pks"]["id"] for r in rows] == [1, 12, 10, 11, 13], rows  # exact, label, key
        assert [r["label"] for r in answers["parent?q=A"][1]["rows"]] == ["a", "ab", "ba", "Abc"]
    else:
        assert answers["parent?q=a"][0] == 400
    for on_sqlite, on_postgres in zip(runs["sqlite"], runs["postgres"], strict=True):
        assert on_postgres == on_sqlite


async def postgres_items(tmp_path, postgres_config, settings=None):
    ds = make_datasette(tmp_path / "data", postgres=postgres_config, settings=settings)
    await ds.invoke_startup()
    headers, made, child = await linked_tables(ds, "flat_table", "postgres")
    return ds, headers, made, child


@pytest.mark.asyncio
async def test_count_all_counts_past_the_page_count(tmp_path, postgres_config):
    """Past 10,000 rows the page says "10,000+ rows" with core's "count all" button, whose
    POST counts every row."""
    ds, headers, made, child = await postgres_items(tmp_path, postgres_config)
    try:
        database, table = child.strip("/").split("/")
        target = service_for(ds).postgres_target(database)
        async with target.connect() as conn:  # autocommit
            await conn.execute(
                f'INSERT INTO "{target.schema}"."{table}" (id, note)'
                " SELECT n, 'bulk' FROM generate_series(100, 10099) AS n"
            )
        page = (await ds.client.get(child, headers=headers)).text
        assert "10,000+ rows" in page
        button = re.search(
            r'<button type="button" class="count-all" data-count-url="([^"]+)"', page
        )
        assert button and button.group(1) == child + "/-/count", page[:2000]
        response = await ds.client.post(child + "/-/count", headers=headers)
        assert response.json() == {"ok": True, "count": 10003}
        assert "no-store" in response.headers["cache-control"]
        response = await ds.client.post(child + "/-/count?note=bulk", headers=headers)
        assert response.json() == {"ok": True, "count": 10000}
    finally:
        await close_data_service(ds)


@pytest.mark.asyncio
@pytest.mark.parametrize("engine", ENGINES)
async def test_autocomplete_refuses_a_bad_initial(tmp_path, postgres_config, engine):
    """``?_initial=`` that is no boolean: a 400 saying what to send on both engines (core's
    view on SQLite: a 500 with no message)."""
    ds = make_datasette(
        tmp_path / engine, postgres=postgres_config if engine == "postgres" else None
    )
    await ds.invoke_startup()
    try:
        headers, made, _ = await linked_tables(ds, "flat_table", engine)
        path = path_of(made["parent"]["json_url"]).rsplit(".json", 1)[0]
        response = await ds.client.get(path + "/-/autocomplete?_initial=maybe", headers=headers)
        assert response.status_code == 400
        assert "_initial must be on, off, true, false, 1 or 0" in response.text
    finally:
        await close_data_service(ds)


@pytest.mark.asyncio
async def test_a_count_out_of_time_says_so(tmp_path, postgres_config):
    """Core's answer to a count past ``sql_time_limit_ms``: a 400 in its JSON shape."""
    settings = {"sql_time_limit_ms": 200}
    ds, headers, _, child = await postgres_items(tmp_path, postgres_config, settings)
    try:
        slow = child + "/-/count?_where=pg_sleep(5) is not null"
        response = await ds.client.post(slow, headers=headers)
        assert response.status_code == 400
        assert response.json()["errors"] == ["Count query timed out"]
    finally:
        await close_data_service(ds)
