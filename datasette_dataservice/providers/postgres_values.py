"""Between PostgreSQL values and the JSON-native values of the row validator.

The validator hands over JSON-native values: ISO text for dates and times, floats (or
ints) for numbers, dicts and lists for JSON types. They are written as they are, except:
JSON values are wrapped in ``Jsonb`` as parameters (psycopg has no default for dict and
list) and dumped to JSON text for COPY (cheaper than the wrapper, and the server parses
it either way), and floats bound as parameters become ``Decimal(repr(x))`` (a float8
parameter cast to NUMERIC keeps only 15 digits; the shortest repr round-trips exactly).
Text COPY writes floats with their repr already.

Read back, values become what the SQLite provider returns for the same row: Decimal ->
float, dates -> ISO text, datetimes and times -> ISO text with UTC written "Z".

Lookups send their candidate values as text arrays joined WITH ORDINALITY and cast to the
column's type, so each match names the candidate it came from (a datetime is stored in UTC
and read back in another spelling) and the key's index still serves the join.
"""

from __future__ import annotations

import datetime
import json
import operator
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ..schema.cast import iso
from ..schema.names import quote_identifier as q
from .base import ProviderError, TableSpec
from .postgres_ddl import JSON_TYPES, column_type, json_value, view_type
from .table_shape import field_type

LOOKUP_CHUNK = 10_000
MAX_JSON_DEPTH = 500  # json recurses once per level, writing here and reading back

Converter = Callable[[Any], Any] | None


def _number_param(value: Any) -> Any:
    return Decimal(repr(value)) if type(value) is float else value


def _utc_datetime(value: Any) -> Any:
    """ISO text as given, unless its offset moves it out of years 1-9999 in UTC (only a
    value in year 1 or 9999 can move that far): PostgreSQL would store it (a BC or year
    10000 TIMESTAMPTZ), and then no page of the table could be read back."""
    if type(value) is str and value[:4] in ("0001", "9999"):
        try:
            parsed = datetime.datetime.fromisoformat(value)
            parsed - (parsed.utcoffset() or datetime.timedelta())
        except ValueError:
            return value  # PostgreSQL says what is wrong with it
        except OverflowError:
            raise ProviderError(
                f'PostgreSQL refused the rows: datetime "{value}" is outside years 1-9999 in UTC'
            ) from None
    return value


def _check_datetimes(values: list[Sequence[Any]], i: int) -> None:
    """:func:`_utc_datetime` on the values of column ``i`` it could refuse: only ISO text in
    year 1 or 9999 can leave years 1-9999 in UTC, so the others cost a slice each, not a
    call."""
    edges = ("0001", "9999")
    column = map(operator.itemgetter(i), values)
    for value in [v for v in column if type(v) is str and v[:4] in edges]:
        _utc_datetime(value)


def shallow(value: Any) -> Any:
    """``value``, unless it nests more than MAX_JSON_DEPTH levels deep: json (psycopg's
    dumper, and the data plane reading the value back) would run out of stack on it."""
    if type(value) is not dict and type(value) is not list:
        return value
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ProviderError(
                f"PostgreSQL refused the rows: JSON nests more than {MAX_JSON_DEPTH} levels deep"
            )
        for child in item.values() if type(item) is dict else item:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))
    return value


def _jsonb_param(value: Any) -> Jsonb:
    return Jsonb(shallow(value))


def _json_copy(value: Any) -> str:
    return json.dumps(shallow(value))


def param_converter(field: dict[str, Any]) -> Converter:
    """How a validated value of ``field`` is bound as a query parameter (None: as is)."""
    kind = field_type(field)
    if kind in JSON_TYPES:
        return _jsonb_param
    if kind == "number":
        return _number_param
    if kind == "datetime":
        return _utc_datetime
    return None


def copy_converter(field: dict[str, Any]) -> Converter:
    """How a validated value of ``field`` is written by a text COPY (None: as is)."""
    kind = field_type(field)
    if kind == "datetime":
        return _utc_datetime
    return _json_copy if kind in JSON_TYPES else None


def _float(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _iso_date(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime.date) else value


def _iso_time(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.time):
        return iso(value)
    return value


def native_converter(field: dict[str, Any]) -> Converter:
    """How a flat_table column value of ``field`` becomes JSON-native (None: as is)."""
    kind = field_type(field)
    if kind == "number":
        return _float
    if kind == "date":
        return _iso_date
    if kind in ("datetime", "time"):
        return _iso_time
    return None  # int, bool, text, and JSONB (psycopg loads it with json.loads)


def to_native(value: Any, field: dict[str, Any]) -> Any:
    """A stored flat_table value as the JSON value a client would have sent for ``field``."""
    convert = native_converter(field)
    return value if value is None or convert is None else convert(value)


def to_param(value: Any, field: dict[str, Any]) -> Any:
    """A validated JSON-native value as a query parameter for ``field``'s column."""
    convert = param_converter(field)
    return value if value is None or convert is None else convert(value)


def row_values(
    fields: list[dict[str, Any]], rows: list[dict[str, Any]], copy: bool = False
) -> list[Sequence[Any]]:
    """Rows as value lists in ``fields`` order; only fields that need converting pay for it."""
    names = [f["name"] for f in fields]
    make = copy_converter if copy else param_converter
    converters = [(i, c) for i, c in enumerate(map(make, fields)) if c is not None]
    try:  # validated flat rows carry every field: one C-level lookup per row
        pick = operator.itemgetter(*names)
        values = [pick(row) for row in rows] if len(names) > 1 else [(pick(r),) for r in rows]
    except KeyError:
        values = [tuple(map(row.get, names)) for row in rows]
    if all(c is _utc_datetime for _, c in converters):  # checks alone: values go as they are
        for i, _ in converters:
            _check_datetimes(values, i)
        return values  # tuples: COPY and executemany take any sequence
    values = [list(row) for row in values]
    for i, convert in converters:  # in column order, so the first refusal is as before
        if convert is _utc_datetime:
            _check_datetimes(values, i)
            continue
        for row_values_ in values:
            if row_values_[i] is not None:
                row_values_[i] = convert(row_values_[i])
    return values


def native_rows(fields: list[dict[str, Any]], rows: list[tuple]) -> list[list[Any]]:
    """Stored rows (columns in ``fields`` order) as lists of JSON-native values."""
    converters = [(i, c) for i, c in enumerate(map(native_converter, fields)) if c is not None]
    result = [list(row) for row in rows]
    for i, convert in converters:
        for row in result:
            if row[i] is not None:
                row[i] = convert(row[i])
    return result


def placeholders(count: int, first: int = 1) -> str:
    """``$1, $2, ...``: parameters of a raw cursor, which leaves a "%" in a name alone."""
    return ", ".join(f"${n}" for n in range(first, first + count))


def candidate_text(value: Any) -> str | None:
    """A lookup value as text, cast back to the column's type by PostgreSQL."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def document(row: dict[str, Any]) -> dict[str, Any]:
    """A validated jsonb row as the document stored (``_id`` is the row id, not data)."""
    return shallow({k: v for k, v in row.items() if k != "_id"})


def document_json(row: dict[str, Any]) -> str:
    """The document as the SQLite provider stores it, for rows returned by a write."""
    return json.dumps(document(row), ensure_ascii=False)


def document_record(
    data: dict[str, Any], names: list[str], aliases: dict[str, list[str]]
) -> dict[str, Any]:
    """A document's fields as the view reads them: the first non-null of the field's
    current name and its earlier names."""
    record = {}
    for name in names:
        value = None
        for key in (name, *aliases.get(name, ())):
            value = data.get(key)
            if value is not None:
                break
        record[name] = value
    return record


# Lookups: stored rows by value ---------------------------------------------------------------


def _matches(spec: TableSpec, jsonb: bool, columns: tuple[str, ...] | list[str]) -> list[str]:
    """For each column, ``expression = candidate`` (the candidate is ``k.c{i}``, text)."""
    by_name = {f["name"]: f for f in spec.fields}
    matches = []
    for i, name in enumerate(columns):
        candidate = f"k.c{i}"
        if jsonb and name == "_id":
            matches.append(f"t.id = {candidate}::bigint")
        elif jsonb:
            names = [name, *spec.aliases.get(name, [])]
            value = ", ".join(json_value(n) for n in names)
            value = value if len(names) == 1 else f"coalesce({value})"
            kind = view_type(by_name[name])
            cast = f"{candidate}::jsonb" if kind == "jsonb" else f"to_jsonb({candidate}::{kind})"
            matches.append(f"{value} = {cast}")
        elif name not in by_name:  # the rowid of a table without a primary key
            matches.append(f"t.{q(name)} = {candidate}::bigint")
        else:
            matches.append(f"t.{q(name)} = {candidate}::{column_type(by_name[name])}")
    return matches


async def _lookup(
    conn: psycopg.AsyncConnection,
    table: str,
    matches: list[str],
    select: str,
    candidates: list[tuple],
) -> list[tuple[int, tuple]]:
    """(candidate position, selected values) for each stored row matching a candidate. A
    candidate PostgreSQL cannot cast to the column's type matches nothing."""
    width = len(matches)
    names = ", ".join(f"c{i}" for i in range(width))
    sql = (
        f"SELECT k.n - 1, {select} FROM {table} AS t JOIN unnest("
        + ", ".join(f"${i + 1}::text[]" for i in range(width))
        + f") WITH ORDINALITY AS k({names}, n) ON "
        + " AND ".join(matches)
    )
    found: list[tuple[int, tuple]] = []
    for start in range(0, len(candidates), LOOKUP_CHUNK):
        part = candidates[start : start + LOOKUP_CHUNK]
        try:
            found += await _run_lookup(conn, sql, part, start)
        except psycopg.errors.DataError:
            for offset, candidate in enumerate(part):
                try:
                    found += await _run_lookup(conn, sql, [candidate], start + offset)
                except psycopg.errors.DataError:
                    continue
    return found


async def _run_lookup(conn, sql: str, candidates: list[tuple], start: int):
    arrays = [[candidate_text(c[i]) for c in candidates] for i in range(len(candidates[0]))]
    async with psycopg.AsyncRawCursor(conn) as cursor:  # $n: names may hold a "%"
        await cursor.execute(sql, arrays)
        return [(row[0] + start, row[1:]) for row in await cursor.fetchall()]


def _flat_select(spec: TableSpec, names: list[str]) -> tuple[str, Callable[[tuple], list]]:
    """SELECT expressions for ``names`` of a flat table and how to make its values native."""
    by_name = {f["name"]: f for f in spec.fields}
    select = ", ".join(f"t.{q(n)}" for n in names)
    converters = [native_converter(by_name[n]) if n in by_name else None for n in names]

    def native(values: tuple) -> list:
        return [
            v if v is None or c is None else c(v) for v, c in zip(values, converters, strict=True)
        ]

    return select, native


def _jsonb_record(spec: TableSpec, row_id: int, data: dict) -> dict[str, Any]:
    names = [f["name"] for f in spec.fields]
    return {**document_record(data, names, spec.aliases), "_id": row_id}


async def existing_values(
    conn: psycopg.AsyncConnection,
    spec: TableSpec,
    table: str,
    jsonb: bool,
    columns: tuple[str, ...],
    candidates: list[Any],
    owner: list[str] | None = None,
) -> dict[Any, tuple | None]:
    """Which of ``candidates`` (values, or tuples for several columns) are stored, each with
    the key (``owner`` columns) of the row holding it."""
    if not candidates:
        return {}
    width = len(columns)
    tuples = [c if width > 1 else (c,) for c in candidates]
    matches = _matches(spec, jsonb, columns)
    owner = owner or []
    if jsonb:  # the documents only when the owner names a field, not just the id
        data = "t.data" if any(o != "_id" for o in owner) else "NULL"
        holders = [
            (n, tuple(row_id if o == "_id" else _jsonb_record(spec, row_id, doc)[o] for o in owner))
            for n, (row_id, doc) in await _lookup(conn, table, matches, f"t.id, {data}", tuples)
        ]
    else:
        select, native = _flat_select(spec, owner)
        rows = await _lookup(conn, table, matches, select or "1", tuples)
        holders = [(n, tuple(native(values)) if owner else ()) for n, values in rows]
    return {candidates[n]: (holder if owner else None) for n, holder in holders}


async def rows_by_key(
    conn: psycopg.AsyncConnection,
    spec: TableSpec,
    table: str,
    jsonb: bool,
    key: list[str],
    keys: list[tuple],
) -> dict[tuple, dict[str, Any]]:
    """Stored rows, as JSON-native records, by the stored key tuple of each one found."""
    if not keys:
        return {}
    matches = _matches(spec, jsonb, key)
    found: dict[tuple, dict[str, Any]] = {}
    if jsonb:
        for _, (row_id, data) in await _lookup(conn, table, matches, "t.id, t.data", keys):
            record = _jsonb_record(spec, row_id, data)
            found[tuple(record[k] for k in key)] = record
        return found
    names = [f["name"] for f in spec.fields]
    select, native = _flat_select(spec, [*key, *names])
    for _, values in await _lookup(conn, table, matches, select, keys):
        values = native(values)
        found[tuple(values[: len(key)])] = dict(zip(names, values[len(key) :], strict=True))
    return found


async def all_keys(
    conn: psycopg.AsyncConnection,
    spec: TableSpec,
    table: str,
    jsonb: bool,
    columns: tuple[str, ...],
) -> set[tuple]:
    if jsonb:
        expressions = []
        for name in columns:
            names = [name, *spec.aliases.get(name, [])]
            value = ", ".join(json_value(n) for n in names)
            expressions.append("id" if name == "_id" else f"coalesce({value})")
        cursor = await conn.execute(f"SELECT DISTINCT {', '.join(expressions)} FROM {table}")
        return {tuple(row) for row in await cursor.fetchall()}
    select, native = _flat_select(spec, list(columns))
    cursor = await conn.execute(f"SELECT DISTINCT {select} FROM {table} AS t")
    return {tuple(native(row)) for row in await cursor.fetchall()}
