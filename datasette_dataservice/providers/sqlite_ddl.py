"""Table Schema -> SQLite DDL for flat_table (a STRICT table) and jsonb (a table plus a view).

Written by hand because sqlite-utils' public ``create_table`` has no CHECK or UNIQUE
constraints, which is how Table Schema constraints reach the engine. Rebuilds later go
through sqlite-utils ``transform``, which keeps these constraints.
"""

from __future__ import annotations

from typing import Any

from ..schema.names import quote_identifier as q
from .base import TableSpec
from .table_shape import DECLARED_TYPES as COLUMN_TYPES
from .table_shape import field_type, jsonb_keys, jsonb_view_name, key_list

NUMERIC_TYPES = {"integer", "number", "year"}
JSON_TYPES = {"object": "object", "array": "array", "geojson": "object"}


def literal(value: Any) -> str:
    """An SQL literal for a constraint value (numbers as-is, everything else as quoted text)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def column_checks(field: dict[str, Any]) -> list[str]:
    """CHECK expressions the engine can enforce for one field.

    Patterns, formats and ranges on dates are left to the row validator: SQLite has no
    REGEXP by default and compares dates as text.
    """
    column, kind = q(field["name"]), field_type(field)
    constraints = field.get("constraints") or {}
    checks = []
    if kind == "boolean":
        checks.append(f"{column} IN (0, 1)")
    if kind in JSON_TYPES:  # json_valid(NULL) is 0 on some SQLite versions: allow NULL first
        checks.append(
            f"{column} IS NULL OR (json_valid({column}) AND json_type({column}) = "
            f"'{JSON_TYPES[kind]}')"
        )
    if kind in NUMERIC_TYPES:
        for key, operator in (
            ("minimum", ">="),
            ("maximum", "<="),
            ("exclusiveMinimum", ">"),
            ("exclusiveMaximum", "<"),
        ):
            if isinstance(constraints.get(key), int | float) and not isinstance(
                constraints.get(key), bool
            ):
                checks.append(f"{column} {operator} {literal(constraints[key])}")
    if kind == "string":
        if isinstance(constraints.get("minLength"), int):
            checks.append(f"length({column}) >= {constraints['minLength']}")
        if isinstance(constraints.get("maxLength"), int):
            checks.append(f"length({column}) <= {constraints['maxLength']}")
    if kind in {"string", "integer", "number", "year"} and constraints.get("enum"):
        values = ", ".join(literal(v) for v in constraints["enum"])
        checks.append(f"{column} IN ({values})")
    return checks


def column_definitions(schema: dict[str, Any]) -> dict[str, str]:
    """Each field's column definition: type, NOT NULL, UNIQUE, CHECK, inline primary key."""
    fields = schema["fields"]
    primary_key = key_list(schema.get("primaryKey"))
    single_integer_pk = (
        len(primary_key) == 1
        and field_type(next(f for f in fields if f["name"] == primary_key[0])) == "integer"
    )
    definitions = {}
    for field in fields:
        name = field["name"]
        constraints = field.get("constraints") or {}
        parts = [q(name), COLUMN_TYPES.get(field_type(field), "ANY")]
        if single_integer_pk and name == primary_key[0]:
            parts.append("PRIMARY KEY")
        if constraints.get("required") or name in primary_key:
            parts.append("NOT NULL")
        if constraints.get("unique") and name not in primary_key:
            parts.append("UNIQUE")
        parts += [f"CHECK ({check})" for check in column_checks(field)]
        definitions[name] = " ".join(parts)
    return definitions


def table_constraints(spec: TableSpec) -> list[str]:
    """Composite primary key, uniqueKeys and foreign keys, as table constraints."""
    schema, lines = spec.schema, []
    primary_key = key_list(schema.get("primaryKey"))
    if primary_key and "PRIMARY KEY" not in column_definitions(schema)[primary_key[0]]:
        lines.append(f"PRIMARY KEY ({', '.join(q(n) for n in primary_key)})")
    for unique_key in schema.get("uniqueKeys") or []:
        lines.append(f"UNIQUE ({', '.join(q(n) for n in key_list(unique_key))})")
    for foreign_key in schema.get("foreignKeys") or []:
        reference = foreign_key["reference"]
        target = spec.resolve_reference(reference.get("resource") or "")
        lines.append(
            f"FOREIGN KEY ({', '.join(q(n) for n in key_list(foreign_key['fields']))})"
            f" REFERENCES {q(target)} ({', '.join(q(n) for n in key_list(reference['fields']))})"
        )
    return lines


def flat_table_sql(spec: TableSpec, name: str | None = None) -> str:
    """CREATE TABLE for ``spec`` (under ``name`` if given, e.g. a rebuild's new table)."""
    lines = [*column_definitions(spec.schema).values(), *table_constraints(spec)]
    body = ",\n  ".join(lines)
    return f"CREATE TABLE {q(name or spec.physical_name)} (\n  {body}\n) STRICT"


def json_field(name: str) -> str:
    """An expression reading the top-level key ``name`` of the ``data`` column.

    SQLite's JSON paths cannot escape a double quote inside a quoted key, so such (rare)
    names are read through json_each instead of a path.
    """
    if '"' in name:
        return f"(SELECT value FROM json_each(data) WHERE key = {literal(name)})"
    path = '$."' + name + '"'
    return f"json_extract(data, {literal(path)})"


def json_field_type(name: str) -> str:
    """An expression giving json_type() of the top-level key ``name`` of ``data``."""
    if '"' in name:
        return f"(SELECT type FROM json_each(data) WHERE key = {literal(name)})"
    path = '$."' + name + '"'
    return f"json_type(data, {literal(path)})"


# Each view column is CAST to its flat_table column's type, so it carries that type's
# affinity and compares as the flat_table's column does (``?born__gt=2025`` compares text
# with text, ``?id=1`` a number with numbers); values of another JSON type (documents
# written before a type change are never rewritten) read as NULL instead of as a wrong value.
JSON_VALUE_TYPES = {
    "integer": "'integer'",
    "year": "'integer'",
    "number": "'integer', 'real'",
    "boolean": "'true', 'false'",
    "object": "'object'",
    "array": "'array'",
    "list": "'array'",
    "geojson": "'object'",
}


def _document_value(field: dict[str, Any], aliases: list[str]) -> str:
    kind = field_type(field)
    sql_type = COLUMN_TYPES.get(kind, "ANY")
    json_types = JSON_VALUE_TYPES.get(kind, "'text'")
    values = [
        json_field(n)
        if sql_type == "ANY"
        else f"CASE WHEN {json_field_type(n)} IN ({json_types}) THEN {json_field(n)} END"
        for n in [field["name"], *aliases]
    ]
    value = values[0] if len(values) == 1 else f"coalesce({', '.join(values)})"
    return value if sql_type == "ANY" else f"CAST({value} AS {sql_type})"


def jsonb_view_sql(spec: TableSpec) -> str:
    columns = ", ".join(
        f"{_document_value(f, spec.aliases.get(f['name'], []))} AS {q(f['name'])}"
        for f in spec.fields
    )
    return (
        f"CREATE VIEW {q(jsonb_view_name(spec.physical_name))} AS SELECT id AS _id, {columns}"
        f" FROM {q(spec.physical_name)}"
    )


def jsonb_key_expressions(key: list[str]) -> str:
    return ", ".join(json_field(name) for name in key)


def jsonb_index_sql(spec: TableSpec) -> list[str]:
    """Unique expression indexes, so the engine enforces a jsonb table's keys too."""
    return [
        f"CREATE UNIQUE INDEX {q(f'{spec.physical_name}_key_{n}')} ON {q(spec.physical_name)}"
        f" ({jsonb_key_expressions(key)})"
        for n, key in enumerate(jsonb_keys(spec))
    ]


def jsonb_drop_index_sql(spec: TableSpec) -> list[str]:
    return [
        f"DROP INDEX IF EXISTS {q(f'{spec.physical_name}_key_{n}')}"
        for n in range(len(jsonb_keys(spec)))
    ]


def jsonb_sql(spec: TableSpec) -> list[str]:
    return [
        f"CREATE TABLE {q(spec.physical_name)} (\n  id INTEGER PRIMARY KEY,\n  data TEXT NOT NULL"
        " CHECK (json_valid(data) AND json_type(data) = 'object')\n) STRICT",
        jsonb_view_sql(spec),
        *jsonb_index_sql(spec),
    ]
