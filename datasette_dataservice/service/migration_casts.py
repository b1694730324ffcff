"""The casts a schema change applies to stored values: strict (a value that no longer casts
fails the change) or ``"on_invalid": "set_null"`` (failing values of optional fields are
emptied)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..schema.rows import compile_validator
from .row_impact import ANCHOR, subschema

if TYPE_CHECKING:
    from .migrations import Change


def _cast_into(validator, names: list[str], records: list[dict[str, Any]]) -> list[dict]:
    """Cast ``names`` of each record in place; returns the errors (row numbers from 0)."""
    values = [{**{n: r[n] for n in names}, ANCHOR: i} for i, r in enumerate(records)]
    result = validator.validate_records(values, first_row_number=0)
    for number, cast_values in zip(result.row_numbers, result.rows, strict=True):
        cast_values.pop(ANCHOR)
        records[number].update(cast_values)
    return result.errors


def strict_cast(change: Change):
    names = change.plan.recast
    validator = compile_validator(subschema(change.new.schema, names))

    def cast(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        errors = _cast_into(validator, names, records)
        if errors:
            raise ValueError(f"a value no longer casts: {errors[0]['message']}")
        return records

    return cast


def set_null_cast(change: Change):
    """A cast that empties failing values, or why that cannot fix the change."""
    fields = {f["name"]: f for f in change.new.fields}
    keys = set(_key_fields(change.new.schema))
    failing = {e.get("fieldName") for e in change.report.get("errors", [])}
    blocked = sorted(
        str(n)
        for n in failing
        if n not in fields or n in keys or (fields[n].get("constraints") or {}).get("required")
    )
    if blocked:
        return (
            f'"on_invalid": "set_null" cannot fix {", ".join(blocked)}: required, key or '
            "table-level problems need the rows fixed"
        )
    checked = [n for n in fields if n in failing or n in change.plan.recast]
    validator = compile_validator(subschema(change.new.schema, checked))

    def cast(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for error in _cast_into(validator, checked, records):
            records[error["rowNumber"]][error["fieldName"]] = None
        errors = _cast_into(validator, checked, records)
        if errors:
            raise ValueError(errors[0]["message"])
        return records

    return cast


def _key_fields(schema: dict[str, Any]) -> list[str]:
    keys: list[str] = []
    for value in [schema.get("primaryKey"), *(schema.get("uniqueKeys") or [])]:
        keys += [value] if isinstance(value, str) else list(value or [])
    for fk in schema.get("foreignKeys") or []:
        fields = fk.get("fields")
        keys += [fields] if isinstance(fields, str) else list(fields or [])
    return keys
