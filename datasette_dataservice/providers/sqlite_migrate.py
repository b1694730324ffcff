"""Schema changes on SQLite: in-place ALTERs where SQLite can, a table rebuild where not.

The rebuild is written here rather than with sqlite-utils ``transform``: transform carries
the old table's CHECK and UNIQUE constraints over, and cannot express the new ones a Table
Schema change asks for. It follows SQLite's documented recipe (create the new table, copy,
drop, rename) inside one transaction, with foreign keys checked before it commits.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from ..schema.diff import Operation, rename_schema
from ..schema.names import quote_identifier as q
from .base import MigrationPlan, TableSpec
from .sqlite_ddl import (
    column_definitions,
    flat_table_sql,
    jsonb_drop_index_sql,
    jsonb_index_sql,
    jsonb_view_name,
    jsonb_view_sql,
)
from .sqlite_ddl import table_constraints as constraints_of
from .sqlite_values import to_native, to_storage

COPY_BATCH = 10_000
IN_PLACE = {"add_field", "drop_field", "rename_field"}
NOT_ADDABLE = ("PRIMARY KEY", "UNIQUE", "NOT NULL")


def renames_of(operations: list[Operation]) -> dict[str, str]:
    return {op.before: op.after for op in operations if op.kind == "rename_field"}


def sources_of(old: TableSpec, new: TableSpec, renames: dict[str, str]) -> dict[str, str]:
    back = {after: before for before, after in renames.items()}
    old_names = {f["name"] for f in old.fields}
    return {
        f["name"]: back.get(f["name"], f["name"])
        for f in new.fields
        if back.get(f["name"], f["name"]) in old_names
    }


def plan_flat_table(old: TableSpec, new: TableSpec, operations: list[Operation]) -> MigrationPlan:
    renames = renames_of(operations)
    sources = sources_of(old, new, renames)
    renamed_old = TableSpec(
        old.physical_name, rename_schema(old.schema, renames), new.resolve_reference
    )
    before, after = column_definitions(renamed_old.schema), column_definitions(new.schema)
    dropped = [op.field for op in operations if op.kind == "drop_field"]
    old_keys = constraints_of(old)
    in_place = (
        all(before[name] == after[name] for name in sources)
        and all(not any(w in after[n] for w in NOT_ADDABLE) for n in after if n not in sources)
        and all(
            not any(w in column_definitions(old.schema)[n] for w in ("PRIMARY KEY", "UNIQUE"))
            and not any(q(n) in line for line in old_keys)
            for n in dropped
        )
        and constraints_of(renamed_old) == constraints_of(new)
    )
    recast = [
        op.field
        for op in operations
        if op.kind == "change_type" and op.field in sources and before[op.field] != after[op.field]
    ]
    table = q(new.physical_name)
    if in_place:
        sql = []
        for op in operations:
            if op.kind == "drop_field":
                sql.append(f"ALTER TABLE {table} DROP COLUMN {q(op.field)}")
            elif op.kind == "rename_field":
                sql.append(f"ALTER TABLE {table} RENAME COLUMN {q(op.before)} TO {q(op.after)}")
            elif op.kind == "add_field":
                sql.append(f"ALTER TABLE {table} ADD COLUMN {after[op.field]}")
            op.effect = "alter" if op.kind in IN_PLACE else "metadata"
        return MigrationPlan(operations, sql, rebuild=False, sources=sources)
    changes_ddl = {"change_description", "change_missing_values"}
    for op in operations:
        op.effect = "metadata" if op.kind in changes_ddl else "rebuild"
    temporary = f"_dataservice_new_{new.physical_name}"
    columns = ", ".join(q(name) for name in sources)
    copy = (
        f"INSERT INTO {q(temporary)} ({columns}) SELECT "
        + ", ".join(q(source) for source in sources.values())
        + f" FROM {table}"
    )
    if recast:
        copy = f"-- rows copied in batches of {COPY_BATCH}, casting {', '.join(recast)}: {copy}"
    sql = [
        flat_table_sql(new, name=temporary),
        copy,
        f"DROP TABLE {table}",
        f"ALTER TABLE {q(temporary)} RENAME TO {table}",
    ]
    return MigrationPlan(operations, sql, rebuild=True, sources=sources, recast=recast)


def plan_jsonb(old: TableSpec, new: TableSpec, operations: list[Operation]) -> MigrationPlan:
    """Documents stay as written: only the view over them changes."""
    for op in operations:
        op.effect = "metadata"
    sql = [f"DROP VIEW IF EXISTS {q(jsonb_view_name(new.physical_name))}", jsonb_view_sql(new)]
    if jsonb_index_sql(old) != jsonb_index_sql(new):
        sql += [*jsonb_drop_index_sql(old), *jsonb_index_sql(new)]
    return MigrationPlan(operations, sql, sources=sources_of(old, new, renames_of(operations)))


def run_in_place(conn: sqlite3.Connection, plan: MigrationPlan) -> int:
    for statement in plan.sql:
        conn.execute(statement)
    return 0


def run_rebuild(
    conn: sqlite3.Connection,
    old: TableSpec,
    new: TableSpec,
    plan: MigrationPlan,
    cast: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None,
) -> int:
    """Carry out a rebuild plan; the caller holds no transaction (foreign_keys is toggled)."""
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            create, copy, *swap = plan.sql
            conn.execute(create)
            if plan.recast or cast is not None:
                copied = _copy_in_batches(conn, old, new, plan, cast)
            else:
                copied = conn.execute(copy).rowcount
            for statement in swap:
                conn.execute(statement)
            problems = conn.execute("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise sqlite3.IntegrityError(
                    f"foreign key check failed after the rebuild: {problems[:5]}"
                )
            conn.execute("COMMIT")
            return copied
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.execute("PRAGMA foreign_keys = ON")


def _copy_in_batches(conn, old: TableSpec, new: TableSpec, plan: MigrationPlan, cast) -> int:
    old_fields = {f["name"]: f for f in old.fields}
    new_fields = {f["name"]: f for f in new.fields}
    names = list(plan.sources)
    select = ", ".join(q(plan.sources[n]) for n in names)
    temporary = f"_dataservice_new_{new.physical_name}"
    insert = (
        f"INSERT INTO {q(temporary)} ({', '.join(q(n) for n in names)})"
        f" VALUES ({', '.join('?' for _ in names)})"
    )
    cursor = conn.execute(f"SELECT {select} FROM {q(old.physical_name)}")
    copied = 0
    while batch := cursor.fetchmany(COPY_BATCH):
        records = [
            {n: to_native(v, old_fields[plan.sources[n]]) for n, v in zip(names, row, strict=True)}
            for row in batch
        ]
        if cast is not None:
            records = cast(records)
        conn.executemany(
            insert, [[to_storage(r[n], new_fields[n]) for n in names] for r in records]
        )
        copied += len(records)
    return copied
