"""A column-at-a-time pre-check for batches of JSON records, beside the generated row loop.

Most batches a client sends are already right: every row a dict with every field, every
value of the JSON type the field wants, nothing to cast. For such a batch the generated loop
of :mod:`.rows` keeps each row as given and reports nothing, but still pays a dozen Python
steps per cell. Here each field's values are checked as a whole column with C-level
builtins (``set(map(type, ...))``, ``min``/``max``, ``map`` of a compiled regex), and the
keys (primary, unique, foreign) with sets.

The check only ever says "the generated loop would keep every row as it is, with no error":
then it returns what that loop returns (the same row objects, numbers, seen keys and foreign
key cells). Anything else (a value to cast, a null where it matters, an error, a type or
option it does not cover) returns None, and the batch goes through the generated loop, the
reference, whole. It accepts only values the first fast path of
:func:`.fast_paths.fast_paths` passes through unchanged (a subset is fine, never more):
tests/test_insert_fast_path.py runs both over the same batches and compares.
"""

from __future__ import annotations

import datetime
import math
import operator
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .cast import UNHASHABLE_TYPES, FieldCaster
from .fast_paths import PATTERNS, fast_paths
from .stored_numbers import INT64_MAX, INT64_MIN
from .text_kernels import datetime_accepted, email_accepted

#: column -> whether every (non-null) value passes unchanged
Check = Callable[[list], bool]
#: columns at least this long try an Arrow kernel before Python's regex (building the
#: Arrow array costs more than the regex on a few values)
ARROW_FROM = 512

_BOUNDS = {
    "minimum": lambda low, high, bound: low >= bound,
    "maximum": lambda low, high, bound: high <= bound,
    "exclusiveMinimum": lambda low, high, bound: low > bound,
    "exclusiveMaximum": lambda low, high, bound: high < bound,
}


def _bounds_ok(values: list, consts: dict[str, Any]) -> bool:
    bounds = [(check, consts[name]) for name, check in _BOUNDS.items() if name in consts]
    if not bounds:
        return True
    low, high = min(values), max(values)
    return all(check(low, high, bound) for check, bound in bounds)


def _strings_ok(values: list, consts: dict[str, Any], missing: list[str]) -> bool:
    """Every value a str that is not a missing value and meets the length, pattern and
    enum constraints (the string fast path's condition)."""
    if set(map(type, values)) != {str}:
        return False
    if set(missing) <= {""}:  # "plain": "" is the only missing value, if any
        if "" in missing and "" in values:
            return False
    elif not consts["missing"].isdisjoint(values):
        return False
    if "minLength" in consts or "maxLength" in consts:
        lengths = list(map(len, values))
        if "minLength" in consts and min(lengths) < consts["minLength"]:
            return False
        if "maxLength" in consts and max(lengths) > consts["maxLength"]:
            return False
    if "pattern" in consts and not all(map(consts["pattern"], values)):
        return False
    return "enum" not in consts or set(values) <= consts["enum"]


def _integers(low: int, high: int) -> Callable[[list, dict], bool]:
    def check(values: list, consts: dict[str, Any]) -> bool:
        if set(map(type, values)) != {int}:
            return False
        if min(values) < low or max(values) > high or not _bounds_ok(values, consts):
            return False
        return "enum" not in consts or set(values) <= consts["enum"]

    return check


def _number(values: list, consts: dict[str, Any]) -> bool:
    types = set(map(type, values))
    if not types <= {int, float}:
        return False
    floats, ints = values, []
    if types == {int}:
        floats, ints = [], values
    elif int in types:
        ints = [v for v in values if type(v) is int]
        floats = [v for v in values if type(v) is float]
    if ints and (min(ints) < INT64_MIN or max(ints) > INT64_MAX):
        return False
    if floats and not all(map(math.isfinite, floats)):  # no NaN, no infinity
        return False
    return _bounds_ok(values, consts)


def _boolean(values: list, consts: dict[str, Any]) -> bool:
    return set(map(type, values)) == {bool} and set(values) <= consts["allowed"]


def _string(values: list, consts: dict[str, Any], missing: list[str]) -> bool:
    return _strings_ok(values, consts, missing)


def _unsure(values: list[str], kernel: Callable[[pa.Array], pa.Array]) -> list[str]:
    """The values a kernel of :mod:`.text_kernels` does not accept: those alone need
    Python's regex, as what the kernel accepts the regex accepts too."""
    if len(values) < ARROW_FROM:
        return values
    try:
        cells = pa.array(values, pa.string())
    except UnicodeEncodeError:  # a lone surrogate (not from JSON text): Python decides
        return values
    accepted = kernel(cells)
    if not accepted.false_count:
        return []
    return pc.filter(cells, pc.invert(accepted)).to_pylist()


def _email(values: list, consts: dict[str, Any], missing: list[str]) -> bool:
    if not _strings_ok(values, consts, missing) or max(map(len, values)) >= 255:
        return False
    return all(map(consts["re"], _unsure(values, email_accepted)))


def _any(values: list, consts: dict[str, Any], missing: list[str]) -> bool:
    """Text that is not missing, or (when "" is the only missing value) any JSON scalar."""
    types = set(map(type, values))
    if types != {str} and not (set(missing) <= {""} and types <= {str, int, float, bool}):
        return False
    strings = values if types == {str} else [v for v in values if type(v) is str]
    return not strings or _strings_ok(strings, {"missing": consts.get("missing")}, missing)


def _date(values: list, consts: dict[str, Any], missing: list[str]) -> bool:
    if not _strings_ok(values, {"missing": consts.get("missing")}, missing):
        return False
    if not all(map(consts["re"], values)):
        return False
    try:
        for _ in map(datetime.date.fromisoformat, values):
            pass
    except ValueError:
        return False
    return True


def _datetime(values: list, consts: dict[str, Any], missing: list[str]) -> bool:
    """The first datetime fast path: already in the output form, valid to the day."""
    if not _strings_ok(values, {"missing": consts.get("missing")}, missing):
        return False
    unsure = _unsure(values, datetime_accepted)  # the kernel takes days every month has
    if not all(map(PATTERNS["datetime"], unsure)):
        return False
    late = [v for v in unsure if v[8:10] >= "29"]  # a day that not every month has
    try:
        for _ in map(datetime.datetime.fromisoformat, late):
            pass
    except ValueError:
        return False
    return True


def column_check(caster: FieldCaster) -> Check | None:
    """The check for one field's column (nulls left out), or None when the field has no
    identity fast path for JSON values (its batches go through the generated loop)."""
    field, missing = caster.field, list(caster.missing_values)
    paths, consts = fast_paths(field, missing)
    if not paths:
        return None
    plain = set(missing) <= {""}
    kind, fmt = field.type, field.format
    by_type: dict[str, Callable[..., bool]] = {}
    if plain:  # values other than text pass as they are only when nothing else is missing
        by_type.update(
            integer=_integers(INT64_MIN, INT64_MAX),
            year=_integers(0, 9999),
            number=_number,
            boolean=_boolean,
        )
        if kind in ("object", "array") and not getattr(field, "array_item", None):
            wanted = dict if kind == "object" else list
            return lambda values: set(map(type, values)) == {wanted}
    if kind in by_type:
        function = by_type[kind]
        return lambda values: function(values, consts)
    text: dict[tuple[str, str], Callable[..., bool]] = {
        ("string", "default"): _string,
        ("string", "email"): _email,
        ("date", "default"): _date,
        ("datetime", "default"): _datetime,
    }
    function = text.get((kind, fmt)) or (_any if kind == "any" else None)
    if function is None:
        return None
    return lambda values: function(values, consts, missing)


class ColumnChecks:
    """The pre-check for one records program of :mod:`.rows` (fields in schema order)."""

    def __init__(self, program: Any, casters: list[FieldCaster]) -> None:
        self.names: list[str] = program.names
        self.fields = program.errors.field_set
        self.count = len(casters)
        self.checks = [column_check(caster) for caster in casters]
        self.required = [caster.field.required for caster in casters]
        self.pk, self.unique, self.ukeys = program.pk, program.unique, program.ukeys
        self.fks = [(local, own) for local, _, _, own in program.fks]
        keyed = set(self.pk) | set(self.unique)
        keyed |= {i for key in self.ukeys for i in key}
        keyed |= {i for local, own in self.fks for i in [*local, *(own or [])]}
        # dicts and lists are keyed by their JSON text: left to the generated loop
        hashable = not any(casters[i].type in UNHASHABLE_TYPES for i in keyed)
        self.usable = hashable and all(check is not None for check in self.checks)

    def run(self, rows: Any, first: int):
        """``(rows, numbers, end, seen, fk_rows, lookups)`` as the generated loop would
        return and fill them, if that loop would keep every row unchanged; else None."""
        if not self.usable or type(rows) is not list or not rows:
            return None
        if set(map(type, rows)) != {dict} or set(map(len, rows)) != {self.count}:
            return None
        if not all(map(self.fields.issuperset, rows)):
            return None  # a key that is not a field (each row holds every field, then)
        columns = [list(map(operator.itemgetter(name), rows)) for name in self.names]
        some_field_set = False  # a row whose every field is null is a blank-row error
        for values, check, required in zip(columns, self.checks, self.required, strict=True):
            present = values
            if None in values:
                if required:
                    return None
                present = [v for v in values if v is not None]
            else:
                some_field_set = True
            if present and not check(present):
                return None
        if not some_field_set:
            return None
        numbers = list(range(first, first + len(rows)))
        seen = self._seen(columns, numbers)
        if seen is None:
            return None
        fk_rows, lookups = self._foreign_key_cells(columns, numbers)
        return list(rows), numbers, first + len(rows), seen, fk_rows, lookups

    def _seen(self, columns: list[list], numbers: list[int]) -> list[dict] | None:
        """Each unique column set's values -> row number, or None on a repeat (an error)."""
        seen: list[dict] = []
        for i in self.unique:
            found = dict(zip(columns[i], numbers, strict=True))
            found.pop(None, None)
            if len(found) != len(columns[i]) - columns[i].count(None):
                return None
            seen.append(found)
        if self.pk:
            keys = columns[self.pk[0]] if len(self.pk) == 1 else self._tuples(columns, self.pk)
            if len(self.pk) == 1 and None in keys:
                return None
            if len(self.pk) > 1 and any(None in columns[i] for i in self.pk):
                return None
            found = dict(zip(keys, numbers, strict=True))
            if len(found) != len(keys):
                return None
            seen.append(found)
        for key in self.ukeys:
            keys = self._tuples(columns, key)
            pairs = zip(keys, numbers, strict=True)
            if any(None in columns[i] for i in key):
                pairs = ((k, n) for k, n in pairs if None not in k)
            found = {}
            for k, n in pairs:
                if k in found:
                    return None
                found[k] = n
            seen.append(found)
        return seen

    def _foreign_key_cells(self, columns: list[list], numbers: list[int]):
        """The generated loop's ``fk_rows`` (grouped by key rather than by row: the caller
        sorts errors by row, stably) and the batch's own keys for self-references."""
        fk_rows: list[tuple[int, int, tuple]] = []
        lookups: list[set] = []
        for n, (local, own) in enumerate(self.fks):
            nothing = (None,) * len(local)
            keys = self._tuples(columns, local)
            fk_rows += [(rn, n, k) for rn, k in zip(numbers, keys, strict=True) if k != nothing]
            mine: set = set()
            if own is not None:
                mine = set(self._tuples(columns, own))
                mine.discard((None,) * len(own))
            lookups.append(mine)
        return fk_rows, lookups

    @staticmethod
    def _tuples(columns: list[list], indexes: list[int]) -> list[tuple]:
        return list(zip(*(columns[i] for i in indexes), strict=True))
