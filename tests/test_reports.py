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


def import_path(mode: str, on_invalid: str) -> str:
    return f"{ITEMS}/import?format=csv&mode={mode}&on_invalid={on_invalid}&batch_size=2"


def counts(body: dict) -> tuple[int, int, int, int]:
    stats = body["report"]["stats"]
    return (
        stats["rows"],
        stats["written_rows"],
        stats["invalid_rows"],
        stats["discarded_rows"],
    )


@pytest.mark.parametrize("provider, engine", COMBINATIONS, ids=IDS)
@pytest.mark.asyncio
async def test_a_csv_import_may_leave_out_optional_fields(
    tmp_path, postgres_config, provider, engine
):
    service = await start_service(tmp_path, provider, engine, postgres_config)
    try:
        csv = b"name,id\nAda,1\nBo,2\n"  # any order; price, active, ... left out
        response = await service.post(import_path("insert", "refuse"), content=csv)
        assert response.status_code == 201, response.text
        assert counts(response.json()) == (2, 2, 0, 0)
        rows = await service.rows()
        assert [(r["id"], r["name"], r["price"], r["born"]) for r in rows] == [
            (1, "Ada", None, None),
            (2, "Bo", None, None),
        ]
        for mode in ("insert", "upsert"):
            for on_invalid in ("refuse", "skip"):  # "name" is required: one header error
                csv = b"id,price\n3,1\n4,2\n5,3\n"
                response = await service.post(import_path(mode, on_invalid), content=csv)
                body = assert_error(response, 400)
                assert [e["type"] for e in body["report"]["errors"]] == ["missing-label"]
                assert "header" in body["error"] and '"name"' in body["error"]
                assert counts(body) == (0, 0, 0, 0)
    finally:
        await close_data_service(service.ds)


@pytest.mark.parametrize("provider, engine", COMBINATIONS, ids=IDS)
@pytest.mark.parametrize("mode", ["insert", "upsert"])
@pytest.mark.asyncio
async def test_import_counts_add_up_in_every_mode(
    tmp_path, postgres_config, provider, engine, mode
):
    service = await start_service(tmp_path, provider, engine, postgres_config)
    try:
        assert (await service.insert([{"id": 1, "name": "stored"}])).status_code == 201
        # row 2 breaks a constraint; in insert mode rows 1 and 5 clash with stored keys
        csv = b"id,name,price\n1,A,1\n2,B,-1\n3,C,2\n4,D,\n1,E,3\n"
        skipped = await service.post(import_path(mode, "skip"), content=csv)
        assert skipped.status_code == 201, skipped.text
        read, written, invalid, discarded = counts(skipped.json())
        assert (read, invalid, discarded) == (5, 3 if mode == "insert" else 1, 0)
        assert read == written + invalid + discarded
        body = skipped.json()
        assert (body["rows_read"], body["rows_written"], body["rows_invalid"]) == (
            read,
            written,
            invalid,
        )
        refused = assert_error(await service.post(import_path(mode, "refuse"), content=csv), 400)
        read, written, invalid, discarded = counts(refused)
        assert written == 0 and invalid >= 1 and read == written + invalid + discarded
    finally:
        await close_data_service(service.ds)
