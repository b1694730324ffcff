"""Reports that add up (ISSUE 13 item 5): every error once, at the field's real position, and
import counts that add up, on every engine and provider."""

from __future__ import annotations

import copy

import pytest
from conftest import assert_error, close_data_service
from test_contract import COMBINATIONS, ROWS, SCHEMA, start_service

IDS = ["-".join(c) for c in COMBINATIONS]
ITEMS = "/-/apps/shop/datasources/main/datatables/items"


@pytest.mark.parametrize("provider, engine", COMBINATIONS, ids=IDS)
@pytest.mark.asyncio
async def test_a_duplicate_key_on_a_unique_primary_key_field_is_reported_once(
    tmp_path, postgres_config, provider, engine
):
    schema = copy.deepcopy(SCHEMA)
    schema["fields"][0]["constraints"]["unique"] = True  # "id" is the primary key too
    service = await start_service(tmp_path, provider, engine, postgres_config, schema=schema)
    try:
        body = assert_error(await service.insert([ROWS[0], ROWS[0]]), 400)
        assert [e["type"] for e in body["report"]["errors"]] == ["primary-key"]
        assert (await service.insert([ROWS[0]])).status_code == 201
        body = assert_error(await service.insert([ROWS[0]]), 400)
        assert [e["type"] for e in body["report"]["errors"]] == ["primary-key"]
    finally:
        await close_data_service(service.ds)


@pytest.mark.parametrize("provider, engine", COMBINATIONS, ids=IDS)
@pytest.mark.asyncio
async def test_a_refused_migration_reports_the_fields_real_position(
    tmp_path, postgres_config, provider, engine
):
    service = await start_service(tmp_path, provider, engine, postgres_config)
    try:
        assert (await service.insert(ROWS)).status_code == 201
        schema = copy.deepcopy(SCHEMA)
        schema["fields"][2]["type"] = "integer"  # "price", the third field; 9.5 cannot stay
        response = await service.ds.client.put(
            ITEMS, json={"json_schema": schema}, headers=service.headers
        )
        errors = assert_error(response, 409)["report"]["errors"]
        assert errors and {(e["fieldName"], e["fieldNumber"]) for e in errors} == {("price", 3)}
        assert all('at position "3"' in e["message"] for e in errors), errors
    finally:
        await close_data_service(service.ds)
