"""What a Table Schema says about a table's shape, the same on every engine: a field's type,
its keys, the jsonb view's name, a document's values in field order. (Once in sqlite_ddl and
sqlite_values, where the Postgres provider had to reach into SQLite modules for them.)"""

from __future__ import annotations

from typing import Any

from .base import TableSpec

# The column type a field gets, the same on every engine's answers: SQLite declares it
# (sqlite_ddl.py) and a Postgres-backed table reports it (column_details, labels), so a client
# cannot tell the engines apart.
DECLARED_TYPES = {
    "string": "TEXT",
    "integer": "INTEGER",
    "number": "REAL",
    "boolean": "INTEGER",
    "object": "TEXT",
    "array": "TEXT",
    "list": "TEXT",
    "date": "TEXT",
    "time": "TEXT",
    "datetime": "TEXT",
    "year": "INTEGER",
    "yearmonth": "TEXT",
    "duration": "TEXT",
    "geopoint": "TEXT",
    "geojson": "TEXT",
    "any": "ANY",
}


def field_type(field: dict[str, Any]) -> str:
    return field.get("type") or "string"  # frictionless reads a field without a type as string


def jsonb_view_name(physical_name: str) -> str:
    return f"{physical_name}_view"


def jsonb_keys(spec: TableSpec) -> list[list[str]]:
    """The schema's keys (primary key first, then unique fields and uniqueKeys)."""
    keys = []
    if spec.schema.get("primaryKey"):
        keys.append(key_list(spec.schema["primaryKey"]))
    keys += [[f["name"]] for f in spec.fields if (f.get("constraints") or {}).get("unique")]
    keys += [key_list(k) for k in spec.schema.get("uniqueKeys") or []]
    unique: list[list[str]] = []
    for key in keys:
        if key not in unique:
            unique.append(key)
    return unique


def key_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def document_values(document: dict, names: list[str], aliases: dict[str, list[str]]) -> list:
    values = []
    for name in names:
        for key in [name, *aliases.get(name, [])]:
            if key in document:
                values.append(document[key])
                break
        else:
            values.append(None)
    return values
