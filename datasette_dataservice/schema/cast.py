"""Per-field casting for the row validator: the general (slow) path and the error dicts.

The general path *is* frictionless: each field's own cell reader (missing values, type,
format, constraints, with frictionless' notes), created once per schema. It runs whenever
the generated fast path in :mod:`.rows` is not sure of a value, so that every error is
frictionless' own. Cast values are then made JSON-native (:func:`native`). Pure: no I/O.

>>> from frictionless import Schema
>>> field = Schema.from_descriptor({"fields": [{"name": "n", "type": "integer"}]}).fields[0]
>>> errors = []
>>> FieldCaster(field, 1)("12", 2, errors), FieldCaster(field, 1)("x", 3, errors)
((12, 0), (None, 3))
>>> errors[0]["note"]
'type is "integer/default"'
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import frictionless.errors
import isodate
from frictionless import Field
from frictionless.error import Error
from frictionless.fields.geopoint import geopoint
from frictionless.fields.yearmonth import yearmonth
from frictionless.schema import field as field_module

from . import json_text
from .patterns import compile_pattern
from .stored_numbers import storable_number

# What a field cast returns next to the value (the generated code relies on these numbers)
OK, BLANK, BLANK_INVALID, INVALID = 0, 1, 2, 3
# Field types whose cast values are dicts or lists (keyed by their JSON text for uniqueness)
UNHASHABLE_TYPES = {"object", "array", "list", "geojson", "any"}
BOUND_CONSTRAINTS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
# Types whose text cells frictionless reads with json.loads: read by json_text first instead
JSON_TEXT_TYPES = {"object", "array", "geojson"}

ERROR_CLASSES: dict[str, type[Error]] = {
    cls.type: cls
    for cls in vars(frictionless.errors).values()
    if isinstance(cls, type) and issubclass(cls, Error)
}


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def make_error(
    error_type: str,
    row_number: int | None = None,
    note: str = "",
    cell: Any = None,
    field_name: str | None = None,
    field_number: int | None = None,
) -> dict[str, Any]:
    """A frictionless-style error dict, its message rendered from frictionless' own template.

    >>> make_error("blank-row", row_number=4)["message"]
    'Row at position "4" is completely blank'
    """
    cls = ERROR_CLASSES.get(error_type, ERROR_CLASSES["row-error"])
    shown = "" if cell is None else str(cell)
    values = {"rowNumber": row_number, "fieldName": field_name or "", "note": note}
    values.update(fieldNumber=field_number, cell=shown, label=shown)
    message = cls.template.format_map(_Blank(values))
    if note and "{note}" not in cls.template:
        message += f": {note}"
    return {
        "type": error_type,
        "title": cls.title,
        "rowNumber": row_number,
        "fieldName": field_name,
        "fieldNumber": field_number,
        "cell": cell,
        "note": note,
        "message": message,
    }


def native(value: Any) -> Any:
    """A cast value as JSON-native data: Decimal -> float, dates and times -> ISO text
    (UTC as "Z"), yearmonth -> "YYYY-MM", geopoint -> "lon,lat", duration -> ISO 8601."""
    kind = type(value)
    if value is None or kind is str or kind is int or kind is bool or kind is float:
        return value
    if isinstance(value, Decimal):
        return float("nan") if value.is_nan() else float(value)
    if isinstance(value, datetime.datetime | datetime.time):
        return iso(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, yearmonth):
        if type(value.year) is not int or type(value.month) is not int:
            raise TypeError("a yearmonth is two integers")
        return f"{value.year}-{value.month:02}"
    if isinstance(value, geopoint):
        return ",".join(map(str, value))
    if isinstance(value, datetime.timedelta | isodate.Duration):
        return isodate.duration_isoformat(value)
    if isinstance(value, dict):
        return {key: native(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [native(item) for item in value]
    return value


def iso(value: datetime.datetime | datetime.time) -> str:
    """ISO 8601 text of a datetime or time, with a zero UTC offset written "Z"."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def hashable(value: Any) -> Any:
    """A key for uniqueness checks: dicts and lists by their canonical JSON text."""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return value


class FieldCaster:
    """The general path for one field: ``caster(value, row_number, errors) -> (value, code)``.

    ``code`` is OK, BLANK (null, no error), BLANK_INVALID (null with an error, e.g. required)
    or INVALID (a type error, value None, or a constraint error, value kept). Errors are
    appended to ``errors`` as frictionless reports them.
    """

    def __init__(self, field: Field, number: int) -> None:
        self.field = field
        self.name = field.name
        self.number = number
        self.type = field.type
        self.type_note = f'type is "{field.type}/{field.format}"'
        self.bool_is_invalid = field.type == "year"  # frictionless reads True as year 1
        self.copy_lists = bool(getattr(field, "array_item", None))  # its reader casts in place
        # frictionless matches patterns with Python's backtracking re: this reader leaves the
        # pattern out, and __call__ checks it with RE2 in its place
        pattern = field.constraints.get("pattern")
        self._matches = None
        reader_field = field
        if isinstance(pattern, str) and "pattern" in field.supported_constraints:
            self._matches = compile_pattern(pattern)
            reader_field = field.to_copy()
            reader_field.constraints = {
                k: v for k, v in field.constraints.items() if k != "pattern"
            }
            reader_field.schema = field.schema
        self.json_text = field.type in JSON_TEXT_TYPES
        self._read = reader_field.create_cell_reader()
        self._value = field.create_value_reader()
        self.missing_values = (
            field.missing_values
            if field.has_defined("missing_values") or not field.schema
            else field.schema.missing_values
        )

    def __call__(self, value: Any, row_number: int, errors: list[dict]) -> tuple[Any, int]:
        cell: Any = value
        if self.json_text and type(value) is str and value not in self.missing_values:
            try:
                cell = json_text.loads(value)
            except ValueError as e:
                errors.append(self.error("type-error", row_number, value, f"{self.type_note}: {e}"))
                return None, INVALID
        if self.bool_is_invalid and (value is True or value is False):
            cell, notes = None, {"type": self.type_note}
        else:
            try:
                cell, notes = self._read(
                    list(cell) if self.copy_lists and isinstance(cell, list) else cell
                )
            except Exception:  # a bound frictionless cannot compare (e.g. naive vs aware)
                cell, notes = self._careful(cell)
            else:
                if self._matches is not None and not (notes and "type" in notes):
                    notes = self._check_pattern(cell, notes)
        if cell is not None and (self.type == "integer" or self.type == "number"):
            cell, problem = storable_number(cell, self.type == "integer")
            if problem:
                errors.append(self.error("type-error", row_number, value, problem))
                return None, INVALID
        if notes is None:
            if cell is None:
                return None, BLANK
            try:
                return native(cell), OK
            except Exception:
                cell, notes = None, {"type": self.type_note}
        notes = dict(notes)
        type_note = notes.pop("type", None)
        if type_note:
            errors.append(self.error("type-error", row_number, value, type_note))
        for note in notes.values():
            errors.append(self.error("constraint-error", row_number, value, note))
        if cell is None:
            return None, INVALID if type_note else BLANK_INVALID
        try:
            return native(cell), INVALID
        except Exception:
            return None, INVALID

    def error(self, error_type: str, row_number: int, cell: Any, note: str) -> dict[str, Any]:
        return make_error(error_type, row_number, note, cell, self.name, self.number)

    def _check_pattern(self, cell: Any, notes: dict[str, str] | None) -> dict[str, str] | None:
        """Add the pattern's note where frictionless puts it (constraints in their order)."""
        if not isinstance(cell, str) or self._matches(cell):
            return notes
        notes = {**(notes or {}), "pattern": _note("pattern", self.field.constraints["pattern"])}
        order = self.field.supported_constraints
        return {name: notes[name] for name in sorted(notes, key=order.index)}

    def _careful(self, value: Any) -> tuple[Any, dict[str, str] | None]:
        """frictionless' cell reader, with every constraint check guarded."""
        if str(value) in self.missing_values:
            value = None
        if value is not None:
            value = self._value(value)
            if value is None or getattr(self.field, "array_item", None):
                return None, {"type": self.type_note}
        notes: dict[str, str] = {}
        constraints = self.field.constraints
        for name in self.field.supported_constraints:
            if constraints.get(name) is None:
                continue
            if not _passes(name, constraints[name], value, self._value):
                notes[name] = _note(name, constraints[name])
        return value, notes or None


def _note(name: str, constraint: Any) -> str:
    return f'constraint "{name}" is "{constraint}"'


def _passes(name: str, constraint: Any, cell: Any, read: Callable[[Any], Any]) -> bool:
    check = getattr(field_module, f"check_{name}")
    try:
        if name in BOUND_CONSTRAINTS:
            constraint = read(constraint)
        elif name == "enum":
            constraint = [read(item) for item in constraint]
        elif name == "pattern":
            return cell is None or bool(compile_pattern(constraint)(cell))
        return bool(check(constraint, cell))
    except Exception:
        return False


_SAME = "the same as in the row at position %s"


class RowErrors:
    """Error builders for the generated row loop (called on its error paths only)."""

    def __init__(self, names: list[str], ukeys: list[list[int]]) -> None:
        self.names, self.ukeys, self.field_set = names, ukeys, frozenset(names)

    def blank(self, errors: list[dict], row_number: int) -> None:  # replaces the row's errors
        while errors and errors[-1]["rowNumber"] == row_number:
            errors.pop()
        errors.append(make_error("blank-row", row_number))

    def not_object(self, errors: list[dict], row_number: int, row: Any) -> None:
        note = f"a row must be an object keyed by field name, not {type(row).__name__}"
        error = make_error("row-error", row_number, note, row)
        error["message"] = f'Row at position "{row_number}" is not valid: {note}'
        errors.append(error)

    def extra_keys(self, errors: list[dict], row_number: int, record: dict) -> None:
        extra = [key for key in record if key not in self.field_set]
        for number, key in enumerate(extra, start=len(self.names) + 1):
            note = f'"{key}" is not a field of the schema'
            errors.append(make_error("extra-cell", row_number, note, record[key], key, number))

    def shape(self, errors: list[dict], row_number: int, extra: list, count: int) -> None:
        for number, cell in enumerate(extra, start=len(self.names) + 1):
            errors.append(make_error("extra-cell", row_number, "", str(cell), None, number))
        for number in range(count + 1, len(self.names) + 1):
            name = self.names[number - 1]
            errors.append(make_error("missing-cell", row_number, "", "", name, number))

    def unique(self, errors: list[dict], row_number: int, i: int, cell: Any, last: int) -> None:
        note = _SAME % last
        errors.append(make_error("unique-error", row_number, note, cell, self.names[i], i + 1))

    def unique_key(self, errors: list[dict], row_number: int, i: int, key: tuple, last: int):
        names = ", ".join(self.names[j] for j in self.ukeys[i])
        note, cells = f'unique key "{names}": {_SAME % last}', ", ".join(map(str, key))
        errors.append(
            make_error("unique-error", row_number, note, cells, names, self.ukeys[i][0] + 1)
        )

    def primary_key(self, errors: list[dict], row_number: int, cells: Any, last: int = 0) -> None:
        note = _SAME % last if last else 'cells composing the primary keys are all "None"'
        if not last and isinstance(cells, tuple) and set(cells) != {None}:
            note = 'cells composing the primary keys contain "None"'  # not in frictionless
        errors.append(make_error("primary-key", row_number, note))
