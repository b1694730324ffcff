"""Import progress lives in the catalog: any node answers for an import, and an import whose
node stopped is marked failed once, by whichever node looks first."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading

import httpx
import pytest
from conftest import (
    close_data_service,
    create_app,
    create_datasource,
    create_datatable,
    make_datasette,
)
from live_server import live_server

from datasette_dataservice.catalog import imports
from datasette_dataservice.catalog.postgres_locks import SessionLock, import_lock
from datasette_dataservice.catalog.store import utc_now
from datasette_dataservice.service.core import service_for
from datasette_dataservice.service.import_recovery import STOPPED, recover_interrupted_imports
from datasette_dataservice.service.importer import import_rows

SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "name", "type": "string"},
    ],
    "primaryKey": ["id"],
}
DATATABLE = "/-/apps/shop/datasources/stock/datatables/items"
WAIT_SECONDS = 30  # how long a test waits for what must happen before it fails


async def start(tmp_path, postgres_config, catalog: str, name: str = "data"):
    extra = {"catalog": {"engine": catalog, "connection": "main"}} if catalog == "postgres" else {}
    ds = make_datasette(tmp_path / name, postgres=postgres_config, **extra)
    await ds.invoke_startup()
    return ds


async def headers(ds) -> dict:
    return {"Authorization": f"Bearer {await ds.create_token('root')}"}


async def create_items(ds) -> dict:
    """The datatable shop/stock/items, as the catalog has it."""
    root = await headers(ds)
    await create_app(ds, root, name="Shop")
    await create_datasource(ds, root, "shop", slug="stock")
    await create_datatable(ds, root, "shop", "stock", "items", SCHEMA)
    return await service_for(ds).datatable("", "shop", "stock", "items")


async def status_of(ds, import_id: str):
    return await ds.client.get(f"{DATATABLE}/imports/{import_id}.json", headers=await headers(ds))


async def wait_for(check, what: str):
    """Poll ``check()`` until it gives something true; fail after WAIT_SECONDS."""
    for _ in range(WAIT_SECONDS * 20):
        if result := await check():
            return result
        await asyncio.sleep(0.05)
    pytest.fail(f"still waiting for {what}")


class HeldUpload:
    """An NDJSON upload whose first rows arrive at once and whose last wait for
    ``release()`` (NDJSON: CSV is read in blocks larger than these rows)."""

    def __init__(self):
        self.released = asyncio.Event()
        self.task: asyncio.Task | None = None

    def release(self) -> None:
        self.released.set()

    async def __call__(self):
        for i in range(1, 7):
            if i == 5:
                await self.released.wait()
            yield b'{"id": %d, "name": "item %d"}\n' % (i, i)


def start_import(ds, datatable, upload: HeldUpload) -> asyncio.Task:
    upload.task = asyncio.create_task(
        import_rows(service_for(ds), datatable, upload(), format="ndjson", actor="t", batch_size=2)
    )
    return upload.task


async def finish(upload: HeldUpload) -> None:
    """Let a held import end (a failed test must not leave its transaction open)."""
    upload.release()
    if upload.task is not None:
        await asyncio.gather(upload.task, return_exceptions=True)


async def running_import_id(ds) -> str:
    async def found():
        return next(iter(service_for(ds).imports), (None, None))[1]

    return await wait_for(found, "the import to start")


async def running_progress(ds, import_id: str) -> dict:
    """The import's status as ``ds`` answers it, once it shows rows read."""

    async def read():
        body = (await status_of(ds, import_id)).json()
        return body if body.get("rows_read") else None

    return await wait_for(read, "progress to show")


async def insert_running(ds, datatable: dict, import_id: str) -> None:
    """A catalog row as a node that died mid-import leaves it."""
    row = {
        "id": import_id,
        "datatable_id": datatable["id"],
        "datatable": "shop/stock/items",
        "format": "csv",
        "mode": "insert",
        "state": "running",
        "rows_read": 10,
        "rows_written": 8,
        "rows_invalid": 0,
        "rows_discarded": 0,
        "errors": [],
        "actor": "t",
        "node": "gone:1",
        "started_at": utc_now(),
    }
    await service_for(ds).write(lambda conn: imports.insert_import(conn, row))


async def recoveries(ds) -> list[dict]:
    return await service_for(ds).read(
        lambda conn: [
            dict(zip(("target", "error", "details"), row, strict=True))
            for row in conn.execute(
                "SELECT target, error, details FROM schema_operations"
                " WHERE operation = 'recover_import' ORDER BY id"
            ).fetchall()
        ]
    )


# Progress any node can read -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_another_node_reads_the_progress_and_the_outcome(tmp_path, postgres_config):
    first = await start(tmp_path, postgres_config, "postgres", "first")
    second = await start(tmp_path, postgres_config, "postgres", "second")
    upload = HeldUpload()
    try:
        datatable = await create_items(first)
        running = start_import(first, datatable, upload)
        import_id = await running_import_id(first)
        progress = await running_progress(second, import_id)
        assert progress["state"] == "running"
        assert progress["id"] == import_id and progress["datatable"] == "shop/stock/items"
        assert 2 <= progress["rows_read"] <= 4 and progress["finished_at"] is None
        assert not service_for(second).imports  # second answered from the catalog
        upload.release()
        status = await running
        assert (status.state, status.rows_written) == ("done", 6)
        for node in (first, second):
            response = await status_of(node, import_id)
            assert response.status_code == 200
            assert response.json() == {"ok": True, **status.as_dict()}
        assert not service_for(first).imports  # over: the catalog answers for it
    finally:
        await finish(upload)
        await close_data_service(first)
        await close_data_service(second)


@pytest.mark.asyncio
async def test_the_sqlite_catalog_keeps_the_outcome_across_a_restart(tmp_path):
    ds = await start(tmp_path, None, "sqlite")
    upload = HeldUpload()
    try:
        datatable = await create_items(ds)
        running = start_import(ds, datatable, upload)
        import_id = await running_import_id(ds)
        assert (await running_progress(ds, import_id))["state"] == "running"
        stored = await service_for(ds).read(imports.get_import, datatable["id"], import_id)
        assert stored["state"] == "running"
        upload.release()
        status = await running
        assert status.state == "done"
    finally:
        await finish(upload)
        await close_data_service(ds)
    ds = await start(tmp_path, None, "sqlite")
    try:
        assert (await status_of(ds, import_id)).json() == {"ok": True, **status.as_dict()}
    finally:
        await close_data_service(ds)


@pytest.mark.asyncio
async def test_a_refused_import_keeps_its_report_in_the_catalog(tmp_path):
    ds = await start(tmp_path, None, "sqlite")
    try:
        datatable = await create_items(ds)
        upload = b"id,name\n1,a\nx,b\n"

        async def chunks():
            yield upload

        status = await import_rows(service_for(ds), datatable, chunks(), format="csv", actor="t")
        assert status.state == "refused" and status.errors
        answer = (await status_of(ds, status.id)).json()
        assert answer == {"ok": True, **status.as_dict()}
        assert answer["report"]["errors"][0]["rowNumber"] == 3
    finally:
        await close_data_service(ds)


@pytest.mark.asyncio
async def test_an_import_that_raises_is_recorded_as_failed(tmp_path, monkeypatch):
    ds = await start(tmp_path, None, "sqlite")
    try:
        datatable = await create_items(ds)
        service = service_for(ds)

        class Broken:
            async def import_batches(self, *args):
                raise RuntimeError("the disk is on fire")

        monkeypatch.setattr(service, "provider_for", lambda datatable: Broken())

        async def chunks():
            yield b"id,name\n1,a\n"

        with pytest.raises(RuntimeError):
            await import_rows(service, datatable, chunks(), format="csv", actor="t")
        (row,) = await service.read(lambda conn: conn.execute("SELECT id FROM imports").fetchall())
        answer = (await status_of(ds, row[0])).json()
        assert answer["state"] == "failed"
        assert answer["error"].startswith("the import stopped before it finished")
        assert "the disk is on fire" in answer["error"]
        assert not service.imports
        assert await recover_interrupted_imports(service) == []  # nothing left to recover
    finally:
        await close_data_service(ds)


# Recovery -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_dead_nodes_imports_are_marked_failed_once(tmp_path, postgres_config):
    nodes = [await start(tmp_path, postgres_config, "postgres", f"n{i}") for i in range(3)]
    try:
        datatable = await create_items(nodes[0])
        dead = [f"dead{i:012d}" for i in range(6)]
        for import_id in dead:
            await insert_running(nodes[0], datatable, import_id)
        outcomes = await asyncio.gather(
            *(recover_interrupted_imports(service_for(n)) for n in nodes)
        )
        marked = sorted(outcome for outcomes_of_node in outcomes for outcome in outcomes_of_node)
        assert marked == sorted(f"shop/stock/items: import {i} failed" for i in dead)
        logged = await recoveries(nodes[1])
        assert sorted(json.loads(r["details"])["id"] for r in logged) == dead
        assert {(r["target"], r["error"]) for r in logged} == {("shop/stock/items", STOPPED)}
        answer = (await status_of(nodes[2], dead[0])).json()
        assert (answer["state"], answer["error"]) == ("failed", STOPPED)
        assert (answer["rows_read"], answer["rows_written"], answer["rows_discarded"]) == (
            10,
            0,
            10,
        )
        assert answer["finished_at"] is not None
        assert await recover_interrupted_imports(service_for(nodes[0])) == []
        assert len(await recoveries(nodes[0])) == len(dead)
    finally:
        for node in nodes:
            await close_data_service(node)


@pytest.mark.asyncio
async def test_a_live_nodes_import_is_left_alone(tmp_path, postgres_config):
    first = await start(tmp_path, postgres_config, "postgres", "first")
    second = await start(tmp_path, postgres_config, "postgres", "second")
    upload = HeldUpload()
    try:
        datatable = await create_items(first)
        # An import running on first, and one whose node (another process) holds its lock.
        running = start_import(first, datatable, upload)
        import_id = await running_import_id(first)
        await insert_running(first, datatable, "elsewhere0000001")
        catalog = service_for(first).catalog
        held = await asyncio.to_thread(
            SessionLock.acquire, catalog.dsn, catalog.schema, import_lock("elsewhere0000001")
        )
        try:
            for node in (second, first):
                assert await recover_interrupted_imports(service_for(node)) == []
            for each in (import_id, "elsewhere0000001"):
                assert (await status_of(second, each)).json()["state"] == "running"
        finally:
            await asyncio.to_thread(held.release)  # as that node's death would
        upload.release()
        assert (await running).state == "done"
        outcomes = await recover_interrupted_imports(service_for(second))
        assert outcomes == ["shop/stock/items: import elsewhere0000001 failed"]
        assert (await status_of(first, import_id)).json()["state"] == "done"
        assert len(await recoveries(first)) == 1
    finally:
        await finish(upload)
        await close_data_service(first)
        await close_data_service(second)


@pytest.mark.asyncio
async def test_sqlite_start_up_marks_stale_running_imports_failed(tmp_path):
    ds = await start(tmp_path, None, "sqlite")
    upload = HeldUpload()
    try:
        datatable = await create_items(ds)
        await insert_running(ds, datatable, "stale00000000001")
        # While this process runs, its own running import is not stale.
        running = start_import(ds, datatable, upload)
        own = await running_import_id(ds)
        recovered = await recover_interrupted_imports(service_for(ds))
        assert recovered == ["shop/stock/items: import stale00000000001 failed"]
        assert (await status_of(ds, own)).json()["state"] == "running"
        upload.release()
        assert (await running).state == "done"
        await insert_running(ds, datatable, "stale00000000002")
    finally:
        await finish(upload)
        await close_data_service(ds)
    for _ in range(2):  # restarted twice: marked once
        ds = await start(tmp_path, None, "sqlite")
        try:
            answer = (await status_of(ds, "stale00000000002")).json()
            assert (answer["state"], answer["error"]) == ("failed", STOPPED)
            assert (await status_of(ds, own)).json()["state"] == "done"
            logged = await recoveries(ds)
            assert [json.loads(r["details"])["id"] for r in logged] == [
                "stale00000000001",
                "stale00000000002",
            ]
        finally:
            await close_data_service(ds)


@pytest.mark.asyncio
async def test_a_node_killed_mid_import_is_recovered_by_another(tmp_path, postgres_config):
    """kill -9 of a real `datasette serve` holding an import open: its rows never land, its
    lock goes with its sessions, and the node left standing marks the import failed."""
    main = postgres_config["main"]
    first = await start(tmp_path, postgres_config, "postgres", "first")
    released = threading.Event()

    def upload():
        for i in range(1, 5):
            yield b'{"id": %d, "name": "item %d"}\n' % (i, i)
        released.wait(WAIT_SECONDS)

    def post(server) -> None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(
                f"{server.base}{DATATABLE}/import?format=ndjson&batch_size=2",
                content=upload(),
                headers=server.headers,
                timeout=WAIT_SECONDS,
            )

    try:
        await create_items(first)
        service = service_for(first)
        settings = [
            ("rate_limits.enabled", "false"),
            ("postgres.main.dsn", main["dsn"]),
            ("postgres.main.schema_prefix", main["schema_prefix"]),
            ("catalog.engine", "postgres"),
            ("catalog.connection", "main"),
        ]
        with live_server(tmp_path / "victim", *settings) as server:
            threading.Thread(target=post, args=(server,), daemon=True).start()

            async def started():
                running = await service.read(imports.running_imports)
                return running if running and running[0]["rows_read"] else None

            (row,) = await wait_for(started, "the import to start")
            assert await recover_interrupted_imports(service) == []  # its node is alive
            server.kill()

            async def recovered():  # PostgreSQL ends the dead node's sessions on its own time;
                # then this node's sweeper or this call, whichever comes first, recovers it
                await recover_interrupted_imports(service)
                answer = (await status_of(first, row["id"])).json()
                return answer["state"] != "running"

            await wait_for(recovered, "the recovery")
        answer = (await status_of(first, row["id"])).json()
        assert (answer["state"], answer["error"], answer["rows_written"]) == ("failed", STOPPED, 0)
        rows = await first.client.get(DATATABLE + "/data.csv", headers=await headers(first))
        assert rows.status_code == 200, rows.text
        assert rows.text.split() == ["id,name"]  # the header alone: no row landed
        assert len(await recoveries(first)) == 1
    finally:
        released.set()
        await close_data_service(first)
