"""The same request gives the same answer on {flat_table, jsonb} x {sqlite, postgres},
decided by the Table Schema's types (issue 14): numbers compare numerically, fractions
included; boolean fields read frictionless' true/false values; a bad ``_next`` is a 400;
a missing ``:param`` in ``-/query`` binds no value."""

from __future__ import annotations

import urllib.parse

import pytest
import pytest_asyncio
from conftest import close_data_service, postgres_config_for
from test_contract import COMBINATIONS, ROWS, start_service


@pytest_asyncio.fixture(params=COMBINATIONS, ids=["-".join(c) for c in COMBINATIONS])
async def stocked(request, tmp_path):
    provider, engine = request.param
    service = await start_service(tmp_path, provider, engine, postgres_config_for(request))
    response = await service.insert(ROWS)
    assert response.status_code == 201, response.text
    yield service
    await close_data_service(service.ds)


FILTERS = [
    ("?id__lt=2.5", [1, 2]),
    ("?id__gt=1.5", [2, 3, 4, 5]),
    ("?id__gte=2.0", [2, 3, 4, 5]),
    ("?id=1.0", [1]),
    ("?id__in=1.0,2", [1, 2]),
    ("?id__not=1.0", [2, 3, 4, 5]),
    ("?active=true", [1, 4]),
    ("?active=True", [1, 4]),
    ("?active=TRUE", [1, 4]),
    ("?active=false", [2, 5]),
    ("?active=yes", []),  # no trueValue of the field: PostgreSQL's literal, not frictionless'
    ("?active__not=yes", [1, 2, 4, 5]),
    ("?active__not=true", [2, 5]),
    ("?active__in=true,false", [1, 2, 4, 5]),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("query,ids", FILTERS, ids=[q for q, _ in FILTERS])
async def test_filters_compare_as_the_schema_types(stocked, query, ids):
    rows = await stocked.rows("&" + query[1:])
    assert sorted(row["id"] for row in rows) == ids


@pytest.mark.asyncio
async def test_an_invalid_next_is_a_400_on_a_view(stocked):
    response = await stocked.get(stocked.json_path + "?_next=nope")
    if stocked.provider == "flat_table":  # keyset paging: rows after "nope", as core finds
        assert response.status_code == 200 and response.json()["rows"] == []
        return
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["ok"] is False and body["status"] == 400, body
    assert body["error"] == "_next must be an integer offset", body


@pytest.mark.asyncio
async def test_a_missing_query_parameter_binds_no_value(stocked):
    sql = f'select id from "{stocked.datatable["table"]}" where id = :id or born < :day'
    for given in ({}, {"id": "", "day": ""}):  # core reads an empty value as a missing one
        query = urllib.parse.urlencode({"sql": sql, **given})
        response = await stocked.get(f"{stocked.database_path}/-/query.json?{query}")
        assert response.status_code == 200, response.text
        assert response.json()["rows"] == []


OWN_VALUES = {
    "fields": [
        {"name": "id", "type": "integer"},
        {"name": "ok", "type": "boolean", "trueValues": ["yes", "Y"], "falseValues": ["no"]},
    ],
    "primaryKey": ["id"],
}


@pytest.mark.asyncio
@pytest.mark.parametrize("combination", COMBINATIONS, ids=["-".join(c) for c in COMBINATIONS])
async def test_a_boolean_field_reads_its_own_true_and_false_values(request, tmp_path, combination):
    provider, engine = combination
    config = postgres_config_for(request)
    service = await start_service(tmp_path, provider, engine, config, schema=OWN_VALUES)
    try:
        rows = [{"id": 1, "ok": True}, {"id": 2, "ok": False}, {"id": 3, "ok": None}]
        assert (await service.insert(rows)).status_code == 201
        for query, ids in [
            ("ok=yes", [1]),
            ("ok=Y", [1]),
            ("ok=no", [2]),
            ("ok=true", []),  # frictionless' default, not one of this field's values
            ("ok=1", [1]),  # as both engines show it
            ("ok__not=0", [1]),
            ("ok__in=Y,no", [1, 2]),
            ("ok__notin=yes,maybe", [2]),
        ]:
            found = await service.rows("&" + query)
            assert sorted(row["id"] for row in found) == ids, (query, found)
    finally:
        await close_data_service(service.ds)


@pytest.mark.asyncio
async def test_a_row_page_reads_a_fractional_key_as_the_number(stocked):
    for key, status in [("1.0", 200), ("1.5", 404), ("1e0", 200)]:
        response = await stocked.get(f"{stocked.table_path}/{key}.json?_shape=objects")
        assert response.status_code == status, (key, response.text)
        if status == 200:
            assert [row["id"] for row in response.json()["rows"]] == [1]
