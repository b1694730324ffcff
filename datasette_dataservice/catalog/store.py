"""Reads and writes of catalog rows. Every function takes an open sqlite3 connection.

The service layer calls these inside ``Database.execute_fn`` / ``execute_write_fn``, so each
write call here is part of the caller's transaction; nothing in this module commits.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

Row = dict[str, Any]


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _rows(conn: sqlite3.Connection, sql: str, params: dict | tuple = ()) -> list[Row]:
    cursor = conn.execute(sql, params)
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _one(conn: sqlite3.Connection, sql: str, params: dict | tuple = ()) -> Row | None:
    rows = _rows(conn, sql, params)
    return rows[0] if rows else None


def _limit(limit: int) -> str:
    """`` LIMIT n``; none for a negative ``limit`` (SQLite's -1 is an error on PostgreSQL)."""
    return f" LIMIT {int(limit)}" if limit >= 0 else ""


def _active_clause(alias: str, include_inactive: bool) -> str:
    return "" if include_inactive else f" AND {alias}.is_active = 1"


# Apps ---------------------------------------------------------------------------------------

APP_SELECT = """
    SELECT a.*,
      (SELECT count(*) FROM datasources d WHERE d.app_id = a.id AND d.is_active = 1)
        AS datasource_count,
      (SELECT count(*) FROM datatables t JOIN datasources d ON t.datasource_id = d.id
        WHERE d.app_id = a.id AND t.is_active = 1 AND d.is_active = 1) AS table_count
    FROM apps a
"""


def get_app(conn, tenant: str, slug: str, include_inactive: bool = False) -> Row | None:
    return _one(
        conn,
        APP_SELECT + " WHERE a.tenant = ? AND a.slug = ?" + _active_clause("a", include_inactive),
        (tenant, slug),
    )


def list_apps(conn, tenant: str, *, include_inactive: bool, after_id: int, limit: int) -> list[Row]:
    return _rows(
        conn,
        APP_SELECT
        + " WHERE a.tenant = ? AND a.id > ?"
        + _active_clause("a", include_inactive)
        + " ORDER BY a.id"
        + _limit(limit),
        (tenant, after_id),
    )


def count_apps(conn, tenant: str, *, include_inactive: bool) -> int:
    return conn.execute(
        "SELECT count(*) FROM apps a WHERE a.tenant = ?" + _active_clause("a", include_inactive),
        (tenant,),
    ).fetchone()[0]


def slug_exists(conn, table: str, scope_column: str, scope_value: Any, slug: str) -> bool:
    assert table in {"apps", "datasources"} and scope_column in {"tenant", "app_id"}
    return bool(
        conn.execute(
            f"SELECT 1 FROM {table} WHERE {scope_column} = ? AND slug = ?", (scope_value, slug)
        ).fetchone()
    )


def insert_app(conn, tenant: str, name: str, slug: str, description: str) -> int:
    now = utc_now()
    return conn.execute(
        "INSERT INTO apps (tenant, name, slug, description, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (tenant, name, slug, description, now, now),
    ).fetchone()[0]


def update_row(conn, table: str, row_id: int, changes: dict[str, Any]) -> None:
    assert table in {"apps", "datasources", "datatables"}
    if not changes:
        return
    changes = {**changes, "updated_at": utc_now()}
    assignments = ", ".join(f"{column} = :{column}" for column in changes)
    conn.execute(f"UPDATE {table} SET {assignments} WHERE id = :_id", {**changes, "_id": row_id})


def soft_delete_app(conn, app_id: int) -> None:
    """Mark an app and everything active under it inactive, with one shared deleted_at.

    The shared timestamp lets restore_app bring back exactly what this delete took away,
    and not children that had been deleted on their own before.
    """
    now = utc_now()
    params = {"now": now, "app_id": app_id}
    conn.execute(
        "UPDATE datatables SET is_active = 0, deleted_at = :now, updated_at = :now"
        " WHERE is_active = 1 AND datasource_id IN"
        " (SELECT id FROM datasources WHERE app_id = :app_id)",
        params,
    )
    conn.execute(
        "UPDATE datasources SET is_active = 0, deleted_at = :now, updated_at = :now"
        " WHERE is_active = 1 AND app_id = :app_id",
        params,
    )
    conn.execute(
        "UPDATE apps SET is_active = 0, deleted_at = :now, updated_at = :now WHERE id = :app_id",
        params,
    )


def restore_app(conn, app_id: int, deleted_at: str) -> None:
    params = {"now": utc_now(), "app_id": app_id, "deleted_at": deleted_at}
    conn.execute(
        "UPDATE datatables SET is_active = 1, deleted_at = NULL, updated_at = :now"
        " WHERE deleted_at = :deleted_at AND datasource_id IN"
        " (SELECT id FROM datasources WHERE app_id = :app_id)",
        params,
    )
    conn.execute(
        "UPDATE datasources SET is_active = 1, deleted_at = NULL, updated_at = :now"
        " WHERE deleted_at = :deleted_at AND app_id = :app_id",
        params,
    )
    conn.execute(
        "UPDATE apps SET is_active = 1, deleted_at = NULL, updated_at = :now WHERE id = :app_id",
        params,
    )


# DataSources --------------------------------------------------------------------------------

DATASOURCE_SELECT = """
    SELECT d.*, a.slug AS app_slug, a.tenant AS tenant,
      (SELECT count(*) FROM datatables t WHERE t.datasource_id = d.id AND t.is_active = 1)
        AS table_count
    FROM datasources d JOIN apps a ON a.id = d.app_id
"""


def get_datasource(conn, app_id: int, slug: str, include_inactive: bool = False) -> Row | None:
    return _one(
        conn,
        DATASOURCE_SELECT
        + " WHERE d.app_id = ? AND d.slug = ?"
        + _active_clause("d", include_inactive),
        (app_id, slug),
    )


def list_datasources(
    conn, app_id: int, *, include_inactive: bool, after_id: int, limit: int
) -> list[Row]:
    return _rows(
        conn,
        DATASOURCE_SELECT
        + " WHERE d.app_id = ? AND d.id > ?"
        + _active_clause("d", include_inactive)
        + " ORDER BY d.id"
        + _limit(limit),
        (app_id, after_id),
    )


def count_datasources(conn, app_id: int, *, include_inactive: bool) -> int:
    return conn.execute(
        "SELECT count(*) FROM datasources d WHERE d.app_id = ?"
        + _active_clause("d", include_inactive),
        (app_id,),
    ).fetchone()[0]


def all_active_datasources(conn) -> list[Row]:
    return _rows(
        conn, DATASOURCE_SELECT + " WHERE d.is_active = 1 AND a.is_active = 1 ORDER BY d.id"
    )


def datasource_of_database(conn, database_name: str) -> Row | None:
    """The active datasource stored in a Datasette database (the name is unique)."""
    return _one(
        conn,
        DATASOURCE_SELECT + " WHERE d.database_name = ? AND d.is_active = 1",
        (database_name,),
    )


def all_datasources_of_app(conn, app_id: int) -> list[Row]:
    return _rows(conn, DATASOURCE_SELECT + " WHERE d.app_id = ? ORDER BY d.id", (app_id,))


def insert_datasource(conn, app_id: int, values: dict[str, Any]) -> int:
    now = utc_now()
    row = {
        **values,
        "app_id": app_id,
        "provider_config": json.dumps(values["provider_config"]),
        "created_at": now,
        "updated_at": now,
    }
    columns = ", ".join(row)
    placeholders = ", ".join(f":{c}" for c in row)
    return conn.execute(
        f"INSERT INTO datasources ({columns}) VALUES ({placeholders}) RETURNING id", row
    ).fetchone()[0]


def soft_delete_datasource(conn, datasource_id: int) -> None:
    params = {"now": utc_now(), "id": datasource_id}
    conn.execute(
        "UPDATE datatables SET is_active = 0, deleted_at = :now, updated_at = :now"
        " WHERE is_active = 1 AND datasource_id = :id",
        params,
    )
    conn.execute(
        "UPDATE datasources SET is_active = 0, deleted_at = :now, updated_at = :now WHERE id = :id",
        params,
    )


def restore_datasource(conn, datasource_id: int, deleted_at: str) -> None:
    params = {"now": utc_now(), "id": datasource_id, "deleted_at": deleted_at}
    conn.execute(
        "UPDATE datatables SET is_active = 1, deleted_at = NULL, updated_at = :now"
        " WHERE deleted_at = :deleted_at AND datasource_id = :id",
        params,
    )
    conn.execute(
        "UPDATE datasources SET is_active = 1, deleted_at = NULL, updated_at = :now WHERE id = :id",
        params,
    )


# DataTables ---------------------------------------------------------------------------------

DATATABLE_SELECT = """
    SELECT t.*, d.slug AS datasource_slug, d.provider_type, d.engine, d.database_name,
      d.provider_config, a.slug AS app_slug, a.id AS app_id, a.tenant AS tenant
    FROM datatables t JOIN datasources d ON d.id = t.datasource_id JOIN apps a ON a.id = d.app_id
"""


def get_datatable(
    conn, datasource_id: int, name: str, include_inactive: bool = False
) -> Row | None:
    return _one(
        conn,
        DATATABLE_SELECT
        + " WHERE t.datasource_id = ? AND t.name = ?"
        + _active_clause("t", include_inactive),
        (datasource_id, name),
    )


def _datatable_filters(
    app_id: int,
    datasource_id: int | None,
    is_materialized: bool | None,
    include_inactive: bool,
) -> tuple[str, dict[str, Any]]:
    where, params = ["a.id = :app_id"], {"app_id": app_id}
    if not include_inactive:
        where.append("t.is_active = 1 AND d.is_active = 1")
    if datasource_id is not None:
        where.append("t.datasource_id = :datasource_id")
        params["datasource_id"] = datasource_id
    if is_materialized is not None:
        where.append("t.is_materialized = :is_materialized")
        params["is_materialized"] = int(is_materialized)
    return " AND ".join(where), params


def get_datatable_by_id(conn, datatable_id: int) -> Row | None:
    return _one(conn, DATATABLE_SELECT + " WHERE t.id = ?", (datatable_id,))


def datatables_in_database(conn, database_name: str) -> list[Row]:
    return _rows(
        conn, DATATABLE_SELECT + " WHERE d.database_name = ? ORDER BY t.id", (database_name,)
    )


def list_datatables(
    conn,
    app_id: int,
    *,
    datasource_id: int | None = None,
    is_materialized: bool | None = None,
    include_inactive: bool,
    after_id: int = 0,
    limit: int = -1,
) -> list[Row]:
    where, params = _datatable_filters(app_id, datasource_id, is_materialized, include_inactive)
    sql = DATATABLE_SELECT + f" WHERE {where} AND t.id > :after_id ORDER BY t.id" + _limit(limit)
    return _rows(conn, sql, {**params, "after_id": after_id})


def count_datatables(
    conn,
    app_id: int,
    *,
    datasource_id: int | None = None,
    is_materialized: bool | None = None,
    include_inactive: bool,
) -> int:
    where, params = _datatable_filters(app_id, datasource_id, is_materialized, include_inactive)
    sql = (
        "SELECT count(*) FROM datatables t JOIN datasources d ON d.id = t.datasource_id"
        f" JOIN apps a ON a.id = d.app_id WHERE {where}"
    )
    return conn.execute(sql, params).fetchone()[0]


def all_materialized_datatables(conn) -> list[Row]:
    return _rows(conn, DATATABLE_SELECT + " WHERE t.is_materialized = 1 ORDER BY t.id")


def insert_datatable(conn, datasource_id: int, values: dict[str, Any]) -> int:
    now = utc_now()
    row = {**values, "datasource_id": datasource_id, "created_at": now, "updated_at": now}
    columns = ", ".join(row)
    placeholders = ", ".join(f":{c}" for c in row)
    return conn.execute(
        f"INSERT INTO datatables ({columns}) VALUES ({placeholders}) RETURNING id", row
    ).fetchone()[0]


def set_datatable_active(conn, datatable_id: int, active: bool) -> None:
    now = utc_now()
    conn.execute(
        "UPDATE datatables SET is_active = ?, deleted_at = ?, updated_at = ? WHERE id = ?",
        (int(active), None if active else now, now, datatable_id),
    )


def delete_datatable(conn, datatable_id: int) -> None:
    """Forget a purged datatable and its versions (its operations stay)."""
    conn.execute("DELETE FROM schema_versions WHERE datatable_id = ?", (datatable_id,))
    conn.execute("DELETE FROM datatables WHERE id = ?", (datatable_id,))
