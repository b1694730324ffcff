"""Writing validated rows to SQLite: flat_table columns or jsonb documents.

Written with plain ``executemany`` rather than sqlite-utils' ``insert_all``: the rows are
already validated and cast, so the per-row type detection and checks sqlite-utils does are
work the hot path can skip.
"""

from __future__ import annotations

import json
import operator
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from ..schema.columnar import ColumnarRows
from ..schema.names import quote_identifier as q
from .base import TableSpec
from .columnar_copy import columnar_values
from .sqlite_ddl import jsonb_key_expressions
from .sqlite_values import needs_conversion, to_native, to_storage
from .table_shape import key_list

MODES = ("insert", "ignore", "replace", "upsert")


def _insert_sql(
    table: str, columns: list[str], mode: str, conflict: list[str], target: str | None = None
) -> str:
    """``target`` overrides the conflict target (an expression list matching a unique index)."""
    verb = {"insert": "INSERT", "ignore": "INSERT OR IGNORE", "replace": "INSERT OR REPLACE"}
    sql = (
        f"{verb.get(mode, 'INSERT')} INTO {q(table)} ({', '.join(q(c) for c in columns)})"
        f" VALUES ({', '.join('?' for _ in columns)})"
    )
    if mode == "upsert":
        updates = [c for c in columns if c not in conflict] or conflict[:1]
        target = target or ", ".join(q(c) for c in conflict)
        assignments = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in updates)
        sql += f" ON CONFLICT ({target}) DO UPDATE SET {assignments}"
    return sql


def storage_values(fields: list[dict[str, Any]], rows: list[dict[str, Any]]) -> list[Sequence]:
    """Rows as parameter tuples; only fields whose values need converting pay for it.

    Booleans are bound as the integers 0 and 1, which is what SQLite stores either way:
    sqlite3 binds an int directly but puts a bool through its adapter protocol first (a
    failed lookup per value, ~1.5 us: half the cost of the whole executemany of a 6-column
    row). JSON values (dicts and lists) and ``any`` values are converted by to_storage."""
    if isinstance(rows, ColumnarRows):
        columnar = columnar_values(fields, rows)
        if columnar is not None:
            return columnar
    names = [f["name"] for f in fields]
    converted = [
        i for i, f in enumerate(fields) if needs_conversion(f) and f.get("type") != "boolean"
    ]
    booleans = [i for i, f in enumerate(fields) if f.get("type") == "boolean"]
    if not converted and not booleans:
        try:  # validated rows carry every field: one C-level lookup per row
            pick = operator.itemgetter(*names)
            return [pick(row) for row in rows] if len(names) > 1 else [(pick(r),) for r in rows]
        except KeyError:
            return [tuple(map(row.get, names)) for row in rows]
    columns = [_column(rows, name) for name in names]
    for i in booleans:  # True -> 1, False -> 0, anything else (None) as it is
        columns[i] = list(map(BOOLEAN_INTS.get, columns[i], columns[i]))
    for i in converted:
        field = fields[i]
        columns[i] = [v if v is None else to_storage(v, field) for v in columns[i]]
    return list(zip(*columns, strict=True))


BOOLEAN_INTS = {True: 1, False: 0}


def _column(rows: list[dict[str, Any]], name: str) -> list[Any]:
    try:
        return list(map(operator.itemgetter(name), rows))
    except KeyError:
        return [row.get(name) for row in rows]


def write_flat(
    conn: sqlite3.Connection,
    spec: TableSpec,
    rows: list[dict[str, Any]],
    mode: str,
    returning: bool,
) -> list[int] | None:
    """Insert (or upsert) validated rows; the rowids written when ``returning``."""
    fields = spec.fields
    columns = [f["name"] for f in fields]
    sql = _insert_sql(spec.physical_name, columns, mode, key_list(spec.schema.get("primaryKey")))
    values = storage_values(fields, rows)
    if not returning:
        conn.executemany(sql, values)
        return None
    rowids = []
    for row_values in values:
        cursor = conn.execute(sql + (" RETURNING rowid" if mode == "upsert" else ""), row_values)
        rowids.append(cursor.fetchone()[0] if mode == "upsert" else cursor.lastrowid)
    return rowids


def write_documents(
    conn: sqlite3.Connection,
    spec: TableSpec,
    rows: list[dict[str, Any]],
    mode: str,
    returning: bool,
) -> list[int] | None:
    """Store each validated row as one JSON document; ``_id`` picks the document id."""
    primary_key = key_list(spec.schema.get("primaryKey"))
    if mode == "upsert" and primary_key and all(r.get("_id") is None for r in rows):
        # Upsert by the schema's primary key: update the document holding it, keep its id.
        target = jsonb_key_expressions(primary_key)
        sql = _insert_sql(spec.physical_name, ["id", "data"], mode, ["id"], target)
    else:
        sql = _insert_sql(spec.physical_name, ["id", "data"], mode, ["id"])
    values = [
        (
            row.get("_id"),
            json.dumps({k: v for k, v in row.items() if k != "_id"}, ensure_ascii=False),
        )
        for row in rows
    ]
    if not returning:
        conn.executemany(sql, values)
        return None
    return [conn.execute(sql + " RETURNING id", v).fetchone()[0] for v in values]


def select_by_rowid(conn: sqlite3.Connection, table: str, rowids: list[int]) -> list[dict]:
    if not rowids:
        return []
    cursor = conn.execute(
        f"SELECT rowid AS __rowid, * FROM {q(table)} WHERE rowid IN"
        f" ({', '.join('?' for _ in rowids)})",
        rowids,
    )
    names = [d[0] for d in cursor.description]
    by_rowid = {row[0]: dict(zip(names[1:], row[1:], strict=True)) for row in cursor.fetchall()}
    return [by_rowid[r] for r in rowids if r in by_rowid]


def existing_values(
    conn: sqlite3.Connection,
    source: str,
    columns: tuple[str, ...],
    candidates: list[Any],
    owner: list[str] | None = None,
) -> dict[Any, tuple | None]:
    """Which of ``candidates`` (values, or tuples for several columns) ``source`` holds,
    each with the key (``owner`` columns) of the row holding it."""
    found: dict[Any, tuple | None] = {}
    if not candidates:
        return found
    width = len(columns)
    select = ", ".join(q(c) for c in [*columns, *(owner or [])])
    chunk = max(1, 900 // len(columns))
    for start in range(0, len(candidates), chunk):
        part = candidates[start : start + chunk]
        if len(columns) == 1:
            where = f"{q(columns[0])} IN ({', '.join('?' for _ in part)})"
            params: list[Any] = list(part)
        else:
            one = "(" + " AND ".join(f"{q(c)} = ?" for c in columns) + ")"
            where = " OR ".join([one] * len(part))
            params = [v for candidate in part for v in candidate]
        for row in conn.execute(f"SELECT {select} FROM {q(source)} WHERE {where}", params):
            value = row[0] if width == 1 else tuple(row[:width])
            found[value] = tuple(row[width:]) if owner else None
    return found


def all_keys(conn: sqlite3.Connection, source: str, columns: tuple[str, ...]) -> set[tuple]:
    select = ", ".join(q(c) for c in columns)
    return {tuple(row) for row in conn.execute(f"SELECT {select} FROM {q(source)}")}


def rows_by_key(
    conn: sqlite3.Connection, spec: TableSpec, source: str, key: list[str], keys: list[tuple]
) -> dict[tuple, dict[str, Any]]:
    """Stored rows (as JSON-native records) for each primary-key tuple found. The keys are
    as the request gave them: one SQLite cannot bind (an integer beyond 64 bits) matches no
    stored row, and the row validator then says what is wrong with it."""
    keys = [k for k in keys if all(_bindable(v) for v in k)]
    if not keys:
        return {}
    by_name = {f["name"]: f for f in spec.fields}
    one = "(" + " AND ".join(f"{q(c)} = ?" for c in key) + ")"
    found: dict[tuple, dict[str, Any]] = {}
    chunk = max(1, 900 // len(key))
    for start in range(0, len(keys), chunk):
        part = keys[start : start + chunk]
        cursor = conn.execute(
            f"SELECT {', '.join(q(c) for c in key)}, * FROM {q(source)}"
            f" WHERE {' OR '.join([one] * len(part))}",
            [v for k in part for v in k],
        )
        names = [d[0] for d in cursor.description][len(key) :]
        for row in cursor.fetchall():
            record = dict(zip(names, row[len(key) :], strict=True))
            native = {n: to_native(v, by_name[n]) for n, v in record.items() if n in by_name}
            if "_id" in record:
                native["_id"] = record["_id"]
            found[tuple(row[: len(key)])] = native
    return found


def _bindable(value: Any) -> bool:
    return type(value) is not int or -(2**63) <= value < 2**63


def write_batch(
    conn: sqlite3.Connection,
    write: Callable[..., Any],
    spec: TableSpec,
    rows: list[dict[str, Any]],
    mode: str,
    skip: bool,
) -> list[int]:
    """Write one import batch inside the caller's transaction.

    Returns the positions of rows the engine refused (a key already stored, say): with
    ``skip`` they are left out and the rest kept; without it the error propagates.
    """
    if not skip:
        write(conn, spec, rows, mode, False)
        return []
    conn.execute("SAVEPOINT batch")
    try:
        write(conn, spec, rows, mode, False)
        conn.execute("RELEASE batch")
        return []
    except sqlite3.IntegrityError:
        conn.execute("ROLLBACK TO batch")
        conn.execute("RELEASE batch")
    refused = []
    for position, row in enumerate(rows):
        conn.execute("SAVEPOINT one_row")
        try:
            write(conn, spec, [row], mode, False)
        except sqlite3.IntegrityError:
            conn.execute("ROLLBACK TO one_row")
            refused.append(position)
        conn.execute("RELEASE one_row")
    return refused
