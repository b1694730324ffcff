"""PostgreSQL values as core shows the same datatable's values from SQLite.

SQLite has no booleans, dates or JSON: a Table Schema boolean is stored 1/0, a date or
datetime as ISO text (UTC written "Z"), an object or array as JSON text. Core shows those
stored values, so the Postgres data plane converts each column once per result:

- boolean -> 1/0; numeric -> float (int for integer fields and ``numeric(p, 0)``);
- date, time, timestamp -> ISO 8601 text, a zero UTC offset written "Z";
- json/jsonb -> JSON text as ``json.dumps(ensure_ascii=False)`` writes it (a flat_table
  stores that text); in a view, compact, as SQLite's ``json_extract`` writes it; a jsonb
  datatable's ``data`` document with its keys in the schema's field order;
- interval -> ISO 8601 duration, uuid -> text, bytea -> bytes (core's JSON encoder).
"""

from __future__ import annotations

import datetime
import decimal
import json
from collections.abc import Callable, Sequence
from typing import Any

import isodate

from ...dataplane.postgres import introspect as pg
from ...schema.cast import iso

Converter = Callable[[Any], Any]

INTEGER_FIELDS = {"integer", "year"}
_COMPACT = (",", ":")


def json_text(value: Any, compact: bool = False) -> str:
    """
    >>> json_text({"a": [1, 2.5], "b": "é"}), json_text([1, {"x": None}], compact=True)
    ('{"a": [1, 2.5], "b": "é"}', '[1,{"x":null}]')
    """
    if compact:
        return json.dumps(value, ensure_ascii=False, separators=_COMPACT, default=str)
    return json.dumps(value, ensure_ascii=False, default=str)


def decimal_float(value: decimal.Decimal) -> float:
    return float(value)


def decimal_int(value: decimal.Decimal) -> int | float:
    """
    >>> decimal_int(decimal.Decimal("3")), decimal_int(decimal.Decimal("2.50"))
    (3, 2.5)
    """
    if value.is_finite() and value == value.to_integral_value():
        return int(value)
    return float(value)


def decimal_literal(value: decimal.Decimal) -> int | float:
    """A number as SQLite reads its literal: an int unless written with a fraction.

    >>> decimal_literal(decimal.Decimal("10")), decimal_literal(decimal.Decimal("2.000"))
    (10, 2.0)
    """
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= 0:
        return int(value)
    return float(value)


def time_text(value: datetime.date | datetime.time) -> str:
    """
    >>> utc = datetime.timezone.utc
    >>> time_text(datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=utc))
    '2024-01-02T03:04:05Z'
    >>> time_text(datetime.date(2024, 1, 2)), time_text(datetime.time(12, 30))
    ('2024-01-02', '12:30:00')
    """
    if isinstance(value, datetime.datetime | datetime.time):
        return iso(value)
    return value.isoformat()


def duration_text(value: datetime.timedelta) -> str:
    """
    >>> duration_text(datetime.timedelta(days=1, hours=2))
    'P1DT2H'
    """
    return isodate.duration_isoformat(value)


def document(order: Sequence[str]) -> Converter:
    """A jsonb datatable's ``data``: keys in the schema's field order, then any others.

    >>> document(["id", "name"])({"name": "x", "extra": 1, "id": 1})
    '{"id": 1, "name": "x", "extra": 1}'
    """

    def convert(value: Any) -> Any:
        if not isinstance(value, dict):
            return json_text(value)
        ordered = {k: value[k] for k in order if k in value}
        ordered.update((k, v) for k, v in value.items() if k not in ordered)
        return json_text(ordered)

    return convert


def any_value(compact: bool) -> Converter:
    """A Table Schema ``any`` field kept in JSON: scalars as SQLite stores them."""

    def convert(value: Any) -> Any:
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, dict | list):
            return json_text(value, compact)
        return value

    return convert


def generic(value: Any) -> Any:
    """Anything else, by Python type (arrays, other types of computed columns)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, decimal.Decimal):
        return decimal_int(value)
    if isinstance(value, list | dict):
        return json_text(value)
    if isinstance(value, datetime.date | datetime.time):
        return time_text(value)
    if isinstance(value, datetime.timedelta):
        return duration_text(value)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def _json(compact: bool) -> Converter:
    return lambda value: json_text(value, compact)


IDENTITY = {pg.INT2, pg.INT4, pg.INT8, pg.OID, pg.TEXT, pg.VARCHAR, pg.BPCHAR, pg.NAME}


def converter(
    type_oid: int,
    scale: int | None = None,
    field_type: str | None = None,
    *,
    view: bool = False,
    document_order: Sequence[str] = (),
    computed: bool = False,
) -> Converter | None:
    """How to show one column's non-null values; None when they are shown as they are.

    ``field_type`` is the Table Schema type the catalog gives the column, if any; ``view``
    says the column is a view's and ``computed`` that a query computed it: JSON compact, as
    SQLite's JSON functions write it, a number as its literal reads (``2`` or ``2.0``).
    """
    if type_oid in IDENTITY:
        if field_type == "number" and type_oid in (pg.INT2, pg.INT4, pg.INT8):
            return float
        return None
    if type_oid in (pg.FLOAT4, pg.FLOAT8):
        return int if field_type in INTEGER_FIELDS else None
    if type_oid == pg.NUMERIC:
        if field_type in INTEGER_FIELDS or (field_type is None and scale == 0):
            return decimal_int
        if field_type is None and computed:
            return decimal_literal
        return decimal_float
    if type_oid == pg.BOOL:
        return int
    if type_oid in (pg.JSON, pg.JSONB):
        if document_order:
            return document(document_order)
        if field_type == "any":
            return any_value(view or computed)
        return _json(view or computed)
    if type_oid in (pg.DATE, pg.TIME, pg.TIMETZ, pg.TIMESTAMP, pg.TIMESTAMPTZ):
        return time_text
    if type_oid == pg.INTERVAL:
        return duration_text
    if type_oid == pg.UUID:
        return str
    return generic


def rows_as_lists(rows: Sequence[Sequence[Any]], converters: list[Converter | None]) -> list:
    """Convert every non-null value of ``rows`` with its column's converter."""
    active = [(i, c) for i, c in enumerate(converters) if c is not None]
    if not active:
        return [list(row) for row in rows]
    out = []
    for row in rows:
        values = list(row)
        for i, convert in active:
            value = values[i]
            if value is not None:
                values[i] = convert(value)
        out.append(values)
    return out
