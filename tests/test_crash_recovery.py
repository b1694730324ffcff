"""A crash during a schema change leaves catalog and table agreeing: old or new, never half."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import create_app, create_datasource, create_datatable, make_datasette
from live_server import live_server

from datasette_dataservice.catalog import history
from datasette_dataservice.service.core import service_for
from datasette_dataservice.service.datatables import table_spec
from datasette_dataservice.service.migrations import work_out_change

SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "score", "type": "integer"},
    ],
    "primaryKey": ["id"],
}
AS_NUMBER = {**SCHEMA, "fields": [SCHEMA["fields"][0], {"name": "score", "type": "number"}]}
BASE = "/-/apps/a/datasources/d/datatables/t"


async def _started(data_dir: Path):
    datasette = make_datasette(data_dir)
    await datasette.invoke_startup()
    token = await datasette.create_token("root")
    return datasette, {"Authorization": f"Bearer {token}"}


async def _table_with_rows(data_dir: Path, rows: int):
    datasette, root = await _started(data_dir)
    await create_app(datasette, root, name="a")
    source = await create_datasource(datasette, root, "a", slug="d")
    datatable = await create_datatable(datasette, root, "a", "d", "t", SCHEMA)
    db_path = data_dir / f"{source['database']}.db"
    datasette.close()
    with sqlite3.connect(db_path) as conn:
        conn.executemany(
            f'INSERT INTO "{datatable["physical_table_name"]}" VALUES (?, ?)',
            ((i, i * 7) for i in range(1, rows + 1)),
        )
    return db_path, datatable["physical_table_name"]


async def _interrupt(data_dir: Path, *, physical_change_committed: bool) -> None:
    """Leave a change in flight: pending row written, catalog not updated."""
    datasette, _ = await _started(data_dir)
    service = service_for(datasette)
    datatable = await service.datatable("", "a", "d", "t")
    change = await work_out_change(service, datatable, AS_NUMBER, None)
    await service.write(
        lambda conn: history.insert_pending_change(
            conn,
            datatable["id"],
            {
                "version": 2,
                "json_schema": json.dumps(AS_NUMBER),
                "schema_hash": "h2",
                "field_aliases": "{}",
                "renames": "{}",
                "operation": json.dumps(
                    {
                        "target": "a/d/t",
                        "target_type": "datatable",
                        "app_id": datatable["app_id"],
                        "details": change.as_dict(),
                    }
                ),
            },
        )
    )
    if physical_change_committed:
        await service.provider_for(datatable).migrate(change.old, change.new, change.plan)
    datasette.close()


async def _agreement(data_dir: Path) -> tuple[int, int]:
    """Restart; assert catalog and table agree; return (schema version, row count)."""
    datasette, root = await _started(data_dir)
    service = service_for(datasette)
    assert await service.read(history.pending_changes) == []
    datatable = await service.datatable("", "a", "d", "t")
    provider = service.provider_for(datatable)
    assert await provider.has_schema(table_spec(datatable), rebuilt=True)
    rows = await provider.count_rows(datatable["physical_table_name"])
    datasette.close()
    return datatable["schema_version"], rows


@pytest.mark.asyncio
async def test_change_committed_on_the_table_is_completed_in_the_catalog(tmp_path):
    await _table_with_rows(tmp_path, 100)
    await _interrupt(tmp_path, physical_change_committed=True)
    assert await _agreement(tmp_path) == (2, 100)


@pytest.mark.asyncio
async def test_change_that_never_reached_the_table_is_rolled_back(tmp_path):
    await _table_with_rows(tmp_path, 100)
    await _interrupt(tmp_path, physical_change_committed=False)
    assert await _agreement(tmp_path) == (1, 100)


@pytest.mark.asyncio
async def test_recovery_never_reports_a_rollback_it_did_not_do(tmp_path):
    """The table changed, but not as the change in flight says (another writer's DDL): the
    catalog keeps its version and the audit says the table matches neither."""
    db_path, physical = await _table_with_rows(tmp_path, 3)
    await _interrupt(tmp_path, physical_change_committed=False)
    with sqlite3.connect(db_path) as conn:
        conn.execute(f'ALTER TABLE "{physical}" ADD COLUMN stray TEXT')
    datasette, _ = await _started(tmp_path)
    service = service_for(datasette)
    assert await service.read(history.pending_changes) == []
    assert (await service.datatable("", "a", "d", "t"))["schema_version"] == 1
    datasette.close()
    with sqlite3.connect(tmp_path / "catalog.db") as conn:
        status, error = conn.execute(
            "SELECT status, error FROM schema_operations WHERE operation = 'recover_schema_change'"
        ).fetchone()
    assert status == "failed"
    assert "rolled back" not in error
    assert "matches neither schema version 1" in error


def _put_quietly(url: str, body: dict, token: str) -> None:
    try:
        httpx.put(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    except httpx.HTTPError:
        pass  # the server is killed under it


def _wait_for_pending_change(catalog: Path, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(catalog) as conn:
            if conn.execute("SELECT count(*) FROM pending_schema_changes").fetchone()[0]:
                return True
        time.sleep(0.002)
    return False


@pytest.mark.asyncio
async def test_killing_the_server_mid_rebuild_loses_nothing(tmp_path):
    rows = 300_000
    await _table_with_rows(tmp_path, rows)
    with live_server(tmp_path) as server:
        base, token = server.base, server.token
        request = threading.Thread(
            target=_put_quietly,
            args=(base + BASE, {"json_schema": AS_NUMBER}, token),
            daemon=True,
        )
        request.start()
        assert _wait_for_pending_change(tmp_path / "catalog.db"), "the change never started"
        server.kill()  # the rebuild of 300k rows is under way
    version, count = await _agreement(tmp_path)
    assert version in (1, 2)
    assert count == rows
