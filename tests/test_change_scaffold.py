"""service.change.apply_change, the scaffold every mutation runs on: storage first, then the
catalog with its audit entry in one transaction, storage undone if the catalog refuses."""

from __future__ import annotations

import json

import pytest

from datasette_dataservice.errors import Conflict
from datasette_dataservice.providers.base import ProviderError
from datasette_dataservice.service.change import apply_change, record_refusal
from datasette_dataservice.service.core import service_for

ENTRY = {"tenant": "", "operation": "test_change", "target_type": "app", "target": "t"}


async def _operations(service) -> list[dict]:
    rows = await service.read(
        lambda conn: conn.execute(
            "SELECT operation, status, sql, duration_ms, error, details FROM schema_operations"
            " WHERE operation = 'test_change' ORDER BY id"
        ).fetchall()
    )
    keys = ("operation", "status", "sql", "duration_ms", "error", "details")
    return [dict(zip(keys, row, strict=True)) for row in rows]


@pytest.mark.asyncio
async def test_a_change_records_its_sql_and_time_with_the_catalog_change(ds):
    service = service_for(ds)
    steps = []

    async def storage():
        steps.append("storage")
        return ["CREATE TABLE x (id)"]

    def catalog(conn, done):
        steps.append("catalog")
        return {"details": {"id": 7}}

    done = await apply_change(service, ENTRY, storage=storage, catalog=catalog)
    assert steps == ["storage", "catalog"]
    assert done.sql == ["CREATE TABLE x (id)"] and done.duration_ms is not None
    [entry] = await _operations(service)
    assert entry["status"] == "applied"
    assert json.loads(entry["sql"]) == ["CREATE TABLE x (id)"]
    assert entry["duration_ms"] == done.duration_ms
    assert json.loads(entry["details"]) == {"id": 7}


@pytest.mark.asyncio
async def test_a_catalog_only_change_is_not_timed(ds):
    service = service_for(ds)
    done = await apply_change(service, ENTRY, catalog=lambda conn, done: None)
    [entry] = await _operations(service)
    assert entry["duration_ms"] is None and json.loads(entry["sql"]) == []
    assert done.entry == ENTRY


@pytest.mark.asyncio
async def test_storage_is_undone_when_the_catalog_refuses(ds):
    service = service_for(ds)
    undone = []

    def catalog(conn, done):
        raise Conflict("the catalog says no")

    async def undo():
        undone.append(True)

    with pytest.raises(Conflict):
        await apply_change(
            service, ENTRY, storage=_returns(["DROP TABLE x"]), catalog=catalog, undo=undo
        )
    assert undone == [True]
    assert await _operations(service) == []  # the entry went with the catalog change


@pytest.mark.asyncio
async def test_a_failed_verification_undoes_storage_and_records_nothing(ds):
    service = service_for(ds)
    undone = []

    async def verify():
        raise Conflict("rows would point nowhere")

    async def undo():
        undone.append(True)

    with pytest.raises(Conflict, match="nowhere"):
        await apply_change(
            service, ENTRY, storage=_returns(["ALTER ..."]), verify=verify, undo=undo
        )
    assert undone == [True] and await _operations(service) == []


@pytest.mark.asyncio
async def test_nothing_is_undone_when_storage_ran_no_sql(ds):
    service = service_for(ds)
    undone = []

    async def undo():
        undone.append(True)

    def catalog(conn, done):
        raise Conflict("no")

    with pytest.raises(Conflict):
        await apply_change(service, ENTRY, storage=_returns([]), catalog=catalog, undo=undo)
    assert undone == []


@pytest.mark.asyncio
async def test_a_storage_failure_is_a_409_recorded_as_failed(ds):
    service = service_for(ds)
    cleaned = []

    async def storage():
        raise ProviderError("disk full")

    with pytest.raises(Conflict) as raised:
        await apply_change(
            service,
            ENTRY,
            storage=storage,
            catalog=lambda conn, done: pytest.fail("the catalog must not change"),
            record_failure={"details": {"planned": True}},
            failure_catalog=lambda conn: cleaned.append(True),
            conflict=lambda message: f"rolled back: {message}",
        )
    assert raised.value.errors == ["rolled back: disk full"]
    assert cleaned == [True]
    [entry] = await _operations(service)
    assert (entry["status"], entry["error"]) == ("failed", "disk full")
    assert json.loads(entry["details"]) == {"planned": True}
    assert entry["duration_ms"] is not None


@pytest.mark.asyncio
async def test_a_storage_failure_without_record_failure_leaves_no_entry(ds):
    service = service_for(ds)

    async def storage():
        raise ProviderError("locked")

    with pytest.raises(Conflict, match="locked"):
        await apply_change(service, ENTRY, storage=storage)
    assert await _operations(service) == []


@pytest.mark.asyncio
async def test_a_refusal_is_recorded(ds):
    service = service_for(ds)
    await record_refusal(service, ENTRY, "rows do not fit", details={"failing_rows": 2})
    [entry] = await _operations(service)
    assert (entry["status"], entry["error"]) == ("refused", "rows do not fit")
    assert json.loads(entry["details"]) == {"failing_rows": 2}


def _returns(sql: list[str]):
    async def storage():
        return sql

    return storage
