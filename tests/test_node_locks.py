"""Several nodes on one Postgres catalog: schema changes are serialized across nodes, and a
change a dead node left in flight is recovered by one live node, once.

Two ``Datasette`` instances with the same configuration in one process are two nodes of one
catalog: they share nothing but PostgreSQL."""

from __future__ import annotations

import asyncio
import json

import psycopg
import pytest
import pytest_asyncio
from conftest import close_data_service, create_app, create_datasource, make_datasette, path_of

from datasette_dataservice.catalog import history
from datasette_dataservice.catalog.postgres_locks import lock_name
from datasette_dataservice.service.core import service_for
from datasette_dataservice.service.datatables import table_spec
from datasette_dataservice.service.migrations import work_out_change
from datasette_dataservice.service.schema_lock import KIND
from datasette_dataservice.service.sweeper import Sweeper

SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "score", "type": "integer"},
    ],
    "primaryKey": ["id"],
}
AS_NUMBER = {**SCHEMA, "fields": [SCHEMA["fields"][0], {"name": "score", "type": "number"}]}
BASE = "/-/apps/a/datasources/d/datatables/t"


def with_field(name: str) -> dict:
    return {**SCHEMA, "fields": [*SCHEMA["fields"], {"name": name, "type": "string"}]}


class Node:
    """One Datasette of the cluster, with its own token (each node has its own secret)."""

    def __init__(self, ds, headers):
        self.ds = ds
        self.headers = headers
        self.service = service_for(ds)

    async def put(self, schema: dict, if_match: str | None = None):
        headers = dict(self.headers)
        if if_match is not None:
            headers["If-Match"] = f'"{if_match}"'
        return await self.ds.client.put(BASE, json={"json_schema": schema}, headers=headers)

    async def datatable(self) -> dict:
        return await self.service.datatable("", "a", "d", "t")


@pytest_asyncio.fixture
async def cluster(tmp_path, postgres_config):
    """Two nodes on one Postgres catalog, and a datatable with 200 rows made on the first."""
    nodes = []
    for name in ("one", "two"):
        ds = make_datasette(
            tmp_path / name, postgres=postgres_config, catalog={"engine": "postgres"}
        )
        await ds.invoke_startup()
        nodes.append(Node(ds, {"Authorization": f"Bearer {await ds.create_token('root')}"}))
    first = nodes[0]
    await create_app(first.ds, first.headers, name="a")
    await create_datasource(first.ds, first.headers, "a", slug="d")
    response = await first.ds.client.post(
        "/-/apps/a/datasources/d/datatables",
        json={"name": "t", "json_schema": SCHEMA},
        headers=first.headers,
    )
    assert response.status_code == 201, response.text
    insert = await first.ds.client.post(
        path_of(response.json()["insert_url"]),
        json={"rows": [{"id": i, "score": i * 7} for i in range(1, 201)]},
        headers=first.headers,
    )
    assert insert.status_code in (200, 201), insert.text
    for node in nodes:  # the tests sweep when they mean to (one test lets them run)
        await node.service.sweeper.stop()
    try:
        yield nodes
    finally:
        for node in nodes:
            await close_data_service(node.ds)


def catalog_rows(postgres_config, sql: str, params=()) -> list[tuple]:
    schema = postgres_config["main"]["schema_prefix"] + "dataservice_catalog"
    with psycopg.connect(postgres_config["main"]["dsn"]) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        return conn.execute(sql, params).fetchall()


def operations(postgres_config, datatable_id: int) -> list[tuple[str, str, dict, dict]]:
    """(operation, status, schema before, schema after) of the datatable's audit entries."""
    rows = catalog_rows(
        postgres_config,
        "SELECT operation, status, schema_before, schema_after FROM schema_operations"
        " WHERE datatable_id = %s ORDER BY id",
        (datatable_id,),
    )
    return [(o, s, json.loads(b or "null"), json.loads(a or "null")) for o, s, b, a in rows]


async def table_columns(node: Node) -> list[str]:
    """The physical table's columns, from PostgreSQL's information_schema."""
    datatable = await node.datatable()
    target = node.service.provider_for(datatable).target
    async with target.connect() as conn:
        cursor = await conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            (target.schema, datatable["physical_table_name"]),
        )
        return [name for (name,) in await cursor.fetchall()]


async def agree(node: Node) -> dict:
    """Catalog and table agree, and nothing is in flight; the datatable."""
    assert await node.service.read(history.pending_changes) == []
    datatable = await node.datatable()
    provider = node.service.provider_for(datatable)
    assert await provider.has_schema(table_spec(datatable), rebuilt=True)
    return datatable


# Schema changes, serialized across nodes ---------------------------------------------------


@pytest.mark.asyncio
async def test_of_two_changes_sent_to_two_nodes_one_applies_and_the_other_gets_412(
    cluster, postgres_config
):
    one, two = cluster
    for round_number in range(3):  # each round both nodes send a change read at one version
        before = await one.datatable()
        schemas = {
            "one": with_field(f"from_one_{round_number}"),
            "two": with_field(f"from_two_{round_number}"),
        }
        responses = await asyncio.gather(
            one.put(schemas["one"], if_match=before["schema_hash"]),
            two.put(schemas["two"], if_match=before["schema_hash"]),
        )
        statuses = [r.status_code for r in responses]
        assert sorted(statuses) == [200, 412], [r.text for r in responses]
        winner = "one" if statuses[0] == 200 else "two"
        assert "is not the current schema" in responses[statuses.index(412)].json()["error"]
        after = await agree(two)
        assert after["schema_version"] == before["schema_version"] + 1
        assert json.loads(after["json_schema"]) == schemas[winner]
        # none of the loser's DDL ran: the table has the winner's columns, no other
        assert await table_columns(one) == [f["name"] for f in schemas[winner]["fields"]]
        applied = [
            entry
            for entry in operations(postgres_config, before["id"])
            if entry[0] == "change_schema"
        ]
        assert len(applied) == round_number + 1
        assert applied[-1][1:] == ("applied", json.loads(before["json_schema"]), schemas[winner])


@pytest.mark.asyncio
async def test_changes_without_if_match_apply_one_after_the_other(cluster, postgres_config):
    one, two = cluster
    before = await one.datatable()
    first, second = with_field("first"), with_field("second")
    responses = await asyncio.gather(one.put(first), two.put(second))
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    after = await agree(one)
    assert after["schema_version"] == before["schema_version"] + 2
    entries = [e for e in operations(postgres_config, before["id"]) if e[0] == "change_schema"]
    assert [status for _, status, _, _ in entries] == ["applied", "applied"]
    # never interleaved: the second change started from the schema the first one left
    (_, _, before_a, after_a), (_, _, before_b, after_b) = entries
    assert before_a == SCHEMA and before_b == after_a
    assert json.loads(after["json_schema"]) == after_b
    assert await table_columns(two) == [f["name"] for f in after_b["fields"]]
    versions = catalog_rows(
        postgres_config,
        "SELECT version, json_schema FROM schema_versions WHERE datatable_id = %s ORDER BY 1",
        (before["id"],),
    )
    assert [(v, json.loads(s)) for v, s in versions] == [(1, SCHEMA), (2, after_a), (3, after_b)]


@pytest.mark.asyncio
async def test_a_node_waiting_for_the_lock_holds_no_connection_and_can_be_cancelled(cluster):
    one, two = cluster
    datatable_id = (await one.datatable())["id"]
    async with one.service.schema_lock(datatable_id):
        waiting = asyncio.ensure_future(two.put(with_field("late")))
        for _ in range(3000):  # until node two waits in PostgreSQL (30 s at most)
            if await _lock_is_awaited(two, datatable_id):
                break
            await asyncio.sleep(0.01)
        assert await _lock_is_awaited(two, datatable_id), "node two never waited for the lock"
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    # the cancelled wait left no lock behind: the other node changes the schema at once
    response = await two.put(with_field("now"))
    assert response.status_code == 200, response.text
    assert (await agree(one))["schema_version"] == 2


async def _lock_is_awaited(node: Node, datatable_id: int) -> bool:
    name = lock_name(node.service.catalog.schema, KIND, datatable_id)
    rows = await node.service.read(
        lambda conn: conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND ((classid::bigint << 32) | objid::bigint) = hashtextextended(?, 0)",
            (name,),
        ).fetchall()
    )
    return rows[0][0] > 0


# Recovery by any node, once ----------------------------------------------------------------


async def _leave_in_flight(node: Node, *, table_changed: bool) -> int:
    """What a node killed mid-change leaves: a pending row and the table old or new. Written
    while it holds the datatable's lock, as a change does."""
    service = node.service
    datatable = await node.datatable()
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
                        "datatable_id": datatable["id"],
                        "details": change.as_dict(),
                    }
                ),
            },
        )
    )
    if table_changed:
        await service.provider_for(datatable).migrate(change.old, change.new, change.plan)
    return datatable["id"]


def _kill_lock_holder(postgres_config, node: Node, datatable_id: int) -> None:
    """The node dies: PostgreSQL ends the session holding its lock (and so releases it)."""
    name = lock_name(node.service.catalog.schema, KIND, datatable_id)
    with psycopg.connect(postgres_config["main"]["dsn"], autocommit=True) as conn:
        (pid,) = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND ((classid::bigint << 32) | objid::bigint) = hashtextextended(%s, 0)",
            (name,),
        ).fetchone()
        conn.execute("SELECT pg_terminate_backend(%s, 30000)", (pid,))  # waits for its end


def _recoveries(postgres_config, datatable_id: int) -> list[tuple[str, str]]:
    return [
        (operation, status)
        for operation, status, _, _ in operations(postgres_config, datatable_id)
        if operation == "recover_schema_change"
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("table_changed", [True, False], ids=["completed", "rolled-back"])
async def test_a_dead_nodes_change_is_recovered_by_one_live_node(
    tmp_path, postgres_config, cluster, table_changed
):
    one, two = cluster
    dead_ds = make_datasette(
        tmp_path / "dead", postgres=postgres_config, catalog={"engine": "postgres"}
    )
    await dead_ds.invoke_startup()
    dead = Node(dead_ds, {})
    await dead.service.sweeper.stop()
    try:
        datatable_id = (await one.datatable())["id"]
        lock = dead.service.schema_lock(datatable_id)
        await lock.__aenter__()
        await _leave_in_flight(dead, table_changed=table_changed)
        # alive, it is left alone by both live nodes
        assert await asyncio.gather(one.service.sweeper.sweep(), two.service.sweeper.sweep()) == [
            [],
            [],
        ]
        assert len(await one.service.read(history.pending_changes)) == 1
        _kill_lock_holder(postgres_config, dead, datatable_id)
        # dead, it is recovered by one of them: both sweep at once
        done = await asyncio.gather(one.service.sweeper.sweep(), two.service.sweeper.sweep())
        assert sorted(len(d) for d in done) == [0, 1], done
        outcome = "completed" if table_changed else "rolled back"
        assert [d for d in done if d] == [[f"a/d/t: {outcome}"]]
        await lock.__aexit__(None, None, None)  # what the dead node did not get to do
    finally:
        await close_data_service(dead_ds)
    expected = "applied" if table_changed else "failed"
    assert _recoveries(postgres_config, datatable_id) == [("recover_schema_change", expected)]
    for node in (one, two):
        datatable = await agree(node)
        assert datatable["schema_version"] == (2 if table_changed else 1)
    assert await table_columns(one) == ["id", "score"]


@pytest.mark.asyncio
async def test_the_sweeper_runs_by_itself_on_every_node(postgres_config, cluster):
    one, two = cluster
    for node in (one, two):
        node.service.sweeper = Sweeper(node.service, interval=0.05)
        node.service.sweeper.start()
    datatable_id = (await one.datatable())["id"]
    # a change left in flight; the node's lock goes as a dead node's connection would
    async with one.service.schema_lock(datatable_id):
        await _leave_in_flight(one, table_changed=True)
    for _ in range(600):  # a sweep every 50 ms: within 30 s on the slowest machine
        if not await one.service.read(history.pending_changes):
            break
        await asyncio.sleep(0.05)
    assert _recoveries(postgres_config, datatable_id) == [("recover_schema_change", "applied")]
    assert (await agree(two))["schema_version"] == 2


@pytest.mark.asyncio
async def test_a_change_running_on_a_live_node_is_never_swept(cluster, postgres_config):
    """Node two sweeps over and over while node one changes the schema of 20,000 rows: it
    sees the change in flight and leaves it to the node running it."""
    one, two = cluster
    datatable = await one.datatable()
    target = one.service.provider_for(datatable).target
    async with target.connect() as conn:
        await conn.execute(
            f'INSERT INTO "{target.schema}"."{datatable["physical_table_name"]}" (id, score)'
            " SELECT g, g FROM generate_series(1000, 20999) AS g"
        )
    change = asyncio.ensure_future(one.put(AS_NUMBER))
    seen_in_flight = 0
    while not change.done():
        if await two.service.read(history.pending_changes):
            seen_in_flight += 1
        assert await two.service.sweeper.sweep() == []
        await asyncio.sleep(0)
    assert (await change).status_code == 200, (await change).text
    assert seen_in_flight > 0, "the change was never seen in flight: make it longer"
    assert _recoveries(postgres_config, datatable["id"]) == []
    assert (await agree(two))["schema_version"] == 2


@pytest.mark.asyncio
async def test_a_sqlite_catalog_has_no_sweeper(tmp_path):
    ds = make_datasette(tmp_path / "data")
    await ds.invoke_startup()
    try:
        assert service_for(ds).sweeper is None
    finally:
        await close_data_service(ds)
