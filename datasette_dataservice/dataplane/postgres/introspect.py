"""What a Postgres-backed database holds: relations, columns, primary keys, foreign keys,
read from PostgreSQL's own catalogs (as core reads SQLite's), and the datatable field
types the catalog knows for them (cached per catalog version)."""

from __future__ import annotations

import json
import time
import weakref
from dataclasses import dataclass
from typing import Any

from ...catalog import store

# Type OIDs (pg_type.oid) the data plane treats specially.
BOOL, BYTEA, NAME, INT8, INT2, INT4, TEXT, OID = 16, 17, 19, 20, 21, 23, 25, 26
JSON, FLOAT4, FLOAT8, BPCHAR, VARCHAR = 114, 700, 701, 1042, 1043
DATE, TIME, TIMESTAMP, TIMESTAMPTZ, INTERVAL, TIMETZ, NUMERIC, UUID, JSONB = (
    1082,
    1083,
    1114,
    1184,
    1186,
    1266,
    1700,
    2950,
    3802,
)
KINDS = {
    BOOL: "boolean",
    INT2: "integer",
    INT4: "integer",
    INT8: "integer",
    OID: "integer",
    FLOAT4: "number",
    FLOAT8: "number",
    NUMERIC: "number",
    TEXT: "text",
    VARCHAR: "text",
    BPCHAR: "text",
    NAME: "text",
    JSON: "json",
    JSONB: "json",
    DATE: "date",
    TIMESTAMP: "timestamp",
    TIMESTAMPTZ: "timestamp",
    TIME: "time",
    TIMETZ: "time",
}

COLUMNS_SQL = """
SELECT c.relname, c.relkind, a.attname,
  CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END,
  CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END,
  format_type(a.atttypid, a.atttypmod), a.attnotnull,
  coalesce(array_position(i.indkey::int2[], a.attnum) - array_lower(i.indkey::int2[], 1) + 1, 0)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
"""

FOREIGN_KEYS_SQL = """
SELECT c.relname, a.attname, r.relname, ra.attname
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_class r ON r.oid = k.confrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL unnest(k.conkey, k.confkey) AS u(col, ref)
JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.col
JOIN pg_attribute ra ON ra.attrelid = k.confrelid AND ra.attnum = u.ref
WHERE k.contype = 'f' AND n.nspname = %(schema)s AND r.relnamespace = n.oid
"""

SIZE_SQL = """
SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p', 'm')
"""


@dataclass(frozen=True)
class Column:
    name: str
    type_oid: int
    typmod: int
    type_name: str  # as format_type() writes it, e.g. "numeric(10,2)"
    notnull: bool
    pk_position: int  # 1-based position in the primary key, 0 if not part of it
    in_view: bool = False  # a (jsonb) view's: SQLite reads its values with json_extract
    real: bool = False  # a Table Schema number: a REAL on SQLite, which writes 3 as "3.0"

    @property
    def kind(self) -> str:
        """integer, number, boolean, text, json, date, timestamp, time or other."""
        return KINDS.get(self.type_oid, "other")

    @property
    def numeric_scale(self) -> int | None:
        """The declared scale of a ``numeric(p, s)`` column, None if unconstrained."""
        if self.type_oid != NUMERIC or self.typmod < 4:
            return None
        return (self.typmod - 4) & 0xFFFF


@dataclass(frozen=True)
class Relation:
    name: str
    is_view: bool
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def pks(self) -> list[str]:
        keyed = sorted((c for c in self.columns if c.pk_position), key=lambda c: c.pk_position)
        return [c.name for c in keyed]

    def column(self, name: str) -> Column | None:
        """The column ``name`` names; like SQLite, ASCII case does not matter."""
        for column in self.columns:
            if column.name == name:
                return column
        folded = name.lower()
        for column in self.columns:
            if column.name.lower() == folded and column.name.isascii():
                return column
        return None


def relations_from_rows(rows: list[tuple]) -> dict[str, Relation]:
    """Relations by name (sorted) from COLUMNS_SQL rows."""
    columns: dict[str, list[Column]] = {}
    kinds: dict[str, str] = {}
    for relname, relkind, attname, oid, typmod, type_name, notnull, pk_position in rows:
        kinds[relname] = relkind
        columns.setdefault(relname, []).append(
            Column(
                attname,
                oid,
                typmod,
                type_name,
                notnull,
                pk_position,
                in_view=relkind in ("v", "m"),
                real=relkind not in ("v", "m") and KINDS.get(oid) == "number",
            )
        )
    return {
        name: Relation(name, kinds[name] in ("v", "m"), tuple(columns[name]))
        for name in sorted(columns)
    }


async def relations(conn, schema: str, name: str | None = None) -> dict[str, Relation]:
    """Every table and view of ``schema`` (or just ``name``), columns in table order."""
    sql = COLUMNS_SQL
    params: dict[str, Any] = {"schema": schema}
    if name is not None:
        sql += " AND c.relname = %(name)s"
        params["name"] = name
    cursor = await conn.execute(sql + " ORDER BY c.relname, a.attnum", params)
    return relations_from_rows(await cursor.fetchall())


async def relation(conn, schema: str, name: str) -> Relation | None:
    return (await relations(conn, schema, name)).get(name)


_relation_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
RELATION_TTL_SECONDS = 5.0


async def cached_relation(service, connect, schema: str, name: str) -> Relation | None:
    """``relation()`` (on a connection from ``connect()``, on a miss only), remembered until
    the catalog changes (every schema change the plugin makes ends with a catalog write) or,
    for changes made behind its back, for a few seconds.

    The catalog version is read before the catalogs are: a change racing this request
    bumps it afterwards, so what was read here is not kept past that.
    """
    if "\x00" in name:
        return None  # no PostgreSQL name holds a NUL, and psycopg cannot even send one
    version = getattr(service, "catalog_version", None)
    cache = _relation_cache.setdefault(service, {})
    hit = cache.get((schema, name))
    now = time.monotonic()
    if hit is not None and hit[0] == version and hit[1] > now:
        return hit[2]
    async with connect() as conn:  # only on a miss
        found = await relation(conn, schema, name)
    if found is not None and version is not None:
        if len(cache) > 1000:
            cache.clear()
        cache[(schema, name)] = (version, now + RELATION_TTL_SECONDS, found)
    return found


async def foreign_keys(conn, schema: str, names: list[str]) -> dict[str, dict[str, list]]:
    """Core's ``{"incoming": [...], "outgoing": [...]}`` for each of ``names``."""
    found: dict[str, dict[str, list]] = {n: {"incoming": [], "outgoing": []} for n in names}
    cursor = await conn.execute(FOREIGN_KEYS_SQL, {"schema": schema})
    for table, column, other_table, other_column in await cursor.fetchall():
        if table not in found or other_table not in found:
            continue
        found[other_table]["incoming"].append(
            {"other_table": table, "column": other_column, "other_column": column}
        )
        found[table]["outgoing"].append(
            {"other_table": other_table, "column": column, "other_column": other_column}
        )
    order = ("other_table", "column", "other_column")
    for keys in found.values():
        for direction in keys.values():
            direction.sort(key=lambda fk: tuple(fk[k] for k in order))
    return found


async def schema_size(conn, schema: str) -> int:
    cursor = await conn.execute(SIZE_SQL, {"schema": schema})
    return (await cursor.fetchone())[0]


async def quote_ident(conn, name: str) -> str:
    """``name`` as PostgreSQL writes it in SQL: bare unless it needs quoting (core's
    ``escape_sqlite`` brackets only the names SQLite needs bracketed)."""
    cursor = await conn.execute("select quote_ident(%(name)s)", {"name": name})
    return (await cursor.fetchone())[0]


# Datatable fields, from the catalog -------------------------------------------------------


@dataclass(frozen=True)
class Fields:
    """What the catalog says about one relation: its fields' types, and for a jsonb
    datatable's table the field order of its ``data`` documents."""

    types: dict[str, str]
    document_order: tuple[str, ...] = ()


_field_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def catalog_fields(service, database_name: str) -> dict[str, Fields]:
    """Relation name -> Fields for the datatables of a database, cached until the catalog
    changes (``service.catalog_version``)."""
    cache = _field_cache.setdefault(service, {})
    version = getattr(service, "catalog_version", None)
    cached = cache.get(database_name)
    if cached is not None and cached[0] == version and version is not None:
        return cached[1]
    rows = await service.read(store.datatables_in_database, database_name)
    found = fields_by_relation(rows)
    cache[database_name] = (version, found)
    return found


def fields_by_relation(rows: list[dict[str, Any]]) -> dict[str, Fields]:
    """flat_table -> its table; jsonb -> its view (typed columns) and table (documents).

    >>> row = {"is_active": 1, "provider_type": "jsonb", "physical_table_name": "t",
    ...        "json_schema": '{"fields": [{"name": "n", "type": "number"}]}'}
    >>> found = fields_by_relation([row])
    >>> found["t_view"].types, found["t"].document_order
    ({'_id': 'integer', 'n': 'number'}, ('n',))
    """
    found: dict[str, Fields] = {}
    for row in rows:
        if not row.get("is_active", 1) or not row.get("physical_table_name"):
            continue
        schema = row.get("json_schema") or "{}"
        if isinstance(schema, str):
            try:
                schema = json.loads(schema)
            except ValueError:
                continue
        fields = [f for f in schema.get("fields") or [] if isinstance(f, dict) and "name" in f]
        types = {f["name"]: f.get("type") or "string" for f in fields}
        physical = row["physical_table_name"]
        if row.get("provider_type") == "jsonb":
            found[physical + "_view"] = Fields({"_id": "integer", **types})
            found[physical] = Fields({}, tuple(types))
        else:
            found[physical] = Fields(types)
    return found


SOURCES_SQL = """
SELECT s.t, s.n, c.relname, a.attname, c.relkind IN ('v', 'm')
FROM unnest(%(tables)s::oid[], %(columns)s::int2[]) AS s(t, n)
JOIN pg_attribute a ON a.attrelid = s.t AND a.attnum = s.n
JOIN pg_class c ON c.oid = s.t
"""


async def column_sources(
    conn, columns: list[tuple[int, int]], limit_ms: int
) -> dict[tuple[int, int], tuple[str, str, bool]]:
    """Where result columns were read from: (table oid, column number) -> (relation name,
    column name, whether the relation is a view), for those PostgreSQL can name."""
    from . import execute  # execute reads results; introspection is below it otherwise

    if not columns:
        return {}
    params = {"tables": [t for t, _ in columns], "columns": [n for _, n in columns]}
    (found,) = await execute.read(conn, [(SOURCES_SQL, params)], limit_ms)
    return {(t, n): (relname, attname, view) for t, n, relname, attname, view in found.rows}
