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

from ..schema.diff import Operation
from ..schema.names import quote_identifier as q
from .base import MigrationPlan, TableSpec
from .flat_change import decide_flat_change, in_place_sql, mark_rebuild, renames_of, sources_of
from .sqlite_ddl import (
    column_definitions,
    flat_table_sql,
    jsonb_drop_index_sql,
    jsonb_index_sql,
    jsonb_view_sql,
)
from .sqlite_ddl import table_constraints as constraints_of
from .sqlite_values import to_native, to_storage
from .table_shape import jsonb_view_name

COPY_BATCH = 10_000


def plan_flat_table(old: TableSpec, new: TableSpec, operations: list[Operation]) -> MigrationPlan:
    change = decide_flat_change(old, new, operations, column_definitions, constraints_of)
    sources, recast = change.sources, change.recast
    table = q(new.physical_name)
    if change.in_place:
        sql = in_place_sql(table, operations, change.after)
        return MigrationPlan(operations, sql, rebuild=False, sources=sources)
    mark_rebuild(operations)
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
