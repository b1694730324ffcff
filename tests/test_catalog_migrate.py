"""``datasette dataservice catalog-migrate``: a SQLite catalog moved to PostgreSQL serves the
same apps, datasources, datatables, versions, operations and rows, or nothing moves."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import psycopg
import pytest
from click.testing import CliRunner
from conftest import (
    close_data_service,
    create_app,
    create_datasource,
    create_datatable,
    make_datasette,
    path_of,
)
from datasette.cli import cli

SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "name", "type": "string"},
    ],
    "primaryKey": ["id"],
}
CHANGED = {**SCHEMA, "fields": [*SCHEMA["fields"], {"name": "size", "type": "number"}]}
APP = "/-/apps/shop"
STOCK = APP + "/datasources/stock"
ITEMS = STOCK + "/datatables/items"
POSTGRES = {"provider_config": {"engine": "postgres"}}


def schema_of(postgres_config) -> str:
    return postgres_config["main"]["schema_prefix"] + "dataservice_catalog"


async def sqlite_node(tmp_path, postgres_config):
    """A Datasette on the SQLite catalog in tmp_path/data (whatever the suite's default)."""
    ds = make_datasette(tmp_path / "data", postgres=postgres_config, catalog={"engine": "sqlite"})
    await ds.invoke_startup()
    return ds, {"Authorization": f"Bearer {await ds.create_token('root')}"}


async def postgres_node(tmp_path, postgres_config, name="node"):
    ds = make_datasette(tmp_path / name, postgres=postgres_config, catalog={"engine": "postgres"})
    await ds.invoke_startup()
    return ds, {"Authorization": f"Bearer {await ds.create_token('root')}"}


def migrate(
    tmp_path, postgres_config, *options: str, ok: bool = True, group=False, catalog=None
) -> str:
    """Run the command as an operator does: the servers' configuration in a file, given to
    the command (or with ``group``, to ``datasette dataservice -c``)."""
    config = tmp_path / "datasette.json"
    plugin = {"postgres": postgres_config, "catalog": catalog or {"engine": "postgres"}}
    config.write_text(json.dumps({"plugins": {"datasette-dataservice": plugin}}))
    command = ["catalog-migrate", str(tmp_path / "data"), *options]
    arguments = ["-c", str(config), *command] if group else [*command, "-c", str(config)]
    result = CliRunner().invoke(cli, ["dataservice", *arguments])
    assert (result.exit_code == 0) is ok, result.output
    return result.output


def target_rows(postgres_config, table: str) -> int | None:
    """Rows of a catalog table in the target schema; None when the schema does not exist."""
    schema = schema_of(postgres_config)
    with psycopg.connect(postgres_config["main"]["dsn"]) as conn:
        if not conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone():
            return None
        return conn.execute(f'SELECT count(*) FROM "{schema}".{table}').fetchone()[0]


async def seed(ds, headers) -> str:
    """Apps, a Postgres datasource, datatables, rows, schema changes (one refused), soft
    deletes and a restore, made through the API. Returns the items table's path."""
    await create_app(ds, headers, name="Shop", description="the shop")
    await create_app(ds, headers, name="Old")
    await create_datasource(ds, headers, "shop", slug="stock", **POSTGRES)
    await create_datasource(ds, headers, "old", slug="archive", **POSTGRES)
    items = await create_datatable(ds, headers, "shop", "stock", "items", SCHEMA)
    await create_datatable(ds, headers, "shop", "stock", "gone", SCHEMA)
    insert = path_of(items["insert_url"])
    rows = {"rows": [{"id": 1, "name": "bolt"}, {"id": 2, "name": "nut"}]}
    assert (await ds.client.post(insert, json=rows, headers=headers)).status_code == 201
    changed = await ds.client.put(ITEMS, json={"json_schema": CHANGED}, headers=headers)
    assert changed.status_code == 200, changed.text
    refused = await ds.client.put(ITEMS, json={"json_schema": {"fields": []}}, headers=headers)
    assert refused.status_code == 400
    for path in (STOCK + "/datatables/gone", "/-/apps/old"):
        assert (await ds.client.delete(path, headers=headers)).status_code == 200
    return path_of(items["table_url"])


async def answers(ds, headers, table: str) -> dict[str, object]:
    paths = [
        "/-/apps.json?include_deleted=1",
        APP + ".json",
        APP + "/stats.json",
        APP + "/datatables.json?include_deleted=1",
        APP + "/datasources.json?include_deleted=1",
        STOCK + ".json",
        STOCK + "/datatables.json?include_deleted=1",
        ITEMS + ".json",
        ITEMS + "/schema.json",
        ITEMS + "/schema.json?version=1",
        ITEMS + "/schema/diff.json?from=1&to=2",
        ITEMS + "/operations.json",
        APP + "/operations.json",
    ]
    found = {}
    for path in paths:
        response = await ds.client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text)
        found[path] = response.json()
    rows = await ds.client.get(table + ".json?_shape=objects", headers=headers)
    assert rows.status_code == 200, rows.text
    found["rows"] = rows.json()["rows"]
    return found


@pytest.mark.asyncio
async def test_a_migrated_catalog_serves_the_same_answers(tmp_path, postgres_config):
    ds, headers = await sqlite_node(tmp_path, postgres_config)
    try:
        table = await seed(ds, headers)
        before = await answers(ds, headers, table)
        # The server holds the data directory: the command refuses to copy under it.
        assert "in use by another process" in migrate(tmp_path, postgres_config, ok=False)
    finally:
        await close_data_service(ds)
    assert target_rows(postgres_config, "apps") is None

    output = migrate(tmp_path, postgres_config)
    for name, rows in [("apps", 2), ("datasources", 2), ("datatables", 2), ("schema_versions", 3)]:
        assert f"\n  {name}: {rows}\n" in output
    node, node_headers = await postgres_node(tmp_path, postgres_config)
    try:
        assert await answers(node, node_headers, table) == before
        # New rows get new ids (the sequences start past the copied ones), the copied
        # datatable changes on, and the audit trail continues where it was.
        app = await create_app(node, node_headers, name="New")
        assert app["id"] == 3
        changed = await node.client.put(
            ITEMS, json={"json_schema": SCHEMA, "renames": {}}, headers=node_headers
        )
        assert changed.status_code == 200 and changed.json()["schema_version"] == 3, changed.text
        restored = await node.client.post("/-/apps/old/restore", headers=node_headers)
        assert restored.status_code == 200, restored.text
        old = await node.client.get("/-/apps/old/datasources.json", headers=node_headers)
        assert [d["slug"] for d in old.json()["datasources"]] == ["archive"], old.text
        log = (await node.client.get(ITEMS + "/operations.json", headers=node_headers)).json()
        earlier = {op["id"] for op in before[ITEMS + "/operations.json"]["operations"]}
        ids = {op["id"] for op in log["operations"]}
        assert earlier < ids and len(ids - earlier) == 1 and max(ids) > max(earlier)
    finally:
        await close_data_service(node)
    with sqlite3.connect(tmp_path / "data" / "catalog.db") as conn:  # the source as it was
        assert conn.execute("SELECT count(*) FROM apps").fetchone()[0] == 2

    # Twice: the target holds a catalog now, and catalogs are not merged.
    again = migrate(tmp_path, postgres_config, ok=False)
    assert "already holds a catalog with 3 app(s)" in again
    assert target_rows(postgres_config, "apps") == 3


@pytest.mark.asyncio
async def test_sqlite_datasources_refuse_the_whole_migration(tmp_path, postgres_config):
    ds, headers = await sqlite_node(tmp_path, postgres_config)
    try:
        await create_app(ds, headers, name="Shop")
        await create_datasource(ds, headers, "shop", slug="stock", **POSTGRES)
        await create_datatable(ds, headers, "shop", "stock", "items", SCHEMA)
        for slug in ("local", "attic"):  # SQLite: their data is a file in the data directory
            await create_datasource(ds, headers, "shop", slug=slug)
            await create_datatable(ds, headers, "shop", slug, "things", SCHEMA)
        attic = APP + "/datasources/attic"
        changed = await ds.client.put(
            attic + "/datatables/things", json={"json_schema": CHANGED}, headers=headers
        )
        assert changed.status_code == 200, changed.text
        assert (await ds.client.delete(attic, headers=headers)).status_code == 200
    finally:
        await close_data_service(ds)
    output = migrate(tmp_path, postgres_config, ok=False)
    assert "1 datasource(s) keep their data in a SQLite file of this data directory" in output
    assert "cannot serve: shop/local. Move each to PostgreSQL first" in output
    assert "1 soft-deleted datasource(s)" in output and "shop/attic (deleted)" in output
    # Leaving the deleted ones behind does not leave an active one behind.
    output = migrate(tmp_path, postgres_config, "--leave-deleted-sqlite", ok=False)
    assert "shop/local" in output and "shop/attic" not in output
    assert target_rows(postgres_config, "apps") is None  # nothing written, not even the schema

    ds, headers = await sqlite_node(tmp_path, postgres_config)  # local moved, then deleted
    try:
        deleted = await ds.client.delete(APP + "/datasources/local", headers=headers)
        assert deleted.status_code == 200
        before = await ds.client.get(APP + "/operations.json?_size=100", headers=headers)
    finally:
        await close_data_service(ds)
    output = migrate(tmp_path, postgres_config, ok=False)
    assert "2 soft-deleted datasource(s)" in output
    assert "shop/attic (deleted), shop/local (deleted). They could be restored" in output
    output = migrate(tmp_path, postgres_config, "--leave-deleted-sqlite")
    assert (
        "Left behind (soft-deleted SQLite datasources): "
        "datasources 2, datatables 2, schema_versions 3" in output
    )
    node, node_headers = await postgres_node(tmp_path, postgres_config)
    try:
        listed = await node.client.get(
            APP + "/datasources.json?include_deleted=1", headers=node_headers
        )
        assert [d["slug"] for d in listed.json()["datasources"]] == ["stock"]
        restore = await node.client.post(attic + "/restore", headers=node_headers)
        assert restore.status_code == 404
        # The audit trail is whole, the left-behind datasources' entries included.
        after = await node.client.get(APP + "/operations.json?_size=100", headers=node_headers)
        assert after.json() == before.json()
        # Their ids are not given again (the audit trail names them).
        created = await create_datasource(node, node_headers, "shop", slug="fresh", **POSTGRES)
        assert created["id"] == 4
    finally:
        await close_data_service(node)


@pytest.mark.asyncio
async def test_a_target_holding_a_catalog_is_refused(tmp_path, postgres_config):
    ds, headers = await sqlite_node(tmp_path, postgres_config)
    try:
        await create_app(ds, headers, name="Shop")
    finally:
        await close_data_service(ds)
    node, node_headers = await postgres_node(tmp_path, postgres_config)
    try:
        await create_app(node, node_headers, name="Elsewhere")
    finally:
        await close_data_service(node)
    output = migrate(tmp_path, postgres_config, ok=False)
    assert f'schema "{schema_of(postgres_config)}" already holds a catalog with 1 app(s)' in output
    assert target_rows(postgres_config, "apps") == 1
    assert target_rows(postgres_config, "schema_operations") == 1


@pytest.mark.asyncio
async def test_a_dry_run_checks_and_writes_nothing(tmp_path, postgres_config):
    ds, headers = await sqlite_node(tmp_path, postgres_config)
    try:
        await seed(ds, headers)
    finally:
        await close_data_service(ds)
    output = migrate(tmp_path, postgres_config, "--dry-run", group=True)
    assert "Dry run: nothing was written. Would copy" in output and "\n  apps: 2\n" in output
    assert target_rows(postgres_config, "apps") is None
    assert "Copied the catalog" in migrate(tmp_path, postgres_config)
    assert target_rows(postgres_config, "apps") == 2
    # Settings apply over the file, as datasette serve -s does: here another schema.
    elsewhere = postgres_config["main"]["schema_prefix"] + "elsewhere"
    setting = ("-s", "plugins.datasette-dataservice.catalog.schema", elsewhere)
    output = migrate(tmp_path, postgres_config, "--dry-run", *setting)
    assert f'Would copy to schema "{elsewhere}" of PostgreSQL connection "main"' in output


@pytest.mark.asyncio
async def test_a_schema_change_in_flight_is_refused(tmp_path, postgres_config):
    ds, headers = await sqlite_node(tmp_path, postgres_config)
    try:
        await create_app(ds, headers, name="Shop")
        await create_datasource(ds, headers, "shop", slug="stock", **POSTGRES)
        await create_datatable(ds, headers, "shop", "stock", "items", SCHEMA)
    finally:
        await close_data_service(ds)
    with sqlite3.connect(tmp_path / "data" / "catalog.db") as conn:  # as a crash leaves it
        conn.execute(
            "INSERT INTO pending_schema_changes SELECT id, 2, json_schema, schema_hash,"
            " field_aliases, '{}', '{}', created_at FROM datatables"
        )
    output = migrate(tmp_path, postgres_config, ok=False)
    assert "a schema change is in flight on shop/stock/items: finish or recover" in output
    assert target_rows(postgres_config, "apps") is None


@pytest.mark.asyncio
async def test_postgres_datasources_the_servers_would_not_find_are_refused(
    tmp_path, postgres_config
):
    ds, headers = await sqlite_node(tmp_path, postgres_config)
    try:
        await create_app(ds, headers, name="Shop")
        await create_datasource(ds, headers, "shop", slug="stock", **POSTGRES)
        await create_datasource(ds, headers, "shop", slug="spare", **POSTGRES)
        await create_datatable(ds, headers, "shop", "spare", "items", SCHEMA)
    finally:
        await close_data_service(ds)
    # The servers would know the same server under another connection name only.
    renamed = {"other": postgres_config["main"]}
    output = migrate(tmp_path, renamed, ok=False, catalog={"engine": "postgres"})
    assert 'datasource shop/stock is on the PostgreSQL connection "main"' in output
    assert "configuration does not have (other)" in output
    # The database of a datasource's tables is not on the connection's server (dropped here;
    # stock has no table, so no database yet, and that is no problem).
    with sqlite3.connect(tmp_path / "data" / "catalog.db") as conn:
        (raw,) = conn.execute("SELECT provider_config FROM datasources WHERE slug = 'spare'")
    database = json.loads(raw[0])["database"]
    with psycopg.connect(postgres_config["main"]["dsn"], autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
    output = migrate(tmp_path, postgres_config, ok=False)
    assert f'datasource shop/spare: its database "{database}" is not on' in output
    assert "shop/stock" not in output
    assert target_rows(postgres_config, "apps") is None


@pytest.mark.asyncio
async def test_what_the_command_cannot_reach_or_read_is_said(tmp_path, postgres_config):
    ds, headers = await sqlite_node(tmp_path, postgres_config)
    try:
        await create_app(ds, headers, name="Shop")
    finally:
        await close_data_service(ds)
    down = {"main": {**postgres_config["main"], "dsn": "postgresql://postgres@127.0.0.1:1/x"}}
    output = migrate(tmp_path, down, ok=False)
    assert 'PostgreSQL connection "main" is unavailable: connection' in output
    output = migrate(tmp_path, postgres_config, ok=False, catalog={"engine": "sqlite"})
    assert "the configuration's catalog is not on PostgreSQL" in output
    output = migrate(tmp_path, postgres_config, ok=False, catalog={"engine": "mysql"})
    assert "plugins.datasette-dataservice: catalog.engine must be sqlite or postgres" in output


@pytest.mark.asyncio
async def test_a_table_a_later_migration_adds_is_copied_too(tmp_path, postgres_config, monkeypatch):
    """The copy follows the catalogs' tables, columns and foreign keys: a table added on both
    sides by a new migration is copied (ids and sequence kept), and its rows that reference a
    row left behind stay behind."""
    from datasette_dataservice.catalog import migrations, postgres_migrations

    version = len(migrations.MIGRATIONS) + 1
    monkeypatch.setattr(
        migrations,
        "MIGRATIONS",
        [
            *migrations.MIGRATIONS,
            (
                version,
                "notes",
                "CREATE TABLE notes (id INTEGER PRIMARY KEY,"
                " datatable_id INTEGER NOT NULL REFERENCES datatables(id), note TEXT NOT NULL);",
            ),
        ],
    )
    monkeypatch.setattr(
        postgres_migrations,
        "POSTGRES_MIGRATIONS",
        [
            *postgres_migrations.POSTGRES_MIGRATIONS,
            (
                version,
                "notes",
                "CREATE TABLE notes (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
                " datatable_id BIGINT NOT NULL REFERENCES datatables(id), note TEXT NOT NULL);",
            ),
        ],
    )
    ds, headers = await sqlite_node(tmp_path, postgres_config)
    try:
        await create_app(ds, headers, name="Shop")
        await create_datasource(ds, headers, "shop", slug="stock", **POSTGRES)
        kept = await create_datatable(ds, headers, "shop", "stock", "items", SCHEMA)
        await create_datasource(ds, headers, "shop", slug="attic")  # SQLite
        await create_datatable(ds, headers, "shop", "attic", "things", SCHEMA)
        deleted = await ds.client.delete(APP + "/datasources/attic", headers=headers)
        assert deleted.status_code == 200
    finally:
        await close_data_service(ds)
    with sqlite3.connect(tmp_path / "data" / "catalog.db") as conn:
        conn.execute(
            "INSERT INTO notes (id, datatable_id, note) SELECT 10 + id, id, name FROM datatables"
        )
    output = migrate(tmp_path, postgres_config, "--leave-deleted-sqlite")
    assert "\n  notes: 1\n" in output and "schema_versions 1, notes 1\n" in output
    schema = schema_of(postgres_config)
    with psycopg.connect(postgres_config["main"]["dsn"]) as conn:
        notes = conn.execute(f'SELECT id, datatable_id, note FROM "{schema}".notes').fetchall()
        assert notes == [(10 + kept["id"], kept["id"], "items")]
        (next_id,) = conn.execute(
            f"INSERT INTO \"{schema}\".notes (datatable_id, note) VALUES (%s, 'new') RETURNING id",
            (kept["id"],),
        ).fetchone()
        assert next_id == 13  # past the largest id of the source, the one left behind too


def test_an_older_catalog_is_migrated_first(tmp_path, postgres_config, monkeypatch):
    """A catalog.db at version 1 is brought to the newest version, in place (a dry run
    migrates a copy in memory and leaves the file as it was), then copied."""
    from datasette_dataservice.catalog import migrations

    (tmp_path / "data").mkdir()
    path = tmp_path / "data" / "catalog.db"
    conn = sqlite3.connect(path, isolation_level=None)
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
        migrations.migrate(conn)
    conn.execute(
        "INSERT INTO apps (name, slug, created_at, updated_at)"
        " VALUES ('Old', 'old', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z')"
    )
    conn.close()

    def version() -> int:
        with sqlite3.connect(path) as conn:
            return migrations.current_version(conn)

    assert "\n  pending_schema_changes: 0" in migrate(tmp_path, postgres_config, "--dry-run")
    assert version() == 1
    migrate(tmp_path, postgres_config)
    assert version() == migrations.MIGRATIONS[-1][0]
    assert target_rows(postgres_config, "apps") == 1


@pytest.mark.asyncio
async def test_a_node_already_running_serves_the_copy_without_a_restart(tmp_path, postgres_config):
    ds, headers = await sqlite_node(tmp_path, postgres_config)
    try:
        table = await seed(ds, headers)
    finally:
        await close_data_service(ds)
    node, node_headers = await postgres_node(tmp_path, postgres_config)
    try:
        assert (await node.client.get(table + ".json", headers=node_headers)).status_code == 404
        migrate(tmp_path, postgres_config)
        deadline = asyncio.get_running_loop().time() + 10
        while (await node.client.get(table + ".json", headers=node_headers)).status_code != 200:
            assert asyncio.get_running_loop().time() < deadline, "the copy was never served"
            await asyncio.sleep(0.05)
        apps = await node.client.get("/-/apps.json", headers=node_headers)
        assert [app["slug"] for app in apps.json()["apps"]] == ["shop"]
    finally:
        await close_data_service(node)
