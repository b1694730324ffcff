"""The rows a schema change would fail: stored values of the fields it touches, checked
against the new schema (a dry run reads them all, within a time budget)."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from ..providers.base import SCAN_BATCH, MigrationPlan, TableSpec
from ..schema.cast import make_error
from ..schema.rows import compile_validator

MAX_EXAMPLES = 10
ERROR_PARTS = ("type", "rowNumber", "note", "cell", "fieldName")


def checked_fields(plan: MigrationPlan, new: TableSpec) -> list[str]:
    """New fields whose existing values can fail the change."""
    names = [f["name"] for f in new.fields]
    fields: set[str] = set()
    for op in plan.operations:
        if not op.checks_rows:
            continue
        if op.field is not None:
            fields.add(op.field)
        value = op.after
        key_lists = [value.get("fields") if isinstance(value, dict) else value]
        if isinstance(value, dict) and not (value.get("reference") or {}).get("resource"):
            key_lists.append((value.get("reference") or {}).get("fields"))  # self-reference
        for keys in key_lists:
            keys = [keys] if isinstance(keys, str) else keys
            if isinstance(keys, list):
                fields.update(k for k in keys if isinstance(k, str) and k in names)
    return [n for n in names if n in fields]


# Every checked record carries its position under this name, so a row whose checked values
# are all empty is still checked (frictionless would call it a blank row and stop there).
ANCHOR = "\x00row"


def subschema(schema: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """The part of ``schema`` that concerns ``fields``: the fields and keys made only of them."""
    wanted = set(fields)

    def within(keys: Any) -> bool:
        keys = [keys] if isinstance(keys, str) else list(keys or [])
        return bool(keys) and set(keys) <= wanted

    sub: dict[str, Any] = {
        "fields": [
            *(f for f in schema["fields"] if f["name"] in wanted),
            {"name": ANCHOR, "type": "integer"},
        ]
    }
    for key in ("missingValues", "$schema"):
        if key in schema:
            sub[key] = schema[key]
    if within(schema.get("primaryKey")):
        sub["primaryKey"] = schema["primaryKey"]
    unique_keys = [k for k in schema.get("uniqueKeys") or [] if within(k)]
    if unique_keys:
        sub["uniqueKeys"] = unique_keys
    foreign_keys = [
        fk
        for fk in schema.get("foreignKeys") or []
        if within(fk.get("fields"))
        and not (fk.get("reference") or {}).get("resource")
        and within(fk["reference"].get("fields"))
    ]
    if foreign_keys:
        sub["foreignKeys"] = foreign_keys
    return sub


async def row_impact(
    provider, old: TableSpec, new: TableSpec, plan: MigrationPlan, deadline: float | None
) -> tuple[int, dict[str, Any], bool]:
    """How many stored rows fail ``plan`` (each operation gets its count and example keys),
    the report, and whether every row was checked before ``deadline``."""
    fields = checked_fields(plan, new)
    if not fields:
        return 0, {"valid": True, "stats": {"rows": None, "errors": 0}, "errors": []}, True
    sources = plan.sources
    readable = [sources[n] for n in fields if n in sources]
    stored, complete = await provider.read_records(old, readable, deadline)
    keys = [key for key, _ in stored]
    records = [
        {
            **{name: record.get(sources[name]) if name in sources else None for name in fields},
            ANCHOR: number,
        }
        for number, (_, record) in enumerate(stored)
    ]
    validator = compile_validator(subschema(new.schema, fields))
    result = await asyncio.to_thread(  # CPU work: off the event loop
        lambda: validator.validate_records(_until(records, deadline), first_row_number=1)
    )
    complete = complete and result.row_count == len(records)
    failing: dict[str, set[int]] = defaultdict(set)
    positions = {f["name"]: number for number, f in enumerate(new.fields, start=1)}
    for error in result.errors:
        if error.get("fieldName") in positions:  # its place in the schema, not the subschema
            at = positions[error["fieldName"]]
            error.update(make_error(*(error[k] for k in ERROR_PARTS), field_number=at))
        row = error.get("rowNumber")
        if row is None:
            continue
        failing[error.get("fieldName") or error["type"]].add(row)
        error["rowKey"] = keys[row - 1]
    for op in plan.operations:
        if not op.checks_rows:
            continue
        if op.field is not None:
            rows = failing.get(op.field, set())
        else:
            kind = {"change_primary_key": "primary-key", "add_foreign_key": "foreign-key"}
            rows = failing.get(kind.get(op.kind, "unique-error"), set())
        op.failing_rows = len(rows)
        op.examples = [keys[r - 1] for r in sorted(rows)[:MAX_EXAMPLES]]
    invalid = {e["rowNumber"] for e in result.errors if e.get("rowNumber") is not None}
    report = result.report()
    return len(invalid), report, complete


def _until(records: list[dict[str, Any]], deadline: float | None) -> Iterator[dict[str, Any]]:
    for number, record in enumerate(records):
        if deadline is not None and number % SCAN_BATCH == 0 and time.monotonic() > deadline:
            return
        yield record
