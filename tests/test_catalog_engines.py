"""The catalog on SQLite (the default) and on PostgreSQL (``catalog: {engine: postgres}``):
one interface, the same answers, the same migrations, the same append-only audit trail."""

from __future__ import annotations

import asyncio
import re
import sqlite3

import psycopg
import pytest
from conftest import close_data_service, create_app, create_datasource, make_datasette, path_of

from datasette_dataservice.catalog.migrations import MIGRATIONS
from datasette_dataservice.catalog.postgres_connection import translate
from datasette_dataservice.catalog.postgres_migrations import POSTGRES_MIGRATIONS
from datasette_dataservice.config import CatalogConfig, DataServiceConfig

SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "name", "type": "string"},
    ],
    "primaryKey": ["id"],
}
APP = "/-/apps/shop"
DATATABLE = APP + "/datasources/stock/datatables/items"


async def start(tmp_path, postgres_config, catalog: str, name: str = "data"):
    engine = {"engine": "postgres", "connection": "main"} if catalog == "postgres" else {}
    ds = make_datasette(
        tmp_path / name, postgres=postgres_config, catalog=engine or {"engine": "sqlite"}
    )
    await ds.invoke_startup()
    return ds


async def root_headers(ds) -> dict:
    return {"Authorization": f"Bearer {await ds.create_token('root')}"}


def catalog_schema(postgres_config) -> str:
    return postgres_config["main"]["schema_prefix"] + "dataservice_catalog"


# Configuration ------------------------------------------------------------------------------


def test_catalog_configuration():
    postgres = {"main": {"dsn": "postgresql://x/y", "schema_prefix": "p_"}}
    config = DataServiceConfig.from_plugin_config(
        {"postgres": postgres, "catalog": {"engine": "postgres"}}
    )
    assert config.catalog == CatalogConfig("postgres", "main", "p_dataservice_catalog")
    assert config.catalog.shared
    assert DataServiceConfig.from_plugin_config({}).catalog == CatalogConfig()
    for raw, words in [
        ({"engine": "mysql"}, "catalog.engine must be sqlite or postgres"),
        ({"engine": "postgres", "connection": "other"}, "must name a configured PostgreSQL"),
        ({"engine": "sqlite", "schema": "x"}, "need engine: postgres"),
        ({"engine": "postgres", "pool": 3}, "catalog takes engine"),
    ]:
        with pytest.raises(ValueError, match=re.escape(words)):
            DataServiceConfig.from_plugin_config({"postgres": postgres, "catalog": raw})


def test_placeholders_translate_outside_quotes_only():
    assert translate("SELECT ? , :name, '?', ':x', \"a?\", 5 % 2") == (
        "SELECT %s , %(name)s, '?', ':x', \"a?\", 5 %% 2"
    )
    assert translate("SELECT 'it''s ?' WHERE x = ?") == "SELECT 'it''s ?' WHERE x = %s"


def test_every_migration_has_its_postgres_version():
    assert [m[:2] for m in POSTGRES_MIGRATIONS] == [m[:2] for m in MIGRATIONS]


# One interface, the same answers -----------------------------------------------------------

VOLATILE = [
    (re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z"), "<time>"),
    (re.compile(r'"duration_ms": [0-9.e-]+'), '"duration_ms": 0'),
    (re.compile(r"dst[0-9a-f]{6}_\d+_\w+?(?=[\"/.?]|$)"), "<database>"),
    (re.compile(r"_ds_[0-9a-f]{8,}"), "<database>"),
]


def normalise(text: str) -> str:
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return text


async def walk(ds) -> list[tuple[str, int, str]]:
    """The same requests a user makes, answered by one instance."""
    headers = await root_headers(ds)
    client = ds.client
    answers = []

    async def call(method: str, path: str, **kwargs):
        response = await client.request(method, path, headers=headers, **kwargs)
        answers.append((f"{method} {path}", response.status_code, normalise(response.text)))
        return response

    await call("POST", "/-/apps", json={"name": "Shop"})
    await call("POST", "/-/apps", json={"name": "Shop again", "slug": "shop"})  # 409
    await call(
        "POST",
        APP + "/datasources",
        json={
            "name": "Stock",
            "provider_type": "flat_table",
            "provider_config": {"engine": "postgres"},
        },
    )
    created = await call(
        "POST", APP + "/datasources/stock/datatables", json={"name": "items", "json_schema": SCHEMA}
    )
    await call(
        "POST", APP + "/datasources/stock/datatables", json={"name": "ITEMS", "json_schema": SCHEMA}
    )
    insert = path_of(created.json()["insert_url"])
    table = path_of(created.json()["table_url"])
    await call("POST", insert, json={"rows": [{"id": 1, "name": "bolt"}, {"id": 2}]})
    await call("POST", insert, json={"rows": [{"id": "x"}]})  # refused: type-error
    changed = {**SCHEMA, "fields": [*SCHEMA["fields"], {"name": "size", "type": "number"}]}
    await call("PUT", DATATABLE, json={"json_schema": changed})
    await call("PUT", DATATABLE, json={"json_schema": {"fields": []}})  # refused
    for path in (
        "/-/apps.json",
        APP + ".json",
        APP + "/stats.json",
        APP + "/datasources.json",
        APP + "/datasources/stock.json",
        APP + "/datasources/stock/datatables.json",
        DATATABLE + ".json",
        DATATABLE + "/schema.json",
        DATATABLE + "/operations.json",
        APP + "/operations.json",
        table + ".json?_shape=objects",
    ):
        await call("GET", path)
    await call("DELETE", DATATABLE)
    await call("GET", APP + "/datatables.json?include_deleted=1")
    await call("POST", DATATABLE + "/restore")
    await call("DELETE", APP + "/datasources/stock")
    await call("GET", APP + "/datasources.json?include_deleted=1")
    await call("POST", APP + "/datasources/stock/restore")
    await call("GET", table + ".json?_shape=objects")
    await call("GET", APP + "/operations.json?_size=3")
    await call("DELETE", APP)
    await call("GET", "/-/apps.json?include_deleted=1")
    await call("POST", APP + "/restore")
    return answers


@pytest.mark.asyncio
async def test_both_catalogs_give_the_same_answers(tmp_path, postgres_config):
    answers = {}
    for catalog in ("sqlite", "postgres"):
        ds = await start(tmp_path, postgres_config, catalog, name=catalog)
        try:
            answers[catalog] = await walk(ds)
        finally:
            await close_data_service(ds)
    statuses = [(request, status) for request, status, _ in answers["sqlite"]]
    assert [s for _, s in statuses][:10] == [201, 409, 201, 201, 409, 201, 400, 200, 400, 200]
    assert all(status == 200 for _, status in statuses[9:]), statuses
    for sqlite_answer, postgres_answer in zip(answers["sqlite"], answers["postgres"], strict=True):
        assert postgres_answer == sqlite_answer


# The Postgres catalog ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_postgres_catalog_lives_in_its_schema(tmp_path, postgres_config):
    ds = await start(tmp_path, postgres_config, "postgres")
    try:
        headers = await root_headers(ds)
        await create_app(ds, headers, name="Shop")
        assert "_dataservice" not in ds.databases
        assert not (tmp_path / "data" / "catalog.db").exists()
    finally:
        await close_data_service(ds)
    with psycopg.connect(postgres_config["main"]["dsn"]) as conn:
        schema = catalog_schema(postgres_config)
        tables = {
            name
            for (name,) in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            )
        }
        slugs = conn.execute(f'SELECT slug FROM "{schema}".apps').fetchall()
    assert {
        "apps",
        "datasources",
        "datatables",
        "schema_operations",
        "catalog_migrations",
    } <= tables
    assert slugs == [("shop",)]


@pytest.mark.asyncio
async def test_both_catalogs_have_the_same_tables_and_columns(tmp_path, postgres_config):
    for catalog in ("sqlite", "postgres"):
        ds = await start(tmp_path, postgres_config, catalog, name=catalog)
        await close_data_service(ds)
    with sqlite3.connect(tmp_path / "sqlite" / "catalog.db") as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        on_sqlite = {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
    with psycopg.connect(postgres_config["main"]["dsn"]) as conn:
        on_postgres = {}
        for table, column in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = %s ORDER BY table_name, ordinal_position",
            (catalog_schema(postgres_config),),
        ):
            on_postgres.setdefault(table, []).append(column)
    assert on_postgres == on_sqlite


@pytest.mark.asyncio
async def test_the_audit_trail_is_append_only_on_postgres(tmp_path, postgres_config):
    ds = await start(tmp_path, postgres_config, "postgres")
    try:
        await create_app(ds, await root_headers(ds), name="Shop")
    finally:
        await close_data_service(ds)
    table = f'"{catalog_schema(postgres_config)}".schema_operations'
    for statement in (
        f"UPDATE {table} SET actor = 'mallory'",
        f"DELETE FROM {table}",
        f"TRUNCATE {table}",
    ):
        with psycopg.connect(postgres_config["main"]["dsn"]) as conn:
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement)
    with psycopg.connect(postgres_config["main"]["dsn"]) as conn:
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 1


@pytest.mark.asyncio
async def test_a_shared_catalog_refuses_node_local_datasources(tmp_path, postgres_config):
    ds = await start(tmp_path, postgres_config, "postgres")
    try:
        headers = await root_headers(ds)
        await create_app(ds, headers, name="Shop")
        response = await ds.client.post(
            APP + "/datasources",
            json={
                "name": "Local",
                "provider_type": "flat_table",
                "provider_config": {"engine": "sqlite"},
            },
            headers=headers,
        )
        assert response.status_code == 400
        assert "keeps data in one node's data directory" in response.json()["error"]
        created = await create_datasource(ds, headers, "shop", slug="stock")  # engine defaults
        assert created["provider_config"]["engine"] == "postgres"
        assert not list((tmp_path / "data").glob("*.db"))
    finally:
        await close_data_service(ds)


@pytest.mark.asyncio
async def test_another_instance_serves_what_one_created(tmp_path, postgres_config):
    first = await start(tmp_path, postgres_config, "postgres", name="first")
    second = await start(tmp_path, postgres_config, "postgres", name="second")
    try:
        headers = await root_headers(first)
        client = first.client
        await create_app(first, headers, name="Shop")
        await create_datasource(first, headers, "shop", slug="stock")
        response = await client.post(
            APP + "/datasources/stock/datatables",
            json={"name": "items", "json_schema": SCHEMA},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        insert = await client.post(
            path_of(response.json()["insert_url"]), json={"rows": [{"id": 7}]}, headers=headers
        )
        assert insert.status_code == 201, insert.text
        table = path_of(response.json()["table_url"])
        # A third instance started now sees all of it from the shared catalog.
        third = await start(tmp_path, postgres_config, "postgres", name="third")
        try:
            other = await root_headers(third)
            rows = await third.client.get(table + ".json?_shape=objects", headers=other)
            assert rows.status_code == 200, rows.text
            assert [r["id"] for r in rows.json()["rows"]] == [7]
            schema = await third.client.get(DATATABLE + ".json", headers=other)
            assert schema.json()["json_schema"] == SCHEMA
        finally:
            await close_data_service(third)
    finally:
        await close_data_service(first)
        await close_data_service(second)


@pytest.mark.asyncio
async def test_instances_starting_together_migrate_the_catalog_once(tmp_path, postgres_config):
    instances = [
        make_datasette(tmp_path / f"n{i}", postgres=postgres_config, catalog={"engine": "postgres"})
        for i in range(3)
    ]
    await asyncio.gather(*(ds.invoke_startup() for ds in instances))
    for ds in instances:
        await close_data_service(ds)
    with psycopg.connect(postgres_config["main"]["dsn"]) as conn:
        versions = conn.execute(
            f'SELECT version FROM "{catalog_schema(postgres_config)}".catalog_migrations ORDER BY 1'
        ).fetchall()
    assert [v for (v,) in versions] == [m[0] for m in MIGRATIONS]


async def eventually(check, seconds: float = 5.0):
    """``await check()`` until it returns something true; the last answer otherwise."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        answer = await check()
        if answer or asyncio.get_running_loop().time() > deadline:
            return answer
        await asyncio.sleep(0.02)


@pytest.mark.asyncio
async def test_a_change_on_one_node_is_served_by_the_other(tmp_path, postgres_config):
    """Node B learns of node A's changes (LISTEN/NOTIFY) without a restart: a new
    datasource and datatable, a schema change, a delete and a restore."""
    a = await start(tmp_path, postgres_config, "postgres", name="a")
    b = await start(tmp_path, postgres_config, "postgres", name="b")
    try:
        on_a, on_b = await root_headers(a), await root_headers(b)
        await create_app(a, on_a, name="Shop")
        await create_datasource(a, on_a, "shop", slug="stock")
        created = await a.client.post(
            APP + "/datasources/stock/datatables",
            json={"name": "items", "json_schema": SCHEMA},
            headers=on_a,
        )
        table = path_of(created.json()["table_url"]) + ".json?_extra=columns"
        await a.client.post(
            path_of(created.json()["insert_url"]), json={"rows": [{"id": 1}]}, headers=on_a
        )

        async def columns_on_b():
            response = await b.client.get(table, headers=on_b)
            return response.status_code == 200 and response.json()["columns"]

        assert await eventually(columns_on_b) == ["id", "name"]
        changed = {**SCHEMA, "fields": [*SCHEMA["fields"], {"name": "size", "type": "number"}]}
        put = await a.client.put(DATATABLE, json={"json_schema": changed}, headers=on_a)
        assert put.status_code == 200, put.text

        async def new_columns_on_b():
            return await columns_on_b() == ["id", "name", "size"]

        assert await eventually(new_columns_on_b)
        assert (await a.client.delete(APP + "/datasources/stock", headers=on_a)).status_code == 200

        async def gone_on_b():
            return (await b.client.get(table, headers=on_b)).status_code == 404

        assert await eventually(gone_on_b)
        restored = await a.client.post(APP + "/datasources/stock/restore", headers=on_a)
        assert restored.status_code == 200, restored.text
        assert await eventually(new_columns_on_b)
    finally:
        await close_data_service(a)
        await close_data_service(b)


@pytest.mark.asyncio
async def test_a_catalog_server_restart_costs_no_request(tmp_path, postgres_config):
    """Connections the server dropped (as a restart does) are replaced: the next read and the
    next write succeed, nothing is written twice."""
    ds = await start(tmp_path, postgres_config, "postgres")
    schema = catalog_schema(postgres_config)
    try:
        headers = await root_headers(ds)
        await create_app(ds, headers, name="Shop")
        for request in (
            lambda: ds.client.get(APP + ".json", headers=headers),
            lambda: ds.client.post("/-/apps", json={"name": "Other"}, headers=headers),
        ):
            with psycopg.connect(postgres_config["main"]["dsn"], autocommit=True) as conn:
                dropped = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = %s",
                    (f"dataservice-catalog {schema}"[:63],),
                ).fetchall()
            assert dropped, "the catalog's sessions were found"
            response = await request()
            assert response.status_code in (200, 201), response.text
        apps = await ds.client.get("/-/apps.json", headers=headers)
        assert [app["slug"] for app in apps.json()["apps"]] == ["shop", "other"]
    finally:
        await close_data_service(ds)
