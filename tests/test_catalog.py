"""The catalog's own migrations and its append-only audit table."""

from __future__ import annotations

import sqlite3

import pytest

from datasette_dataservice.catalog import history, migrations, store


@pytest.fixture
def conn(tmp_path):
    conn = sqlite3.connect(tmp_path / "catalog.db", isolation_level=None)
    yield conn
    conn.close()


def test_migrate_creates_the_catalog_tables_once(conn):
    assert migrations.current_version(conn) == 0
    assert migrations.migrate(conn) == [v for v, _, _ in migrations.MIGRATIONS]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"apps", "datasources", "datatables", "schema_versions", "schema_operations"} <= tables
    assert migrations.migrate(conn) == []
    assert migrations.current_version(conn) == migrations.MIGRATIONS[-1][0]


def test_a_failing_migration_leaves_the_catalog_as_it_was(conn, monkeypatch):
    migrations.migrate(conn)
    newest = migrations.current_version(conn)
    broken = (99, "broken", "CREATE TABLE half_done (id INTEGER);\nSELECT * FROM no_such_table;")
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, broken])
    with pytest.raises(sqlite3.OperationalError):
        migrations.migrate(conn)
    assert migrations.current_version(conn) == newest
    assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'half_done'").fetchone()


def test_schema_operations_are_append_only(conn):
    migrations.migrate(conn)
    operation_id = history.insert_operation(
        conn, {"operation": "create_app", "target_type": "app", "target": "x", "status": "applied"}
    )
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE schema_operations SET status = 'failed' WHERE id = ?", (operation_id,))
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM schema_operations")
    assert conn.execute("SELECT count(*) FROM schema_operations").fetchone()[0] == 1


def test_app_soft_delete_and_restore_bring_back_only_what_the_delete_took(conn):
    migrations.migrate(conn)
    app_id = store.insert_app(conn, "", "App", "app", "")
    values = {
        "name": "DS",
        "slug": "ds",
        "description": "",
        "provider_type": "flat_table",
        "provider_config": {},
        "engine": "sqlite",
        "database_name": "app_ds",
    }
    ds_id = store.insert_datasource(conn, app_id, values)
    table = {
        "name": "t",
        "json_schema": "{}",
        "schema_hash": "h",
        "physical_table_name": "app_t",
    }
    kept, dropped = (
        store.insert_datatable(conn, ds_id, {**table, "name": n}) for n in ("kept", "dropped")
    )
    store.set_datatable_active(conn, dropped, False)
    store.soft_delete_app(conn, app_id)
    assert store.get_app(conn, "", "app") is None
    app = store.get_app(conn, "", "app", include_inactive=True)
    store.restore_app(conn, app_id, app["deleted_at"])
    active = {r["name"] for r in store.list_datatables(conn, app_id, include_inactive=False)}
    assert active == {"kept"}
    assert store.get_datasource(conn, app_id, "ds")["is_active"] == 1
