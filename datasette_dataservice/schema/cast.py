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
import math
import re
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
from .stored_numbers import INT64_MAX, INT64_MIN, storable_number

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


# -- Fast paths: inline code for the values a field accepts without the general path --------
#
# A fast path may only accept a value that the general path accepts with no note, giving the
# same output; anything else falls through to the general path (tests/test_row_validator.py
# checks this against frictionless). Templates use {v} (the value), {w} (a scratch variable)
# and {c} (the prefix of this field's closure constants); no schema text is ever spliced in.

_TZ = r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?"
_HMS = r"[0-9]{2}:[0-9]{2}:[0-9]{2}"
_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
# A subset of what validators.email accepts (dot-atom name, LDH labels, a 2+ letter TLD)
_EMAIL = (
    r"(?=[^@]{1,64}@)[\w+\-]++(?:\.[\w+\-]++)*+"
    r"@(?:[A-Za-z0-9][A-Za-z0-9\-]{0,61}+(?<!-)\.)++[A-Za-z0-9][A-Za-z0-9\-]{1,61}(?<=[A-Za-z])"
)
PATTERNS = {
    "integer": re.compile(r"-?[0-9]{1,18}").fullmatch,
    "number": re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,15})?").fullmatch,
    "year": re.compile(r"[0-9]{4}").fullmatch,
    "date": re.compile(_DATE).fullmatch,
    # valid up to the day of the month, and already in the output form: kept as given
    "datetime": re.compile(
        r"(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
        r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.(?!000000)[0-9]{6})?"
        r"(?:Z|[+-](?!00:00)(?:[01][0-9]|2[0-3]):[0-5][0-9])?"
    ).fullmatch,
    "datetime_other": re.compile(_DATE + "[T ]" + _HMS + r"(?:\.[0-9]{1,6})?" + _TZ).fullmatch,
    "email": re.compile(_EMAIL, re.ASCII).fullmatch,
}
SCALARS = frozenset({int, float, bool})


def parse_datetime(text: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        return None


def parse_date(text: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        return None


# Constraints each type's fast path can check itself (required and unique are handled apart)
_FAST_CONSTRAINTS = {
    "integer": {*BOUND_CONSTRAINTS, "enum"},
    "year": {*BOUND_CONSTRAINTS, "enum"},
    "number": set(BOUND_CONSTRAINTS),
    "string": {"minLength", "maxLength", "pattern", "enum"},
    "boolean": {"enum"},
}
_COMPARE = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}


def fast_paths(field: Field, missing_values: list[str]) -> tuple[list[tuple[str, str]], dict]:
    """``([(condition, output expression), ...], constants)`` for one field's fast path."""
    kind, constraints = field.type, field.constraints
    checked = {k for k, v in constraints.items() if v is not None} - {"required", "unique"}
    if not checked <= _FAST_CONSTRAINTS.get(kind, set()):
        return [], {}
    read = field.create_value_reader()
    consts: dict[str, Any] = {"re": PATTERNS.get(kind)}
    tests: list[str] = []  # checks of the constraints on the value "{v}"
    short_bounds = True  # every number bound has at most 15 significant digits
    for name in sorted(checked):
        value = constraints[name]
        if name in BOUND_CONSTRAINTS:
            bound = read(value)
            if kind == "number":  # compared as floats only where that is exact
                if not isinstance(bound, int | Decimal) or not _exact_float(bound):
                    return [], {}
                short_bounds = (
                    short_bounds and len(Decimal(bound).normalize().as_tuple().digits) <= 15
                )
                bound = float(bound)
            elif type(bound) is not int:
                return [], {}
            tests.append(f"{{v}} {_COMPARE[name]} {{c}}{name}")
            consts[name] = bound
        elif name == "enum":
            allowed = [read(item) for item in value]
            if kind == "boolean":
                consts["allowed"] = frozenset(allowed)
                continue
            consts["enum"] = frozenset(item for item in allowed if type(item) in (int, str))
            tests.append("{v} in {c}enum")
        elif name == "pattern":
            consts["pattern"] = compile_pattern(value)
            tests.append("{c}pattern({v})")
        else:  # minLength, maxLength
            if type(value) is not int:
                return [], {}
            tests.append(f"len({{v}}) {'>=' if name == 'minLength' else '<='} {{c}}{name}")
            consts[name] = value
    checks = "".join(f" and {test}" for test in tests)

    plain = set(missing_values) <= {""}  # str() of a non-string value is never missing
    if not plain:
        consts["missing"] = frozenset(missing_values)
    strv = "type({v}) is str" + ("" if plain else " and {v} not in {c}missing")
    text = strv + " and {v}" if plain and "" in missing_values else strv  # a string, not missing
    paths: list[tuple[str, str]] = []
    fmt, defined = field.format, field.list_defined()
    # Text (CSV cells) is converted first, then checked: "{w}" holds the converted value.
    converted_checks = checks.replace("{v}", "{w}")
    if kind == "integer":
        in_range = f" and {INT64_MIN} <= {{v}} <= {INT64_MAX}"
        paths += [(f"type({{v}}) is int{in_range}{checks}", "{v}")] if plain else []
        if not checks and field.bare_number:
            paths.append((strv + " and {c}re({v})", "int({v})"))
        elif field.bare_number:
            condition = strv + " and {c}re({v}) and (({w} := int({v})) or True)"
            paths.append((condition + converted_checks, "{w}"))
    elif kind == "number":
        # finite floats (NaN compares false), integers of 64 bits (see storable_number)
        number = (
            "(type({v}) is float and -{c}inf < {v} < {c}inf or type({v}) is int"
            f" and {INT64_MIN} <= {{v}} <= {INT64_MAX})"
        )
        consts["inf"] = math.inf
        paths += [(number + checks, "{v}")] if plain else []
        if not {"group_char", "decimal_char", "bare_number"} & set(defined):
            if not checks:
                paths.append((strv + " and {c}re({v})", "float({v})"))
            elif short_bounds:
                # At most 15 digits each side: float() keeps such decimals apart and in order
                # (DBL_DIG), so comparing floats decides the bounds exactly as decimals do.
                condition = strv + " and len({v}) <= 15 and {c}re({v})"
                condition += " and (({w} := float({v})) or True)"
                paths.append((condition + converted_checks, "{w}"))
    elif kind == "year":
        paths += [(f"type({{v}}) is int and 0 <= {{v}} <= 9999{checks}", "{v}")] if plain else []
        paths += [(strv + " and {c}re({v})", "int({v})")] if not checks else []
    elif kind == "boolean":
        mapping = {value: True for value in field.true_values}
        mapping.update({value: False for value in field.false_values})
        allowed = consts.pop("allowed", frozenset({True, False}))
        consts["map"] = {
            k: v for k, v in mapping.items() if k not in missing_values and v in allowed
        }
        consts["allowed"] = allowed
        test = " and {v} in {c}allowed" if "enum" in checked else ""
        paths += [("type({v}) is bool" + test, "{v}")] if plain else []
        paths.append(("type({v}) is str and {v} in {c}map", "{c}map[{v}]"))
    elif kind == "string" and fmt == "email":
        consts["re"] = PATTERNS["email"]
        paths.append((f"{text} and len({{v}}) < 255 and {{c}}re({{v}}){checks}", "{v}"))
    elif kind == "string" and fmt == "default":
        paths.append((text + checks, "{v}"))
    elif kind == "any":
        paths.append((text, "{v}"))
        paths += [("type({v}) in {c}scalars", "{v}")] if plain else []
        consts["scalars"] = SCALARS
    elif kind in ("object", "array") and not getattr(field, "array_item", None) and plain:
        paths.append((f"type({{v}}) is {'dict' if kind == 'object' else 'list'}", "{v}"))
    elif kind == "date" and fmt == "default":
        consts["parse"] = parse_date
        paths.append((strv + " and {c}re({v}) and {c}parse({v}) is not None", "{v}"))
    elif kind == "datetime" and fmt == "default":
        consts.update(parse=parse_datetime, other=PATTERNS["datetime_other"], iso=iso)
        # days up to 28 exist in every month: only later ones need parsing to be sure
        condition = strv + " and {c}re({v}) and ({v}[8:10] < '29' or {c}parse({v}))"
        paths.append((condition, "{v}"))
        condition = strv + " and {c}other({v}) and ({w} := {c}parse({v})) is not None"
        paths.append((condition, "{c}iso({w})"))
    return paths, {k: v for k, v in consts.items() if v is not None}


def _exact_float(value: int | Decimal) -> bool:
    try:
        return Decimal(float(value)) == Decimal(value)
    except (OverflowError, ValueError, ArithmeticError):
        return False


def field_code(i: int, caster: FieldCaster, consts: dict[str, Any], records: bool) -> list[str]:
    """One field: the fast paths in turn, then null, then the general path."""
    paths, field_consts = fast_paths(caster.field, caster.missing_values)
    consts.update({f"f{i}_{name}": value for name, value in field_consts.items()})
    consts[f"S{i}"] = caster
    v, names = f"v{i}", {"v": f"v{i}", "w": f"w{i}", "c": f"f{i}_"}
    kind = f"{caster.type}/{caster.field.format}"
    lines = [f"# field {i + 1}: {caster.name!r} {kind!r}"]
    lines += [f"{v} = g({caster.name!r})"] if records else []
    keyword = "if"
    for condition, expression in paths:
        value = expression.format(**names)
        lines.append(f"{keyword} {condition.format(**names)}:")
        if value == v:
            lines.append("    pass")
        else:
            lines += [f"    {v} = {value}"] + (["    new = True"] if records else [])
        keyword = "elif"
    if not caster.field.required:
        lines += [f"{keyword} {v} is None:", "    nn += 1"]
        keyword = "elif"
    slow = [f"{v}, c = S{i}({v}, rn, errs)"] + (["new = True"] if records else [])
    slow += ["if c:", "    if c != 3:", "        nn += 1", "    if c != 1:", "        bad = True"]
    if keyword == "if":
        return lines + slow
    return lines + ["else:"] + ["    " + line for line in slow]
