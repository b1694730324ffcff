"""Facets on Postgres-backed tables and views give what core gives on SQLite (issue 14):
``_facet``, ``_facet_date``, ``_facet_array``, ``_facet_size``, facets from the table's
configuration, suggestions, time limits, toggle URLs, filters, and the HTML page's facet
sections. Each case runs on {flat_table, jsonb} x {sqlite, postgres}; the comparison tests
hold the Postgres answer against core's on SQLite for the same rows, in the same test."""

from __future__ import annotations

import re
import urllib.parse

import pytest
import pytest_asyncio
from conftest import close_data_service, postgres_config_for
from test_contract import COMBINATIONS, PROVIDERS, ROWS, start_service

MORE_ROWS = [  # repeats, so that core suggests facets; arrays of strings; a second day
    {"id": 6, "name": "Fay", "price": 3, "active": True, "tags": ["c", "a"], "born": "2001-01-01"},
    {"id": 7, "name": "Gus", "price": 9.5, "tags": ["a"], "seen": "2024-01-02T23:59:59Z"},
]
ALL_ROWS = ROWS + MORE_ROWS

COMPARED = [
    "_facet=active&_facet=price&_facet=name",
    "_facet_array=tags",
    "_facet_date=seen&_facet_date=born",
    "_facet=active&active=1",
    "_facet=active&active__exact=1",
    "_facet=price&price__gt=3",
    "_facet=tags",
    "_facet=born&_facet_size=1",
    "_facet=born&_facet_size=max",
    "_facet=id&_facet_size=2",
    "_facet=born&_facet_size=nope",
    "_extra=suggested_facets",
    "_extra=suggested_facets&_facet=active&_facet_date=born",
    "_extra=suggested_facets&active=0",
    "_extra=suggested_facets&_nosuggest=1",
    "_extra=facets_timed_out&_extra=sorted_facet_results&_facet=active&_facet_array=tags",
    "_facet_array=tags&tags__arraycontains=a",
    "_facet_array=tags&tags__arraycontains=a&tags__arraycontains=c",
    "_facet_date=seen&seen__date=2024-01-02",
    '_facet={"column":"name"}',
    "_facet_bogus=x",
    "_facet=active&_facet=active",
    "_facet=name&_nofacet=1",
    "_facet=active&_size=2&_next=2&_extra=suggested_facets",
    "_facet_date=name",
    "_facet_array=price&_facet_array=active",
    "_facet=price&_sort_desc=price&_size=1",
    "_facet=active&name__contains=a&_extra=count",
]


@pytest_asyncio.fixture(params=COMBINATIONS, ids=["-".join(c) for c in COMBINATIONS])
async def stocked(request, tmp_path):
    provider, engine = request.param
    service = await start_service(tmp_path, provider, engine, postgres_config_for(request))
    response = await service.insert(ALL_ROWS)
    assert response.status_code == 201, response.text
    yield service
    await close_data_service(service.ds)


@pytest_asyncio.fixture(params=PROVIDERS)
async def pair(request, tmp_path, postgres_config):
    """The same datatable, with the same rows, on SQLite (core) and on Postgres."""
    services = []
    try:
        for engine in ("sqlite", "postgres"):
            config = postgres_config if engine == "postgres" else None
            service = await start_service(tmp_path, request.param, engine, config)
            services.append(service)
            response = await service.insert(ALL_ROWS)
            assert response.status_code == 201, response.text
        yield services
    finally:
        for service in services:
            await close_data_service(service.ds)


async def both(pair, suffix: str) -> list:
    """The responses of SQLite's and Postgres's table (``suffix``: format and query)."""
    return [await service.get(service.json_path[:-5] + suffix) for service in pair]


@pytest.mark.asyncio
async def test_facet_json_is_core_s(pair):
    differ = []
    for query in COMPARED:
        lite, pg = await both(pair, ".json?" + query)
        assert lite.status_code == 200, (query, lite.text)
        assert pg.status_code == 200, (query, pg.text)
        if pg.json() != lite.json():
            differ.append((query, pg.json(), lite.json()))
    assert not differ, "\n\n".join(f"{q}\n  pg:   {p}\n  core: {c}" for q, p, c in differ)


def facet_sections(html: str) -> str:
    """The page's facet sections (suggestions, timed out facets, facet results)."""
    found = re.findall(
        r'<p class="suggested-facets">.*?</p>|<p class="facets-timed-out">.*?</p>'
        r'|<div class="facet-results">.*?\n</div>',
        html,
        re.S,
    )
    return "\n".join(found)


@pytest.mark.asyncio
async def test_facet_sections_of_the_html_page_are_core_s(pair):
    for query in [
        "",
        "_facet=active&_facet_array=tags&_facet_date=born",
        "_facet=active&active=1&_facet=price&_facet_size=1",
        "_facet=name&_facet_size=max",
    ]:
        lite, pg = await both(pair, "?" + query)
        assert lite.status_code == pg.status_code == 200, (query, pg.text)
        sections = facet_sections(lite.text)
        assert 'class="facet-results"' in sections and (
            query or 'class="suggested-facets"' in sections
        ), sections
        assert facet_sections(pg.text) == sections, query


# Engine-independent expectations, on each of the four ----------------------------------


def values(body: dict, name: str) -> list[tuple]:
    facet = body["facet_results"]["results"][name]
    return [(v["value"], v["count"], v["selected"]) for v in facet["results"]]


@pytest.mark.asyncio
async def test_facet_counts_respect_filters_and_toggle_urls_apply_them(stocked):
    response = await stocked.get(stocked.json_path + "?_facet=active&_facet=price&price__gt=3")
    assert response.status_code == 200, response.text
    body = response.json()
    assert values(body, "active") == [(0, 1, False), (1, 1, False)]
    assert values(body, "price") == [(9.5, 2, False), (120.25, 1, False)]
    toggle = body["facet_results"]["results"]["active"]["results"][1]["toggle_url"]
    query = urllib.parse.urlsplit(toggle).query
    assert urllib.parse.parse_qs(query)["active"] == ["1"]
    followed = (await stocked.get(stocked.json_path + "?" + query)).json()
    assert values(followed, "active") == [(1, 1, True)]
    assert values(followed, "price") == [(9.5, 1, False)]


@pytest.mark.asyncio
async def test_array_and_date_facets(stocked):
    response = await stocked.get(stocked.json_path + "?_facet_array=tags&_facet_date=seen")
    body = response.json()
    assert values(body, "tags") == [("a", 4, False), ("b", 2, False), ("c", 1, False)]
    assert values(body, "seen") == [("2024-01-02", 2, False), ("2024-05-06", 1, False)]
    response = await stocked.get(stocked.json_path + "?_facet_array=tags&tags__arraycontains=c")
    assert values(response.json(), "tags") == [("a", 1, False), ("c", 1, True)]


@pytest.mark.asyncio
async def test_facets_from_the_table_configuration(stocked):
    table = stocked.json_path.rsplit("/", 1)[1][:-5]
    database = stocked.datatable["database"]
    config = {"facets": ["active", {"array": "tags"}], "facet_size": 2}
    stocked.ds.config.setdefault("databases", {})[database] = {"tables": {table: config}}
    response = await stocked.get(stocked.json_path + "?_extra=facet_results&_facet=name")
    assert response.status_code == 200, response.text
    results = response.json()["facet_results"]["results"]
    assert [(f["name"], f["hideable"], f["truncated"]) for f in results.values()] == [
        ("active", False, False),
        ("name", True, True),
        ("tags", False, True),
    ]
    response = await stocked.get(stocked.json_path + "?_extra=sorted_facet_results&_facet=name")
    assert [f["name"] for f in response.json()["sorted_facet_results"]] == [
        "active",
        "tags",
        "name",
    ]


@pytest.mark.asyncio
async def test_suggested_facets(stocked):
    response = await stocked.get(stocked.json_path + "?_extra=suggested_facets&_facet=active")
    suggested = [(s["name"], s.get("type")) for s in response.json()["suggested_facets"]]
    assert suggested == [
        ("price", None),
        ("tags", None),
        ("born", None),
        ("born", "date"),
        ("seen", "date"),
        ("tags", "array"),
    ]


MANY = 20_000  # rows: a facet over them takes more than a millisecond on either engine


@pytest.mark.asyncio
@pytest.mark.parametrize("combination", COMBINATIONS, ids=["-".join(c) for c in COMBINATIONS])
async def test_a_facet_that_runs_out_of_time_is_named(request, tmp_path, combination):
    """``facet_time_limit_ms`` bounds each facet; one that runs out is named in
    ``facets_timed_out`` (and on the page), as core says, and the page still answers."""
    provider, engine = combination
    config = postgres_config_for(request)
    settings = {"facet_time_limit_ms": 1, "max_insert_rows": 1000}
    service = await start_service(tmp_path, provider, engine, config, settings=settings)
    try:
        rows = [{"id": i, "name": f"n{i % 1000}", "price": i % 7} for i in range(MANY)]
        for start in range(0, MANY, 1000):
            assert (await service.insert(rows[start : start + 1000])).status_code == 201
        query = "_facet=name&_facet=price&_extra=facets_timed_out&_size=1"
        response = await service.get(service.json_path + "?" + query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["facets_timed_out"] == ["name", "price"]
        assert body["facet_results"] == {"results": {}, "timed_out": ["name", "price"]}
        html = await service.get(service.json_path[:-5] + "?" + query)
        assert "These facets timed out: name, price" in html.text
    finally:
        await close_data_service(service.ds)


@pytest.mark.asyncio
@pytest.mark.parametrize("combination", COMBINATIONS, ids=["-".join(c) for c in COMBINATIONS])
async def test_facets_refused_when_allow_facet_is_off(request, tmp_path, combination):
    provider, engine = combination
    service = await start_service(
        tmp_path, provider, engine, postgres_config_for(request), settings={"allow_facet": False}
    )
    try:
        response = await service.get(service.json_path + "?_facet=name")
        assert response.status_code == 400
        assert response.json()["error"] == "_facet= is not allowed"
    finally:
        await close_data_service(service.ds)


@pytest.mark.asyncio
@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    "query",
    [
        "_facet=nope",
        "_facet_date=nope",
        "_facet_array=nope",
        "_facet={bad",
        '_facet={"x":1}',
        "_facet_array=name",
        "_facet=name&_where=true)%20--",  # ?_where= SQL that cuts the facet's SQL short
    ],
)
async def test_bad_facets_are_400s_on_postgres(tmp_path, postgres_config, provider, query):
    """Core answers these with a 500 (an SQLite error); the Postgres data plane says what is
    wrong, in Datasette's error shape."""
    service = await start_service(tmp_path, provider, "postgres", postgres_config)
    try:
        assert (await service.insert(ALL_ROWS)).status_code == 201
        html = await service.get(service.json_path[:-5] + "?" + query)
        assert html.status_code == 400, html.text
        response = await service.get(service.json_path + "?" + query)
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["ok"] is False and body["status"] == 400 and body["error"], body
    finally:
        await close_data_service(service.ds)


@pytest.mark.asyncio
@pytest.mark.parametrize("combination", COMBINATIONS, ids=["-".join(c) for c in COMBINATIONS])
async def test_an_unknown_facet_column_is_a_400_on_both_engines(request, tmp_path, combination):
    """Core fails with a 500 on SQLite ("no such column: nope" from its facet SQL); both
    engines answer 400, alike, for every facet type, and valid facets still count."""
    provider, engine = combination
    service = await start_service(tmp_path, provider, engine, postgres_config_for(request))
    try:
        assert (await service.insert(ALL_ROWS)).status_code == 201
        for argument, column in [
            ("_facet", "nope"),
            ("_facet_date", "nope"),
            ("_facet_array", "inner.nope"),  # as core's array facet SQL names it
        ]:
            query = f"_facet=active&{argument}=nope"
            response = await service.get(service.json_path + "?" + query)
            assert response.status_code == 400, response.text
            message = f"no such column: {column}"
            assert response.json() == {
                "ok": False,
                "error": message,
                "errors": [message],
                "status": 400,
            }
            html = await service.get(service.json_path[:-5] + "?" + query)
            assert html.status_code == 400 and "Invalid SQL" in html.text
        valid = await service.get(service.json_path + "?_facet=active&_facet_date=born")
        assert valid.status_code == 200
        assert set(valid.json()["facet_results"]["results"]) == {"active", "born"}
    finally:
        await close_data_service(service.ds)


@pytest.mark.asyncio
@pytest.mark.parametrize("combination", COMBINATIONS, ids=["-".join(c) for c in COMBINATIONS])
async def test_a_bad_facet_configuration_is_a_400_on_both_engines(request, tmp_path, combination):
    """``_facet={...}`` is a JSON facet configuration: JSON that does not parse, or one that
    names no column, made core fail with a 500 on SQLite; both engines answer the same 400."""
    provider, engine = combination
    service = await start_service(tmp_path, provider, engine, postgres_config_for(request))
    try:
        assert (await service.insert(ALL_ROWS)).status_code == 201
        for argument in ["_facet", "_facet_date", "_facet_array"]:
            for value, message in [
                ("{bad", "Invalid JSON facet configuration: Expecting property name enclosed"),
                ('{"x":1}', 'Invalid facet configuration: {"x": 1}'),
            ]:
                query = urllib.parse.urlencode({argument: value})
                response = await service.get(service.json_path + "?" + query)
                assert response.status_code == 400, (query, response.text)
                assert response.json()["error"].startswith(message), response.json()
        configured = urllib.parse.urlencode({"_facet": '{"column": "active"}'})
        valid = await service.get(service.json_path + "?" + configured)
        assert valid.status_code == 200
        assert set(valid.json()["facet_results"]["results"]) == {"active"}
    finally:
        await close_data_service(service.ds)


TEXTS = [
    "2024-01-02",
    "2024-02-30",
    "0000-01-01",
    "2024-01-02T03:04:05Z",
    "2024-01-02T03:04:05.123Z",
    "2024-01-02 03:04",
    "2024-01-02 23:30:00-05:00",
    "2024-01-02T00:30+01:00",
    "2024-01-31T23:59:59.999-00:01",
    "2024-13-01",
    "2024-01-02x",
    "2024-1-2",
    "hello",
    "",
    "03:04:05Z",
    "12:00",
    "00:00:00.5Z",
    "23:59:59+02:00",
    "00:30:00+02:00",
    "23:30 -01:00",
    "24:00",
    "1:00",
    "25:00",
    "12:60",
]


def test_a_text_s_day_is_sqlite_s(postgres_dsn):
    """The date facet's day of a text (a jsonb view's date and datetime fields are text)
    is what SQLite's date() gives, and never an error."""
    import sqlite3

    import psycopg

    from datasette_dataservice.dataplane.postgres.facets import day_of
    from datasette_dataservice.dataplane.postgres.introspect import Column

    column = Column("t", 25, -1, "text", False, 0)
    lite = sqlite3.connect(":memory:")
    with psycopg.connect(postgres_dsn) as conn:
        for text in TEXTS:
            expected = lite.execute("select date(?)", [text]).fetchone()[0]
            sql = f"select {day_of(column)} from (select CAST(%s AS text) AS t) AS x"
            assert conn.execute(sql, [text]).fetchone()[0] == expected, text
