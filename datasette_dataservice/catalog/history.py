"""The catalog's history: schema versions (kept forever) and the append-only operation log."""

from __future__ import annotations

import json
from typing import Any

from .store import Row, _limit, _one, _rows, utc_now


def insert_schema_version(
    conn,
    datatable_id: int,
    version: int,
    json_schema: str,
    schema_hash: str,
    actor: str | None,
    renames: dict[str, str] | None = None,
) -> None:
    conn.execute(
        "INSERT INTO schema_versions"
        " (datatable_id, version, json_schema, schema_hash, actor, created_at, renames)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            datatable_id,
            version,
            json_schema,
            schema_hash,
            actor,
            utc_now(),
            json.dumps(renames or {}),
        ),
    )


def list_schema_versions(conn, datatable_id: int) -> list[Row]:
    return _rows(
        conn,
        "SELECT * FROM schema_versions WHERE datatable_id = ? ORDER BY version",
        (datatable_id,),
    )


def get_schema_version(conn, datatable_id: int, version: int) -> Row | None:
    return _one(
        conn,
        "SELECT * FROM schema_versions WHERE datatable_id = ? AND version = ?",
        (datatable_id, version),
    )


# Schema operations (append-only) ------------------------------------------------------------

OPERATION_COLUMNS = (
    "tenant app_id datasource_id datatable_id operation target_type target actor status"
    " schema_before schema_after sql details duration_ms error"
).split()


def insert_operation(conn, operation: dict[str, Any]) -> int:
    unknown = set(operation) - set(OPERATION_COLUMNS)
    assert not unknown, unknown
    row = {column: operation.get(column) for column in OPERATION_COLUMNS}
    row["tenant"] = row["tenant"] or ""
    for column in ("schema_before", "schema_after"):
        if row[column] is not None and not isinstance(row[column], str):
            row[column] = json.dumps(row[column])
    row["sql"] = json.dumps(row["sql"] or [])
    row["details"] = json.dumps(row["details"] or {})
    row["created_at"] = utc_now()
    columns = ", ".join(row)
    placeholders = ", ".join(f":{c}" for c in row)
    return conn.execute(
        f"INSERT INTO schema_operations ({columns}) VALUES ({placeholders}) RETURNING id", row
    ).fetchone()[0]


LIVE_DATATABLES = (
    " AND (datatable_id IS NULL OR datatable_id IN (SELECT id FROM datatables WHERE is_active = 1))"
)


def list_operations(
    conn,
    *,
    app_id: int,
    datatable_id: int | None,
    after_id: int,
    limit: int,
    include_inactive: bool = True,
) -> list[Row]:
    """The app's (or one datatable's) operations; without ``include_inactive``, none of a
    deleted or purged datatable."""
    where = "app_id = ? AND id > ?"
    params: list[Any] = [app_id, after_id]
    if datatable_id is not None:
        where += " AND datatable_id = ?"
        params.append(datatable_id)
    if not include_inactive:
        where += LIVE_DATATABLES
    return _rows(
        conn,
        f"SELECT * FROM schema_operations WHERE {where} ORDER BY id" + _limit(limit),
        params,
    )


def last_operation_time(conn, app_id: int, datasource_id: int | None = None) -> str | None:
    sql = "SELECT max(created_at) FROM schema_operations WHERE app_id = ?"
    params: tuple = (app_id,)
    if datasource_id is not None:
        sql += " AND datasource_id = ?"
        params += (datasource_id,)
    return conn.execute(sql, params).fetchone()[0]


def count_operations(
    conn, app_id: int, datatable_id: int | None, include_inactive: bool = True
) -> int:
    sql, params = "SELECT count(*) FROM schema_operations WHERE app_id = ?", [app_id]
    if datatable_id is not None:
        sql += " AND datatable_id = ?"
        params.append(datatable_id)
    if not include_inactive:
        sql += LIVE_DATATABLES
    return conn.execute(sql, params).fetchone()[0]


# Schema changes in flight --------------------------------------------------------------------
# Written before a migration touches the physical table and removed in the transaction that
# records it, so a crash in between leaves a row that recovery (service.recovery) resolves.


def insert_pending_change(conn, datatable_id: int, change: dict[str, Any]) -> None:
    row = {**change, "datatable_id": datatable_id, "created_at": utc_now()}
    columns = ", ".join(row)
    placeholders = ", ".join(f":{c}" for c in row)
    conn.execute(f"INSERT INTO pending_schema_changes ({columns}) VALUES ({placeholders})", row)


def delete_pending_change(conn, datatable_id: int) -> None:
    conn.execute("DELETE FROM pending_schema_changes WHERE datatable_id = ?", (datatable_id,))


def pending_changes(conn) -> list[Row]:
    return _rows(conn, "SELECT * FROM pending_schema_changes ORDER BY datatable_id")


def pending_change(conn, datatable_id: int) -> Row | None:
    sql = "SELECT * FROM pending_schema_changes WHERE datatable_id = ?"
    return _one(conn, sql, (datatable_id,))
