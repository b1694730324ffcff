"""The row validator's fast paths: inline code, generated per field, for the values a field
accepts without the general path (:class:`.cast.FieldCaster`, frictionless' own reader).

A fast path may only accept a value that the general path accepts with no note, giving the
same output; anything else falls through to the general path (tests/test_row_validator.py
checks this against frictionless). Templates use {v} (the value), {w} (a scratch variable)
and {c} (the prefix of this field's closure constants); no schema text is ever spliced in.
"""

from __future__ import annotations

import datetime
import math
import re
from decimal import Decimal
from typing import Any

from frictionless import Field

from .cast import BOUND_CONSTRAINTS, FieldCaster, iso
from .patterns import compile_pattern
from .stored_numbers import INT64_MAX, INT64_MIN

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
