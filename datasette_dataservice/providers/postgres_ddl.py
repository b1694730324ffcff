"""Table Schema -> PostgreSQL DDL for flat_table (typed columns) and jsonb (a table, a view).

Every object lives in the datasource's schema and every identifier is quoted and
schema-qualified. Builders never fail on a long name: :func:`check_identifiers` refuses
names PostgreSQL would truncate, before anything runs, so a dry run can still show its SQL.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from ..schema.names import quote_identifier as q
from .base import ProviderError, TableSpec
from .postgres_isolation import MAX_IDENTIFIER_BYTES
from .table_shape import field_type, jsonb_keys, jsonb_view_name, key_list

COLUMN_TYPES = {
    "string": "TEXT",
    "integer": "BIGINT",
    "number": "NUMERIC",
    "boolean": "BOOLEAN",
    "object": "JSONB",
    "array": "JSONB",
    "list": "JSONB",
    "date": "DATE",
    "time": "TIME WITH TIME ZONE",
    "datetime": "TIMESTAMPTZ",
    "year": "INTEGER",
    "yearmonth": "TEXT",
    "duration": "TEXT",
    "geopoint": "TEXT",
    "geojson": "JSONB",
    "any": "JSONB",
}
# How information_schema / format_type() spells each column type (has_schema compares them)
CATALOG_TYPES = {
    "TEXT": "text",
    "BIGINT": "bigint",
    "NUMERIC": "numeric",
    "BOOLEAN": "boolean",
    "JSONB": "jsonb",
    "DATE": "date",
    "TIME WITH TIME ZONE": "time with time zone",
    "TIMESTAMPTZ": "timestamp with time zone",
    "INTEGER": "integer",
}
NUMERIC_TYPES = {"integer", "number", "year"}
JSON_TYPES = {"object", "array", "list", "geojson", "any"}  # stored as JSONB
JSON_CHECKS = {"object": "object", "geojson": "object", "array": "array", "list": "array"}
# Python's uuid.UUID (frictionless' check) ignores "urn:", "uuid:", braces and hyphens, then
# wants 32 characters int(..., 16) accepts.
UUID_CHECK = "char_length({v}) = 32 AND {v} ~ '^\\s*[+]?[0-9A-Fa-f](_?[0-9A-Fa-f])*\\s*$'"


def column_type(field: dict[str, Any]) -> str:
    return COLUMN_TYPES.get(field_type(field), "TEXT")


def table_name(schema: str, name: str) -> str:
    return f"{q(schema)}.{q(name)}"


def literal(value: Any) -> str:
    """An SQL literal: numbers as they are, everything else as quoted text."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _is_number(value: Any) -> bool:
    """A finite number (an infinite bound or enum value is left to the row validator)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def column_checks(field: dict[str, Any]) -> list[str]:
    """CHECK expressions PostgreSQL enforces for one field; patterns, other formats and
    bounds on dates stay with the row validator."""
    column, kind = q(field["name"]), field_type(field)
    constraints = field.get("constraints") or {}
    checks = []
    if kind in JSON_CHECKS:
        checks.append(f"jsonb_typeof({column}) = '{JSON_CHECKS[kind]}'")
    if kind in NUMERIC_TYPES:
        for key, operator in (
            ("minimum", ">="),
            ("maximum", "<="),
            ("exclusiveMinimum", ">"),
            ("exclusiveMaximum", "<"),
        ):
            if _is_number(constraints.get(key)):
                checks.append(f"{column} {operator} {literal(constraints[key])}")
    if kind == "string":
        if isinstance(constraints.get("minLength"), int):
            checks.append(f"char_length({column}) >= {constraints['minLength']}")
        if isinstance(constraints.get("maxLength"), int):
            checks.append(f"char_length({column}) <= {constraints['maxLength']}")
        if field.get("format") == "uuid":
            bare = (
                f"translate(btrim(replace(replace({column}, 'urn:', ''), 'uuid:', ''), '{{}}'),"
                " '-', '')"
            )
            checks.append(UUID_CHECK.format(v=bare))
    enum = constraints.get("enum")
    if enum and isinstance(enum, list):
        if kind == "string":
            checks.append(f"{column} IN ({', '.join(literal(str(v)) for v in enum)})")
        elif kind in NUMERIC_TYPES and all(_is_number(v) for v in enum):
            checks.append(f"{column} IN ({', '.join(literal(v) for v in enum)})")
    return checks


def column_definitions(schema: dict[str, Any]) -> dict[str, str]:
    """Each field's column definition: type, inline primary key, NOT NULL, UNIQUE, CHECK."""
    primary_key = key_list(schema.get("primaryKey"))
    definitions = {}
    for field in schema["fields"]:
        name = field["name"]
        constraints = field.get("constraints") or {}
        parts = [q(name), column_type(field)]
        if primary_key == [name]:
            parts.append("PRIMARY KEY")
        if constraints.get("required") or name in primary_key:
            parts.append("NOT NULL")
        if constraints.get("unique") and name not in primary_key:
            parts.append("UNIQUE")
        parts += [f"CHECK ({check})" for check in column_checks(field)]
        definitions[name] = " ".join(parts)
    return definitions


def table_constraints(spec: TableSpec, schema_name: str) -> list[str]:
    """Composite primary key, uniqueKeys and foreign keys (checked at commit, as SQLite
    does with defer_foreign_keys, so a batch may reference a later row)."""
    lines = []
    primary_key = key_list(spec.schema.get("primaryKey"))
    if len(primary_key) > 1:
        lines.append(f"PRIMARY KEY ({', '.join(q(n) for n in primary_key)})")
    for unique_key in spec.schema.get("uniqueKeys") or []:
        lines.append(f"UNIQUE ({', '.join(q(n) for n in key_list(unique_key))})")
    for foreign_key in spec.schema.get("foreignKeys") or []:
        reference = foreign_key["reference"]
        target = spec.resolve_reference(reference.get("resource") or "")
        lines.append(
            f"FOREIGN KEY ({', '.join(q(n) for n in key_list(foreign_key['fields']))})"
            f" REFERENCES {table_name(schema_name, target)}"
            f" ({', '.join(q(n) for n in key_list(reference['fields']))})"
            " DEFERRABLE INITIALLY DEFERRED"
        )
    return lines


def rowid_column(schema: dict[str, Any]) -> str | None:
    """The rowid column of a table without a primary key, as SQLite names it.

    SQLite gives such a table a rowid, which core shows and addresses rows by (row pages,
    ``/-/update``, ``/-/delete``); the Postgres table gets an identity column of the same
    name, so the two engines serve the same rows the same way.
    """
    if key_list(schema.get("primaryKey")):
        return None
    taken = {f["name"].lower() for f in schema["fields"]}
    return next((name for name in ("rowid", "_rowid_", "oid") if name not in taken), None)


def flat_table_sql(spec: TableSpec, schema_name: str, name: str | None = None) -> str:
    """CREATE TABLE for ``spec``; under ``name`` if given (has_schema's probe, whose
    self-references still point at the real table, so its constraints read the same)."""
    lines = [*column_definitions(spec.schema).values(), *table_constraints(spec, schema_name)]
    rowid = rowid_column(spec.schema)
    if rowid:
        lines.insert(0, f"{q(rowid)} BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
    body = ",\n  ".join(lines)
    return f"CREATE TABLE {table_name(schema_name, name or spec.physical_name)} (\n  {body}\n)"


# jsonb ------------------------------------------------------------------------------------


def json_value(name: str) -> str:
    """A top-level key of ``data`` as JSONB, JSON null read as SQL NULL (as SQLite's
    json_extract does), so keys may be absent or null in many documents."""
    return f"NULLIF(data -> {literal(name)}, 'null'::jsonb)"


def _typed(name: str, kind: str) -> str:
    """A view column expression that never fails on a document of another type: a value of
    another JSON type reads as NULL, as in the SQLite view."""
    value = f"data -> {literal(name)}"
    if kind in NUMERIC_TYPES:
        number = f"jsonb_typeof({value}) = 'number'"
        if kind != "number":  # as SQLite's json_type() says 'integer': no fraction, no exponent
            number += f" AND ({value} #>> '{{}}') ~ '^-?[0-9]+$'"
        return f"CASE WHEN {number} THEN ({value} #>> '{{}}')::numeric END"
    if kind == "boolean":
        return f"CASE WHEN jsonb_typeof({value}) = 'boolean' THEN ({value})::boolean END"
    if kind in JSON_CHECKS:
        return f"CASE WHEN jsonb_typeof({value}) = '{JSON_CHECKS[kind]}' THEN {value} END"
    if kind in JSON_TYPES:
        return json_value(name)
    return f"CASE WHEN jsonb_typeof({value}) = 'string' THEN (data ->> {literal(name)}) END"


def view_type(field: dict[str, Any]) -> str:
    """The type of a field's column in the jsonb view."""
    kind = field_type(field)
    if kind in NUMERIC_TYPES:
        return "numeric"
    if kind == "boolean":
        return "boolean"
    return "jsonb" if kind in JSON_TYPES else "text"


def _view_column(field: dict[str, Any], aliases: list[str]) -> str:
    kind = field_type(field)
    names = [field["name"], *aliases]
    if len(names) == 1:
        return _typed(names[0], kind)
    return f"coalesce({', '.join(_typed(n, kind) for n in names)})"


def jsonb_view_sql(spec: TableSpec, schema_name: str, view: str | None = None) -> str:
    columns = ", ".join(
        f"{_view_column(f, spec.aliases.get(f['name'], []))} AS {q(f['name'])}" for f in spec.fields
    )
    view = view or jsonb_view_name(spec.physical_name)
    return (
        f"CREATE VIEW {table_name(schema_name, view)} AS SELECT id AS _id"
        f"{', ' if columns else ''}{columns} FROM {table_name(schema_name, spec.physical_name)}"
    )


def jsonb_key_expressions(key: list[str]) -> str:
    """The unique index's expressions (an upsert's ON CONFLICT target must repeat them)."""
    return ", ".join(f"({json_value(name)})" for name in key)


def jsonb_index_name(physical_name: str, number: int) -> str:
    return f"{physical_name}_key_{number}"


def gin_index_name(physical_name: str) -> str:
    return f"{physical_name}_data_gin"


def jsonb_index_sql(spec: TableSpec, schema_name: str) -> list[str]:
    """Unique expression indexes, so the engine enforces a jsonb table's keys too."""
    return [
        f"CREATE UNIQUE INDEX {q(jsonb_index_name(spec.physical_name, n))} ON"
        f" {table_name(schema_name, spec.physical_name)} ({jsonb_key_expressions(key)})"
        for n, key in enumerate(jsonb_keys(spec))
    ]


def jsonb_drop_index_sql(spec: TableSpec, schema_name: str) -> list[str]:
    return [
        f"DROP INDEX IF EXISTS {table_name(schema_name, jsonb_index_name(spec.physical_name, n))}"
        for n in range(len(jsonb_keys(spec)))
    ]


def jsonb_sql(spec: TableSpec, schema_name: str) -> list[str]:
    table = table_name(schema_name, spec.physical_name)
    return [
        f"CREATE TABLE {table} (\n  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,\n"
        "  data JSONB NOT NULL CHECK (jsonb_typeof(data) = 'object')\n)",
        f"CREATE INDEX {q(gin_index_name(spec.physical_name))} ON {table} USING GIN (data)",
        *jsonb_index_sql(spec, schema_name),
        jsonb_view_sql(spec, schema_name),
    ]


# Names ------------------------------------------------------------------------------------


def scratch_schema(schema_name: str, physical_name: str) -> str:
    """A rebuild's transaction-scoped schema for the old table (short, fixed length)."""
    digest = hashlib.sha1(f"{schema_name}.{physical_name}".encode()).hexdigest()[:16]
    return f"_dataservice_rebuild_{digest}"


def identifier_problems(names: list[str]) -> list[str]:
    """Names PostgreSQL would silently truncate (or cannot hold at all)."""
    problems = []
    for name in names:
        size = len(name.encode())
        if size > MAX_IDENTIFIER_BYTES:
            problems.append(
                f'PostgreSQL refuses the name "{name}": identifiers are limited to '
                f"{MAX_IDENTIFIER_BYTES} bytes and this one has {size}"
            )
        if "\x00" in name:
            problems.append(f"PostgreSQL refuses the name {name!r}: it contains a NUL")
    return problems


def check_identifiers(names: list[str]) -> None:
    """Refuse a name PostgreSQL would silently truncate (or cannot hold at all)."""
    problems = identifier_problems(names)
    if problems:
        raise ProviderError(problems[0])


def identifiers_of(spec: TableSpec, schema_name: str, jsonb: bool) -> list[str]:
    names = [schema_name, spec.physical_name, *(f["name"] for f in spec.fields)]
    if jsonb:
        names += [
            jsonb_view_name(spec.physical_name),
            gin_index_name(spec.physical_name),
            *(jsonb_index_name(spec.physical_name, n) for n in range(len(jsonb_keys(spec)))),
        ]
    return names
