"""How a flat_table schema change is carried out, whatever the engine: ALTER in place or
rebuild, which fields keep their data, which are re-cast. The engines differ only in the
DDL text their ``column_definitions`` and ``table_constraints`` produce."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..schema.diff import Operation, rename_schema
from ..schema.names import quote_identifier as q
from .base import TableSpec

IN_PLACE = {"add_field", "drop_field", "rename_field"}
NOT_ADDABLE = ("PRIMARY KEY", "UNIQUE", "NOT NULL")
METADATA_ONLY = {"change_description", "change_missing_values"}


def renames_of(operations: list[Operation]) -> dict[str, str]:
    return {op.before: op.after for op in operations if op.kind == "rename_field"}


def sources_of(old: TableSpec, new: TableSpec, renames: dict[str, str]) -> dict[str, str]:
    """New field name -> old column, for every field that keeps its data."""
    back = {after: before for before, after in renames.items()}
    old_names = {f["name"] for f in old.fields}
    return {
        f["name"]: back.get(f["name"], f["name"])
        for f in new.fields
        if back.get(f["name"], f["name"]) in old_names
    }


@dataclass
class FlatChange:
    sources: dict[str, str]
    after: dict[str, str]  # each new field's column definition
    in_place: bool
    recast: list[str]


def decide_flat_change(
    old: TableSpec,
    new: TableSpec,
    operations: list[Operation],
    column_definitions: Callable[[dict[str, Any]], dict[str, str]],
    table_constraints: Callable[[TableSpec], list[str]],
) -> FlatChange:
    """ALTER in place for added, dropped and renamed fields when nothing else changes and no
    existing row gains a NOT NULL, UNIQUE or PRIMARY KEY; otherwise a rebuild."""
    renames = renames_of(operations)
    sources = sources_of(old, new, renames)
    renamed_old = TableSpec(
        old.physical_name, rename_schema(old.schema, renames), new.resolve_reference
    )
    before, after = column_definitions(renamed_old.schema), column_definitions(new.schema)
    dropped = [op.field for op in operations if op.kind == "drop_field"]
    old_keys = table_constraints(old)
    in_place = (
        all(before[name] == after[name] for name in sources)
        and all(not any(w in after[n] for w in NOT_ADDABLE) for n in after if n not in sources)
        and all(
            not any(w in column_definitions(old.schema)[n] for w in ("PRIMARY KEY", "UNIQUE"))
            and not any(q(n) in line for line in old_keys)
            for n in dropped
        )
        and table_constraints(renamed_old) == table_constraints(new)
    )
    recast = [
        op.field
        for op in operations
        if op.kind == "change_type" and op.field in sources and before[op.field] != after[op.field]
    ]
    return FlatChange(sources, after, in_place, recast)


def in_place_sql(table: str, operations: list[Operation], after: dict[str, str]) -> list[str]:
    """The ALTER statements of an in-place change (``table`` quoted); sets each effect."""
    sql = []
    for op in operations:
        if op.kind == "drop_field":
            sql.append(f"ALTER TABLE {table} DROP COLUMN {q(op.field)}")
        elif op.kind == "rename_field":
            sql.append(f"ALTER TABLE {table} RENAME COLUMN {q(op.before)} TO {q(op.after)}")
        elif op.kind == "add_field":
            sql.append(f"ALTER TABLE {table} ADD COLUMN {after[op.field]}")
        op.effect = "alter" if op.kind in IN_PLACE else "metadata"
    return sql


def mark_rebuild(operations: list[Operation]) -> None:
    for op in operations:
        op.effect = "metadata" if op.kind in METADATA_ONLY else "rebuild"
