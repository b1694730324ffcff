"""Foreign keys and their labels on a Postgres-backed database, as core finds them on SQLite.

- ``outbound_foreign_keys``: core's ``Database.foreign_keys_for_table`` (PRAGMA
  foreign_key_list): single-column keys only, the last declared first;
- ``label_column``: core's ``Database.label_column_for_table``: the configured
  ``label_column``, else the one unique text column, else a ``name``/``title`` column, else
  the other column of a two-column table with an ``id``/``pk``. "Text" is what SQLite would
  call the column (the Table Schema type's SQLite column type), so both engines pick alike;
- ``labels_for``: core's ``Datasette.expand_foreign_keys`` lookup: value -> label.
"""

from __future__ import annotations

from typing import Any

from sqlite_utils.utils import column_affinity

from ...providers.table_shape import DECLARED_TYPES
from . import execute
from .introspect import BPCHAR, NAME, TEXT, VARCHAR, Fields, Relation
from .sqltext import qualified, quote

OUTBOUND_SQL = """
SELECT k.oid, a.attname, r.relname, ra.attname, cardinality(k.conkey)
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_class r ON r.oid = k.confrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL unnest(k.conkey, k.confkey) AS u(col, ref)
JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.col
JOIN pg_attribute ra ON ra.attrelid = k.confrelid AND ra.attnum = u.ref
WHERE k.contype = 'f' AND n.nspname = %(schema)s AND c.relname = %(table)s
  AND r.relnamespace = n.oid
ORDER BY k.oid DESC
"""

UNIQUE_COLUMNS_SQL = """
SELECT a.attname
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
WHERE n.nspname = %(schema)s AND c.relname = %(table)s AND i.indisunique
  AND i.indnatts = 1 AND i.indexprs IS NULL AND i.indpred IS NULL
"""

TEXT_TYPES = {TEXT, VARCHAR, BPCHAR, NAME}


async def outbound_foreign_keys(conn, schema: str, table: str, limit_ms: int) -> list[dict]:
    """``[{"column", "other_table", "other_column"}]`` as core lists a SQLite table's."""
    (result,) = await execute.read(
        conn, [(OUTBOUND_SQL, {"schema": schema, "table": table})], limit_ms
    )
    return [
        {"column": column, "other_table": other_table, "other_column": other_column}
        for _, column, other_table, other_column, width in result.rows
        if width == 1
    ]


def _is_text(relation: Relation, name: str, fields: Fields) -> bool:
    """Whether SQLite would give this column TEXT affinity (its Table Schema type's)."""
    field_type = fields.types.get(name)
    if field_type is not None:
        return column_affinity(DECLARED_TYPES.get(field_type, "ANY")) is str
    column = relation.column(name)
    return column is not None and column.type_oid in TEXT_TYPES


def visible_columns(relation: Relation, fields: Fields) -> list[str]:
    """The columns SQLite would list: a datatable's fields (its rowid column is hidden, as
    SQLite's rowid is); every column of a table the catalog does not know."""
    if not fields.types:
        return relation.column_names
    return [c for c in relation.column_names if c in fields.types]


async def label_column(
    conn,
    schema: str,
    relation: Relation,
    fields: Fields,
    configured: str | None,
    limit_ms: int,
) -> str | None:
    """Core's ``label_column_for_table`` for ``relation``."""
    if configured:
        return configured
    params = {"schema": schema, "table": relation.name}
    (result,) = await execute.read(conn, [(UNIQUE_COLUMNS_SQL, params)], limit_ms)
    unique = {row[0] for row in result.rows}
    names = visible_columns(relation, fields)
    unique_text = [n for n in names if n in unique and _is_text(relation, n, fields)]
    if len(unique_text) == 1:
        return unique_text[0]
    name_or_title = [n for n in names if n.lower() in ("name", "title")]
    if name_or_title:
        return name_or_title[0]
    if len(names) == 2 and ("id" in names or "pk" in names) and set(names) != {"id", "pk"}:
        return next(n for n in names if n not in ("id", "pk"))
    return None


async def labels_for(
    conn,
    schema: str,
    other_table: str,
    other_column: str,
    label: str,
    values: list[Any],
    limit_ms: int,
) -> list[tuple[Any, Any]]:
    """(key, label) of the referenced rows whose ``other_column`` is among ``values``; none
    if the lookup runs out of time (core: QueryInterrupted is no labels)."""
    wanted = list({v for v in values if v is not None})
    if not wanted:
        return []
    sql = (
        f"SELECT {quote(other_column)}, {quote(label)} FROM {qualified(schema, other_table)}"
        f" WHERE {quote(other_column)} = ANY(%(values)s)"
    )
    try:
        (result,) = await execute.read(conn, [(sql, {"values": wanted})], limit_ms)
    except execute.DatasetteError as error:
        if error.title == "SQL Interrupted":
            return []
        raise
    return [(key, value) for key, value in result.rows]
