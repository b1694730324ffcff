"""Columnar validation of CSV batches with Apache Arrow: the import's fast path.

A batch arrives as an Arrow table of text cells (one column per field, in the header's
order). Each column is checked as a whole where a compute kernel can decide exactly what the
row validator's own fast path (:func:`.fast_paths.fast_paths`) decides: integers, numbers, years,
booleans, plain strings with length and enum constraints, ISO dates and datetimes. Every
other cell (emails, patterns, custom formats, group characters, values the kernels are not
sure of) goes through the row validator's code for that field, generated from the same
:func:`.fast_paths.field_code`, one cell at a time.

The fast path only *accepts*. A batch with anything to report (a refused cell, a blank
row, a missing required value, a duplicate key) returns None, and the caller runs the batch
through the reference row validator, whose report is then the report. So what is accepted,
and the values it is accepted as, are the reference's; what is refused is reported by it.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .cast import BOUND_CONSTRAINTS, FieldCaster
from .fast_paths import fast_paths, field_code
from .rows import RowValidator
from .stored_numbers import INT64_MAX, INT64_MIN
from .text_kernels import PATTERNS, datetime_accepted, email_accepted

ARROW_TYPES = {int: pa.int64(), float: pa.float64(), bool: pa.bool_(), str: pa.string()}
_COMPARE = {
    "minimum": pc.greater_equal,
    "maximum": pc.less_equal,
    "exclusiveMinimum": pc.greater,
    "exclusiveMaximum": pc.less,
}


class Refer(Exception):
    """This batch has something to report: the reference row validator must read it."""


class ColumnarRows(Sequence):
    """Validated rows held as an Arrow table of typed columns (the layout's fields, in the
    header's order). Indexing and iterating give the dicts the row validator would give;
    providers that know the type read ``table`` directly."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def __len__(self) -> int:
        return self.table.num_rows

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return list(self)[index]
            return ColumnarRows(self.table.slice(start, max(stop - start, 0)))
        return self.table.slice(index, 1).to_pylist()[0]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.table.to_pylist())

    def column(self, name: str) -> pa.ChunkedArray | None:
        """The typed values of field ``name``, None if the upload had no such column."""
        if name not in self.table.column_names:
            return None
        return self.table.column(name)


def _cell_loop(caster: FieldCaster):
    """The row validator's code for one field, run down a column: the values, or None at
    the first cell it refuses."""
    consts: dict[str, Any] = {}
    lines = field_code(0, caster, consts, records=False)
    body = "\n".join("            " + line for line in lines)
    source = (
        f"def build({', '.join(sorted(consts))}):\n"
        "    def run(values, rn):\n"
        "        errs = []\n"
        "        out = []\n"
        "        add = out.append\n"
        "        for v0 in values:\n"
        "            bad = False\n"
        "            nn = 0\n"
        f"{body}\n"
        "            if bad:\n"
        "                return None\n"
        "            add(v0)\n"
        "        return out\n"
        "    return run\n"
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, "<column validator>", "exec"), namespace)
    return namespace["build"](**consts)


class _Column:
    """One field's check over a column of text cells."""

    def __init__(self, caster: FieldCaster) -> None:
        field = caster.field
        self.name, self.required = caster.name, bool(field.required)
        self.missing = pa.array([str(v) for v in caster.missing_values], pa.string())
        self.loop = _cell_loop(caster)
        self.kind: str | None = None  # which kernel, None: every cell through the loop
        self.checks: list[tuple[Any, Any]] = []  # (compute function, bound)
        self.enum: pa.Array | None = None
        self.lengths: tuple[int | None, int | None] = (None, None)
        self.short = False  # number: only text of at most 15 characters (see cast.py)
        paths, consts = fast_paths(field, caster.missing_values)
        text_paths = [condition for condition, _ in paths if "type({v}) is str" in condition]
        if not text_paths:
            return
        condition, kind, fmt = text_paths[0], field.type, field.format
        if kind in ("integer", "number", "year") and "{c}re({v})" in condition:
            self.kind = kind
            self.short = "len({v}) <= 15" in condition
            for name in BOUND_CONSTRAINTS:
                if name in consts:
                    bound = consts[name]
                    if kind != "number" and not INT64_MIN <= bound <= INT64_MAX:
                        self.kind = None
                        return
                    self.checks.append((_COMPARE[name], bound))
            if "enum" in consts:
                allowed = [v for v in consts["enum"] if type(v) is int]
                allowed = [v for v in allowed if INT64_MIN <= v <= INT64_MAX]
                self.enum = pa.array(sorted(allowed), pa.int64())
        elif kind == "boolean" and "{c}map" in condition:
            self.kind = kind
            self.true = pa.array([k for k, v in consts["map"].items() if v], pa.string())
            self.false = pa.array([k for k, v in consts["map"].items() if not v], pa.string())
        elif kind == "string" and fmt == "default" and "pattern" not in consts:
            self.kind = kind
            self.lengths = (consts.get("minLength"), consts.get("maxLength"))
            if "enum" in consts:
                self.enum = pa.array(sorted(v for v in consts["enum"] if type(v) is str))
        elif kind in ("date", "datetime") and fmt == "default":
            self.kind = kind
        elif kind == "string" and fmt == "email" and not set(consts) - {"re", "missing"}:
            self.kind = "email"

    def check(self, cells: pa.Array, first: int) -> pa.Array:
        """The column's values (typed), or Refer if any cell has something to report."""
        if self.missing.to_pylist() == [""]:  # the default: a cheaper kernel than is_in
            missing = pc.equal(cells, "")
        else:
            missing = pc.is_in(cells, value_set=self.missing)
        values, accepted = self._kernel(cells, missing)
        if self.required and pc.any(missing).as_py():
            raise Refer(self.name)
        rest = pc.invert(pc.or_(missing, accepted)) if accepted is not None else None
        if rest is None:
            rest = pc.invert(missing)
        if not pc.any(rest).as_py():
            return values
        # Cells the kernel was not sure of: the row validator's code, one at a time.
        positions = pc.indices_nonzero(rest).to_pylist()
        cast = self.loop(pc.take(cells, positions).to_pylist(), first)
        if cast is None:
            raise Refer(self.name)
        kinds = {type(v) for v in cast if v is not None}
        if values.type == pa.null():
            if len(kinds) > 1 or not kinds <= ARROW_TYPES.keys():
                raise Refer(self.name)
            kind = ARROW_TYPES[kinds.pop()] if kinds else pa.string()
            merged: list[Any] = [None] * len(cells)
        else:
            if not kinds <= {_python_type(values.type)}:
                raise Refer(self.name)
            kind, merged = values.type, values.to_pylist()
        for position, value in zip(positions, cast, strict=True):
            merged[position] = value
        return pa.array(merged, kind)

    def _kernel(self, cells: pa.Array, missing: pa.Array) -> tuple[pa.Array, pa.Array | None]:
        kind = self.kind
        if kind is None:
            return pa.nulls(len(cells)), None
        if kind == "boolean":
            true = pc.is_in(cells, value_set=self.true)
            accepted = pc.or_(true, pc.is_in(cells, value_set=self.false))
            accepted = pc.and_not(accepted, missing)
            return pc.if_else(accepted, true, pa.scalar(None, pa.bool_())), accepted
        if kind in ("string", "date", "datetime", "email"):
            accepted = pc.invert(missing)
            if kind == "email":
                accepted = pc.and_(accepted, email_accepted(cells))
            elif kind == "date":
                accepted = pc.and_(accepted, pc.match_substring_regex(cells, PATTERNS["date"]))
            elif kind == "datetime":
                accepted = pc.and_(accepted, datetime_accepted(cells))
            low, high = self.lengths
            if low is not None or high is not None:
                length = pc.utf8_length(cells)
                if low is not None:
                    accepted = pc.and_(accepted, pc.greater_equal(length, low))
                if high is not None:
                    accepted = pc.and_(accepted, pc.less_equal(length, high))
            if self.enum is not None:
                accepted = pc.and_(accepted, pc.is_in(cells, value_set=self.enum))
            return pc.if_else(accepted, cells, pa.scalar(None, pa.string())), accepted
        # integer, number, year: text of the reference's form, then the constraints
        accepted = pc.and_not(pc.match_substring_regex(cells, PATTERNS[kind]), missing)
        if self.short:
            accepted = pc.and_(accepted, pc.less_equal(pc.utf8_length(cells), 15))
        target = pa.float64() if kind == "number" else pa.int64()
        values = pc.cast(pc.if_else(accepted, cells, "0"), target)
        for compare, bound in self.checks:
            accepted = pc.and_(accepted, compare(values, pa.scalar(bound, target)))
        if self.enum is not None:
            accepted = pc.and_(accepted, pc.is_in(values, value_set=self.enum))
        return pc.if_else(accepted, values, pa.scalar(None, target)), accepted


def _python_type(arrow_type: pa.DataType) -> type:
    return next(t for t, a in ARROW_TYPES.items() if a == arrow_type)


class ColumnarValidator:
    """The fast path for one schema and header layout (the field of each column, by
    position): ``validate(cells, first)`` gives the batch's ColumnarRows, or raises Refer
    when the reference must read it."""

    def __init__(self, validator: RowValidator, layout: tuple[int, ...]) -> None:
        fields = validator._schema.fields
        self.names = [fields[i].name for i in layout]
        self.columns = [_Column(FieldCaster(fields[i], n + 1)) for n, i in enumerate(layout)]
        kinds = {fields[i].name: fields[i].type for i in layout}
        self.key_sets: list[tuple[list[str], bool]] = []  # (columns, all must be present)
        pk = list(validator.primary_key)
        if pk:
            self.key_sets.append((pk, True))
        for i in layout:
            if fields[i].constraints.get("unique"):
                self.key_sets.append(([fields[i].name], False))
        for key in validator.unique_keys:
            self.key_sets.append((list(key), False))
        self.floats = {name for name, kind in kinds.items() if kind == "number"}

    def validate(self, cells: pa.Table, first: int) -> ColumnarRows:
        arrays = []
        for position, column in enumerate(self.columns):
            arrays.append(column.check(cells.column(position).combine_chunks(), first))
        table = pa.table(dict(zip(self.names, arrays, strict=True)))
        if table.num_rows and table.num_columns:
            blank = pc.is_null(arrays[0])
            for array in arrays[1:]:
                blank = pc.and_(blank, pc.is_null(array))
            if pc.any(blank).as_py():
                raise Refer("a blank row")
        for names, required in self.key_sets:
            if set(names) <= set(self.names):  # as the row validator: whole keys only
                self._check_unique(table, names, required)
        return ColumnarRows(table)

    def _check_unique(self, table: pa.Table, names: list[str], required: bool) -> None:
        if not names:
            return
        keys = table.select(names)
        present = pc.invert(pc.is_null(keys.column(0)))
        for name in names[1:]:
            present = pc.and_(present, pc.invert(pc.is_null(keys.column(name))))
        if required and not pc.all(present).as_py():
            raise Refer("a primary key with a null")
        keys = keys.filter(present)
        # 0.0 and -0.0 are one key to Python's dicts (the reference), two bit patterns to Arrow
        for name in names:
            if name in self.floats:
                index = keys.column_names.index(name)
                keys = keys.set_column(index, name, pc.add(keys.column(name), 0.0))
        if len(names) == 1 and keys.column(0).type != pa.string():
            column = keys.column(0).combine_chunks()
            if len(column) < 2 or pc.all(pc.greater(column[1:], column[:-1])).as_py():
                return  # increasing: no repeats (the usual id column), no hashing needed
            distinct = pc.count_distinct(column).as_py()
        elif len(names) == 1:
            distinct = pc.count_distinct(keys.column(0)).as_py()
        else:
            distinct = keys.group_by(names).aggregate([]).num_rows
        if distinct != keys.num_rows:
            raise Refer("a repeated key")
