"""A node killed with SIGKILL in the middle of a schema change over a million rows, or of an
import, is recovered by a node that lives on (issue 15): once, with the catalog, the table
and the audit trail agreeing afterwards."""

from __future__ import annotations

import threading
import uuid

import httpx
import psycopg
import pytest
from conftest import RUN_PREFIX
from nodes import eventually, new_datatable, nodes
from psycopg.conninfo import make_conninfo

ROWS = 1_000_000
BASE = "/-/apps/{app}/datasources/stock/datatables/items"


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"{RUN_PREFIX}r{uuid.uuid4().hex[:4]}_"


@pytest.fixture(scope="module")
def cluster(postgres_dsn, prefix, tmp_path_factory):
    config = {
        "postgres": {"main": {"dsn": postgres_dsn, "schema_prefix": prefix}},
        "rate_limits": False,
    }
    with nodes(
        2,
        config,
        catalog={"engine": "postgres", "connection": "main"},
        directory=tmp_path_factory.mktemp("recovery"),
        balancer=False,
    ) as cluster:
        yield cluster


@pytest.fixture
def catalog(postgres_dsn, prefix):
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{prefix}dataservice_catalog"')
        yield conn


def csv_rows(count: int) -> bytes:
    lines = ["id,name,n"] + [f"{i},row {i},{i % 1000}" for i in range(count)]
    return ("\n".join(lines) + "\n").encode()


def in_background(request) -> list:
    """Send ``request()`` on a thread; the node it goes to may die under it. The list gets
    the answer if one comes."""
    answers = []

    def send():
        try:
            answers.append(request())
        except httpx.HTTPError:
            pass  # the node was killed: no answer comes

    threading.Thread(target=send, daemon=True).start()
    return answers


def data_connection(postgres_dsn: str, node, app: str) -> psycopg.Connection:
    """A connection to the datasource's own database (its datatables' tables)."""
    datasource = node.get(f"/-/apps/{app}/datasources/stock.json", actor="root").json()
    database = datasource["provider_config"]["database"]
    return psycopg.connect(make_conninfo(postgres_dsn, dbname=database))


def column_type(postgres_dsn: str, node, app: str, datatable: dict, column: str) -> str:
    with data_connection(postgres_dsn, node, app) as conn:
        row = conn.execute(
            "SELECT data_type FROM information_schema.columns"
            " WHERE table_name = %s AND column_name = %s",
            (datatable["physical_table_name"], column),
        ).fetchone()
    return row[0]


def row_count(postgres_dsn: str, node, app: str, datatable: dict) -> int:
    """Counted in the database (the table page stops counting at 10,000)."""
    with data_connection(postgres_dsn, node, app) as conn:
        schema = conn.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = %s",
            (datatable["physical_table_name"],),
        ).fetchone()[0]
        table = f'"{schema}"."{datatable["physical_table_name"]}"'
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def operations(catalog, datatable_id: int, operation: str) -> list[tuple]:
    return catalog.execute(
        "SELECT status, error FROM schema_operations"
        " WHERE datatable_id = %s AND operation = %s ORDER BY id",
        (datatable_id, operation),
    ).fetchall()


def test_a_node_killed_during_a_schema_change_over_a_million_rows(cluster, catalog, postgres_dsn):
    a, b = cluster.node(0), cluster.node(1)
    app = "rebuilt"
    datatable = new_datatable(a, app)
    base = BASE.format(app=app)
    loaded = a.post(base + "/import", content=csv_rows(ROWS), headers={"Content-Type": "text/csv"},
                    actor="root")  # fmt: skip
    assert loaded.status_code == 201, loaded.text
    assert loaded.json()["rows_written"] == ROWS
    schema = a.get(base + ".json", actor="root").json()
    changed = {**schema["json_schema"]}
    changed["fields"] = [
        {**f, "type": "number"} if f["name"] == "n" else f for f in changed["fields"]
    ]
    answers = in_background(lambda: a.put(base, json={"json_schema": changed}, actor="root"))

    def pending():
        return catalog.execute(
            "SELECT 1 FROM pending_schema_changes WHERE datatable_id = %s", (datatable["id"],)
        ).fetchone()

    assert eventually(lambda: pending() or answers, 120) and not answers, answers[0].text[:300]
    a.kill()

    assert eventually(lambda: not pending(), 60), "no node recovered the change"
    version = b.get(base + ".json", actor="root").json()
    assert operations(catalog, datatable["id"], "change_schema") == []  # the node died first
    recorded = operations(catalog, datatable["id"], "recover_schema_change")
    assert len(recorded) == 1, recorded  # recovered once, by the node that lives on
    status, error = recorded[0]
    kind = column_type(postgres_dsn, b, app, datatable, "n")
    if status == "applied":  # the DDL had committed before the node died
        assert version["schema_version"] == schema["schema_version"] + 1
        assert kind == "numeric"
    else:
        assert status == "failed" and "rolled back" in error, recorded
        assert version["schema_version"] == schema["schema_version"]
        assert kind == "bigint"
    assert row_count(postgres_dsn, b, app, datatable) == ROWS  # no row lost or doubled

    a.restart()  # its own start-up recovery finds nothing left to do
    assert operations(catalog, datatable["id"], "recover_schema_change") == recorded
