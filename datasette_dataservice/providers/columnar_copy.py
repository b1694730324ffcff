"""Validated columnar batches (:class:`..schema.columnar.ColumnarRows`) as the databases take
them, without a Python object per cell where Arrow can do the work: CSV text for
PostgreSQL's ``COPY ... (FORMAT csv)``, parameter tuples for SQLite's ``executemany``.

Arrow writes what the text COPY of the same values would: integers, shortest round-trip
floats, true/false, and every string quoted, so an empty string stays one and an unquoted
empty field is NULL. Values the row path treats specially (JSON, datetimes PostgreSQL
would move out of years 1-9999 in UTC) make these return None: the row path writes them.
"""

from __future__ import annotations

import io
import operator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from ..schema.columnar import ColumnarRows
from .table_shape import field_type

ROW_PATH_TYPES = {"object", "array", "list", "geojson", "any"}
_WRITE = pa_csv.WriteOptions(include_header=False)


def _columns(fields: list[dict[str, Any]], rows: ColumnarRows) -> list[pa.ChunkedArray] | None:
    columns = []
    for field in fields:
        if field_type(field) in ROW_PATH_TYPES:
            return None
        column = rows.column(field["name"])
        if column is None:  # a column the upload did not have: null
            column = pa.chunked_array([pa.nulls(len(rows), pa.string())])
        columns.append(column)
    return columns


def copy_csv(fields: list[dict[str, Any]], rows: ColumnarRows) -> bytes | None:
    """The rows as CSV text in ``fields`` order, or None where the row path must write them."""
    columns = _columns(fields, rows)
    if columns is None:
        return None
    for n, (field, column) in enumerate(zip(fields, columns, strict=True)):
        if field_type(field) == "datetime" and column.type == pa.string():
            edge = pc.or_(pc.starts_with(column, "0001"), pc.starts_with(column, "9999"))
            if pc.any(edge).as_py():
                return None
        if column.type == pa.float64():  # NUMERIC keeps the scale of the text it is given
            columns[n] = number_text(column)
    table = pa.table(columns, names=[str(i) for i in range(len(columns))])
    out = io.BytesIO()
    pa_csv.write_csv(table, out, _WRITE)
    return out.getvalue()


#: field type -> the Arrow type of its column, and the Python types its values may have
RECORD_TYPES = {
    "integer": (pa.int64(), {int}),
    "year": (pa.int64(), {int}),
    "number": (pa.string(), {int, float}),  # the text psycopg writes: see number_text
    "boolean": (pa.bool_(), {bool}),
    "string": (pa.string(), {str}),
    "date": (pa.string(), {str}),
    "datetime": (pa.string(), {str}),
}


def records_table(fields: list[dict[str, Any]], rows: list[dict[str, Any]]) -> ColumnarRows | None:
    """Validated records (dicts) as Arrow columns that copy_csv writes as the row path's COPY
    would; None where it could not: a field of another type, a value of an unexpected type,
    a NUL in text (the row path's COPY refuses it with its own message)."""
    arrays = []
    for field in fields:
        arrow_type, allowed = RECORD_TYPES.get(field_type(field), (None, None))
        if arrow_type is None:
            return None
        name = field["name"]
        try:
            values = list(map(operator.itemgetter(name), rows))
        except KeyError:
            values = [row.get(name) for row in rows]
        types = set(map(type, values))
        types.discard(type(None))
        if not types <= allowed:
            return None
        if field_type(field) == "number":  # ints as "5", floats as "5.0"
            values = [None if v is None else repr(v) for v in values]
        try:
            array = pa.array(values, arrow_type)
        except (OverflowError, UnicodeEncodeError, pa.ArrowException):  # beyond 64 bits,
            return None  # a lone surrogate: the row path says what PostgreSQL makes of it
        if arrow_type == pa.string() and pc.any(pc.match_substring(array, "\x00")).as_py():
            return None
        arrays.append(array)
    return ColumnarRows(pa.table(arrays, names=[f["name"] for f in fields]))


def number_text(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Floats as the text psycopg's COPY writes for them (``repr``: 5.0 as "5.0", where
    Arrow's shortest form "5" would be stored by a NUMERIC column as 5, not 5.0)."""
    return pa.array([None if v is None else repr(v) for v in column.to_pylist()], pa.string())


def columnar_values(fields: list[dict[str, Any]], rows: ColumnarRows) -> list[tuple] | None:
    """The rows as SQLite parameter tuples (booleans as 0/1), or None for the row path."""
    columns = _columns(fields, rows)
    if columns is None:
        return None
    lists = [(pc.cast(c, pa.int64()) if c.type == pa.bool_() else c).to_pylist() for c in columns]
    return list(zip(*lists, strict=True))
