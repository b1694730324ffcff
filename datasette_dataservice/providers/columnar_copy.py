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
    for field, column in zip(fields, columns, strict=True):
        if field_type(field) == "datetime" and column.type == pa.string():
            edge = pc.or_(pc.starts_with(column, "0001"), pc.starts_with(column, "9999"))
            if pc.any(edge).as_py():
                return None
    table = pa.table(columns, names=[str(i) for i in range(len(columns))])
    out = io.BytesIO()
    pa_csv.write_csv(table, out, _WRITE)
    return out.getvalue()


def columnar_values(fields: list[dict[str, Any]], rows: ColumnarRows) -> list[tuple] | None:
    """The rows as SQLite parameter tuples (booleans as 0/1), or None for the row path."""
    columns = _columns(fields, rows)
    if columns is None:
        return None
    lists = [(pc.cast(c, pa.int64()) if c.type == pa.bool_() else c).to_pylist() for c in columns]
    return list(zip(*lists, strict=True))
