"""Stateless nodes on one PostgreSQL catalog (issue 15): real ``datasette serve`` processes,
haproxy in front, the tests' PostgreSQL and Redis behind.

What one node does, the others serve: created, changed, deleted and restored datasources and
datatables, rows written anywhere, schema changes serialised across nodes, and a node killed
mid-change or mid-import recovered by another, once.
"""

from __future__ import annotations

import concurrent.futures
import json
import threading
import time
import uuid

import psycopg
import pytest
import yaml
from conftest import RUN_PREFIX
from nodes import EXAMPLES, SCHEMA, eventually, new_datatable, nodes, path
from psycopg.conninfo import make_conninfo

from datasette_dataservice.providers.postgres_isolation import reader_role


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"{RUN_PREFIX}n{uuid.uuid4().hex[:4]}_"


@pytest.fixture(scope="module")
def cluster(postgres_dsn, redis_url, prefix, tmp_path_factory):
    config = {
        "postgres": {"main": {"dsn": postgres_dsn, "schema_prefix": prefix}},
        "rate_limits": {"storage": redis_url, "default": "100000/minute", "write": "100000/minute"},
    }
    with nodes(
        2,
        config,
        catalog={"engine": "postgres", "connection": "main"},
        directory=tmp_path_factory.mktemp("shared"),
    ) as cluster:
        yield cluster


@pytest.fixture
def catalog(postgres_dsn, prefix):
    """A connection to the shared catalog's schema, to check what the nodes recorded."""
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{prefix}dataservice_catalog"')
        yield conn


def test_made_on_one_node_read_and_written_on_the_other(cluster):
    a, b = cluster.node(0), cluster.node(1)
    datatable = new_datatable(a, "made-on-a")
    base = "/-/apps/made-on-a/datasources/stock/datatables/items"
    assert b.get(base + ".json", actor="root").json()["json_schema"] == SCHEMA
    table = path(datatable["table_url"]) + ".json?_shape=objects"

    def inserted_on_b():
        response = b.post(path(datatable["insert_url"]), json={"rows": [{"id": 1}]}, actor="root")
        return response if response.status_code == 201 else None

    assert eventually(inserted_on_b) is not None
    assert [row["id"] for row in a.get(table, actor="root").json()["rows"]] == [1]

    changed = {**SCHEMA, "fields": [*SCHEMA["fields"], {"name": "size", "type": "number"}]}
    assert b.put(base, json={"json_schema": changed}, actor="root").status_code == 200
    assert eventually(lambda: "size" in a.get(table, actor="root").json()["rows"][0])

    assert a.delete("/-/apps/made-on-a/datasources/stock", actor="root").status_code == 200
    assert eventually(lambda: b.get(table, actor="root").status_code == 404)
    restored = b.post("/-/apps/made-on-a/datasources/stock/restore", actor="root")
    assert restored.status_code == 200, restored.text
    assert eventually(lambda: a.get(table, actor="root").status_code == 200)


def test_every_request_through_the_balancer_is_served(cluster):
    balancer = cluster.balancer
    datatable = new_datatable(balancer, "balanced")
    insert = path(datatable["insert_url"])
    table = path(datatable["table_url"]) + ".json?_shape=objects&_size=max"
    time.sleep(0.5)  # the other node hears of the new datasource
    for i in range(10):
        response = balancer.post(insert, json={"rows": [{"id": i, "name": f"r{i}"}]}, actor="root")
        assert response.status_code == 201, response.text
    answers = [balancer.get(table, actor="root") for _ in range(6)]
    assert {len(answer.json()["rows"]) for answer in answers} == {10}
    assert all(count > 0 for count in cluster.served("/balanced")), cluster.served("/balanced")


def test_a_sqlite_datasource_is_refused_on_a_shared_catalog(cluster):
    assert cluster.node(0).post("/-/apps", json={"name": "local"}, actor="root").status_code == 201
    refused = cluster.node(0).post(
        "/-/apps/local/datasources",
        json={
            "name": "files",
            "provider_type": "flat_table",
            "provider_config": {"engine": "sqlite"},
        },
        actor="root",
    )
    assert refused.status_code == 400
    assert "keeps data in one node's data directory" in refused.json()["error"]


def test_the_readme_example_runs_as_written(postgres_dsn, monkeypatch, tmp_path):
    """docs/examples/nodes/: two nodes from its datasette.yml (DATASERVICE_DSN naming a
    database of this run's), haproxy from its haproxy.cfg (tests/nodes.py uses it as it is)."""
    example = yaml.safe_load((EXAMPLES / "datasette.yml").read_text())
    database = f"{RUN_PREFIX}readme"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    dsn = make_conninfo(postgres_dsn, dbname=database)
    monkeypatch.setenv("DATASERVICE_DSN", dsn)
    try:
        with nodes(
            2,
            example["plugins"]["datasette-dataservice"],
            directory=tmp_path,
            datasette_config={"permissions": example["permissions"]},
        ) as cluster:
            datatable = new_datatable(cluster.balancer, "readme")
            time.sleep(0.5)  # the other node hears of the new datasource
            for i in range(4):
                inserted = cluster.balancer.post(
                    path(datatable["insert_url"]), json={"rows": [{"id": i}]}, actor="root"
                )
                assert inserted.status_code == 201, inserted.text
            assert all(count > 0 for count in cluster.served("/readme")), cluster.served("/readme")
    finally:
        _drop_datasource_databases(dsn)


def _drop_datasource_databases(dsn: str) -> None:
    """The example names datasource databases without this run's prefix: drop them here."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT provider_config FROM dataservice_catalog.datasources")
        names = [json.loads(config)["database"] for (config,) in rows]
    with psycopg.connect(make_conninfo(dsn, dbname="postgres"), autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            role = reader_role(name)
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                conn.execute(f'DROP OWNED BY "{role}" CASCADE')
                conn.execute(f'DROP ROLE "{role}"')


def test_tenancy_holds_alike_on_every_node(postgres_dsn, prefix, tmp_path):
    """Hosts name tenants the same way on every node: what acme made on one node is acme's
    on the other, and globex sees none of it anywhere."""
    config = {
        "postgres": {"main": {"dsn": postgres_dsn, "schema_prefix": prefix + "t_"}},
        "rate_limits": False,
        "tenancy": {"mode": "hosts", "hosts": {"acme.test": "acme", "globex.test": "globex"}},
    }
    catalog = {"engine": "postgres", "connection": "main"}
    with nodes(2, config, catalog=catalog, directory=tmp_path, balancer=False) as cluster:
        acme, globex = {"Host": "acme.test"}, {"Host": "globex.test"}
        a, b = cluster.node(0), cluster.node(1)
        made = a.post("/-/apps", json={"name": "crm"}, headers=acme, actor="root")
        assert made.status_code == 201, made.text
        datasource = a.post(
            "/-/apps/crm/datasources",
            json={"name": "people", "provider_type": "flat_table"},
            headers=acme,
            actor="root",
        )
        assert datasource.status_code == 201, datasource.text
        database = datasource.json()["database"]
        assert b.get("/-/apps/crm.json", headers=acme, actor="root").status_code == 200
        for node in (a, b):
            assert node.get("/-/apps/crm.json", headers=globex, actor="root").status_code == 404
            listed = node.get("/-/apps.json", headers=globex, actor="root").json()
            assert listed["apps"] == []

        def listed_for_acme_only():
            mine = b.get("/.json", headers=acme, actor="root").text
            theirs = b.get("/.json", headers=globex, actor="root").text
            return database in mine and database not in theirs

        assert eventually(listed_for_acme_only)


def test_concurrent_schema_changes_on_two_nodes_one_applies(cluster, catalog):
    """The same If-Match sent to both nodes at once: one change applies, the other gets 412
    and none of its DDL runs (the table has the winner's columns only)."""
    a, b = cluster.node(0), cluster.node(1)
    datatable = new_datatable(a, "contended")
    base = "/-/apps/contended/datasources/stock/datatables/items"
    eventually(lambda: b.get(base + ".json", actor="root").status_code == 200)
    current = a.get(base + ".json", actor="root").json()
    match = {"If-Match": f'"{current["schema_hash"]}"'}
    wanted = {
        node.name: {**SCHEMA, "fields": [*SCHEMA["fields"], {"name": f"from_{node.name}"}]}
        for node in (a, b)
    }
    start = threading.Barrier(2)

    def change(node):
        start.wait()
        return node.put(base, json={"json_schema": wanted[node.name]}, headers=match, actor="root")

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answers = dict(zip(("node0", "node1"), pool.map(change, (a, b)), strict=True))
    statuses = sorted(answer.status_code for answer in answers.values())
    assert statuses == [200, 412], {n: (r.status_code, r.text[:200]) for n, r in answers.items()}
    winner = next(name for name, answer in answers.items() if answer.status_code == 200)
    after = b.get(base + ".json", actor="root").json()
    assert after["schema_version"] == current["schema_version"] + 1
    assert after["json_schema"] == wanted[winner]
    columns = b.get(path(datatable["table_url"]) + ".json?_extra=columns", actor="root").json()
    assert columns["columns"] == ["id", "name", "n", f"from_{winner}"]
    applied = catalog.execute(
        "SELECT status FROM schema_operations WHERE datatable_id = %s AND operation = %s",
        (datatable["id"], "change_schema"),
    ).fetchall()
    assert applied == [("applied",)]
