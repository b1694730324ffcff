"""Schema changes on PostgreSQL: in-place ALTERs where the SQLite provider alters in place,
a table rebuild where it rebuilds; either way in one transaction (PostgreSQL's DDL is
transactional, so a failed change leaves the old table exactly as it was).

The rebuild moves the old table into a scratch schema (O(1): ``SET SCHEMA``), creates the
new one with the very DDL a fresh materialize runs, so names, column order and constraints
equal a fresh table's, copies the rows across (re-cast in Python, in batches, when a type
changes) and drops the scratch schema. Foreign keys of other tables that reference the
table are saved and dropped first and added again at the end, which re-checks them against
the new rows. The plan's SQL is exactly what runs (the copy runs in batches when values are
re-cast, as its line says).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import psycopg

from ..schema.diff import Operation
from ..schema.names import quote_identifier as q
from .base import MigrationPlan, TableSpec
from .flat_change import decide_flat_change, in_place_sql, mark_rebuild, renames_of, sources_of
from .postgres_ddl import (
    column_definitions,
    flat_table_sql,
    jsonb_drop_index_sql,
    jsonb_index_sql,
    jsonb_view_sql,
    rowid_column,
    scratch_schema,
    table_name,
)
from .postgres_ddl import table_constraints as constraints_of
from .postgres_rows import copy_into
from .postgres_values import native_rows, row_values
from .table_shape import jsonb_view_name

COPY_BATCH = 10_000
PROBE = "_dataservice_probe"  # has_schema's scratch table or view, never committed
INBOUND = "_dataservice_inbound"  # the saved foreign keys, a temporary table of the transaction
SAVE_INBOUND = (
    f"CREATE TEMP TABLE {INBOUND} ON COMMIT DROP AS"
    " SELECT conrelid::regclass::text AS referencing, conname,"
    " pg_get_constraintdef(oid) AS definition"
    " FROM pg_constraint WHERE contype = 'f' AND confrelid = {table}::regclass"
    " AND conrelid <> confrelid"
)
FOR_EACH_INBOUND = (
    "DO $$DECLARE r record; BEGIN FOR r IN SELECT * FROM " + INBOUND + " ORDER BY 1, 2 LOOP"
    " EXECUTE format({action}); END LOOP; END$$"
)
DROP_INBOUND = FOR_EACH_INBOUND.format(
    action="'ALTER TABLE %s DROP CONSTRAINT %I', r.referencing, r.conname"
)
ADD_INBOUND = FOR_EACH_INBOUND.format(
    action="'ALTER TABLE %s ADD CONSTRAINT %I %s', r.referencing, r.conname, r.definition"
)


def plan_flat_table(
    old: TableSpec, new: TableSpec, operations: list[Operation], schema: str
) -> MigrationPlan:
    """The SQLite provider's decision (flat_change), compiled to Postgres DDL."""
    change = decide_flat_change(
        old, new, operations, column_definitions, lambda spec: constraints_of(spec, schema)
    )
    table = table_name(schema, new.physical_name)
    if change.in_place:
        sql = in_place_sql(table, operations, change.after)
        return MigrationPlan(operations, sql, rebuild=False, sources=change.sources)
    mark_rebuild(operations)
    plan = MigrationPlan(operations, [], rebuild=True, sources=change.sources, recast=change.recast)
    steps = rebuild_steps(old, new, plan, schema)
    plan.sql = [*steps.before, steps.copy, *steps.after]
    return plan


class RebuildSteps:
    """The statements of a rebuild, in order: before the copy, the copy, after it."""

    def __init__(self, before: list[str], copy: str, after: list[str], old_table: str):
        self.before, self.copy, self.after, self.old_table = before, copy, after, old_table


def copy_order(old: TableSpec) -> str:
    """Rows of a table without a primary key are copied in rowid order, so the new table
    numbers them as SQLite's rebuild does."""
    rowid = rowid_column(old.schema)
    return f" ORDER BY {q(rowid)}" if rowid else ""


def rebuild_steps(old: TableSpec, new: TableSpec, plan: MigrationPlan, schema: str) -> RebuildSteps:
    scratch = scratch_schema(schema, new.physical_name)
    old_table = table_name(scratch, new.physical_name)
    table = table_name(schema, new.physical_name)
    columns = ", ".join(q(name) for name in plan.sources)
    copy = (
        f"INSERT INTO {table} ({columns}) SELECT "
        + ", ".join(q(source) for source in plan.sources.values())
        + f" FROM {old_table}"
        if plan.sources
        else f"INSERT INTO {table} SELECT FROM {old_table}"  # every row, every column new
    ) + copy_order(old)
    if plan.recast:
        copy = (
            f"-- rows copied in batches of {COPY_BATCH}, casting {', '.join(plan.recast)}: {copy}"
        )
    literal = "'" + table.replace("'", "''") + "'"
    return RebuildSteps(
        [
            SAVE_INBOUND.replace("{table}", literal),
            DROP_INBOUND,
            f"CREATE SCHEMA {q(scratch)}",
            f"ALTER TABLE {table} SET SCHEMA {q(scratch)}",
            flat_table_sql(new, schema),
        ],
        copy,
        [ADD_INBOUND, f"DROP TABLE {old_table}", f"DROP SCHEMA {q(scratch)}"],
        old_table,
    )


def plan_jsonb(
    old: TableSpec, new: TableSpec, operations: list[Operation], schema: str
) -> MigrationPlan:
    """Documents stay as written: only the view over them (and the key indexes) change."""
    for op in operations:
        op.effect = "metadata"
    view = table_name(schema, jsonb_view_name(new.physical_name))
    sql = [f"DROP VIEW IF EXISTS {view}", jsonb_view_sql(new, schema)]
    if jsonb_index_sql(old, schema) != jsonb_index_sql(new, schema):
        sql += [*jsonb_drop_index_sql(old, schema), *jsonb_index_sql(new, schema)]
    return MigrationPlan(operations, sql, sources=sources_of(old, new, renames_of(operations)))


async def run_in_place(conn: psycopg.AsyncConnection, plan: MigrationPlan) -> int:
    for statement in plan.sql:
        await conn.execute(statement)
    return 0


async def run_rebuild(
    conn: psycopg.AsyncConnection,
    old: TableSpec,
    new: TableSpec,
    plan: MigrationPlan,
    cast: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None,
    schema: str,
) -> int:
    """Carry out a rebuild plan inside the caller's transaction; the rows copied."""
    table = table_name(schema, new.physical_name)
    steps = rebuild_steps(old, new, plan, schema)  # the very statements the plan shows
    for statement in steps.before:
        await conn.execute(statement)
    if plan.recast or cast is not None:
        copied = await _copy_in_batches(conn, old, new, plan, cast, steps.old_table, table)
    else:
        copied = (await conn.execute(steps.copy)).rowcount
    for statement in steps.after:
        await conn.execute(statement)
    return copied


async def _copy_in_batches(
    conn: psycopg.AsyncConnection,
    old: TableSpec,
    new: TableSpec,
    plan: MigrationPlan,
    cast: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None,
    old_table: str,
    table: str,
) -> int:
    """Read the old rows a batch at a time, re-cast them in a worker thread (frictionless
    casting is CPU work), and COPY them into the new table."""
    old_fields = {f["name"]: f for f in old.fields}
    new_fields = {f["name"]: f for f in new.fields}
    names = list(plan.sources)
    reading = [old_fields[plan.sources[n]] for n in names]
    writing = [new_fields[n] for n in names]
    select = ", ".join(q(plan.sources[n]) for n in names)
    copied = 0
    async with conn.cursor(name="_dataservice_rebuild") as source:
        await source.execute(f"SELECT {select} FROM {old_table}{copy_order(old)}")
        while batch := await source.fetchmany(COPY_BATCH):
            records = [dict(zip(names, row, strict=True)) for row in native_rows(reading, batch)]
            if cast is not None:
                records = await asyncio.to_thread(cast, records)
            await copy_into(conn, table, names, row_values(writing, records, copy=True))
            copied += len(records)
    return copied


async def dependent_renames(
    conn: psycopg.AsyncConnection, schema: str, old: str, new: str
) -> list[str]:
    """Rename the table's constraints, indexes and sequences named after its old name (as
    PostgreSQL or create_sql named them), so the old name is free for a new table."""
    table = table_name(schema, new)
    cursor = await conn.execute(
        "SELECT 'constraint', conname FROM pg_constraint WHERE conrelid = %s::regclass"
        " UNION ALL SELECT 'index', i.relname FROM pg_index x"
        " JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = %s::regclass"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid"
        " AND c.conrelid = x.indrelid)"
        " UNION ALL SELECT 'sequence', s.relname FROM pg_depend d"
        " JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'"
        " WHERE d.refobjid = %s::regclass AND d.deptype IN ('a', 'i') ORDER BY 1, 2",
        [table, table, table],
    )
    statements = []
    for kind, name in await cursor.fetchall():
        if not name.startswith(f"{old}_"):
            continue
        renamed = new + name[len(old) :]
        if len(renamed.encode()) > 63:
            continue  # keeps its old name rather than being truncated
        if kind == "constraint":
            statements.append(f"ALTER TABLE {table} RENAME CONSTRAINT {q(name)} TO {q(renamed)}")
        else:
            statements.append(
                f"ALTER {kind.upper()} {table_name(schema, name)} RENAME TO {q(renamed)}"
            )
    for statement in statements:
        await conn.execute(statement)
    return statements


# Crash recovery: does the live table already have a schema's shape? ---------------------


async def table_shape(conn: psycopg.AsyncConnection, table: str) -> tuple[list, list] | None:
    """Columns (name, type, NOT NULL) in order and constraint definitions, sorted."""
    cursor = await conn.execute("SELECT to_regclass(%s)::oid", [table])
    oid = (await cursor.fetchone())[0]
    if oid is None:
        return None
    cursor = await conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute"
        " WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        [oid],
    )
    columns = await cursor.fetchall()
    cursor = await conn.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s ORDER BY 1",
        [oid],
    )
    return columns, [row[0] for row in await cursor.fetchall()]


async def view_definition(conn: psycopg.AsyncConnection, view: str) -> str | None:
    cursor = await conn.execute(
        "SELECT pg_get_viewdef(to_regclass(%s)) WHERE to_regclass(%s) IS NOT NULL",
        [view, view],
    )
    row = await cursor.fetchone()
    return None if row is None else row[0]


async def probe_shapes(
    conn: psycopg.AsyncConnection, describe, live: str, create: str, probe: str
) -> tuple[Any, Any] | None:
    """``describe`` of the live object and of the probe ``create`` makes, in a transaction
    that is rolled back: PostgreSQL's own normal form of what a fresh materialize makes."""
    found = await describe(conn, live)
    if found is None:
        return None
    async with conn.transaction(force_rollback=True):
        await conn.execute(create)
        return found, await describe(conn, probe)
