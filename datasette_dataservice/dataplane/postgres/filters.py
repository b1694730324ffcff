"""Core's table filters (``?col__op=value``) as PostgreSQL WHERE clauses. Pure functions.

Parsing is core's own (``datasette.filters.Filters``: same lookups, same ``p0, p1, ...``
numbering); the SQL keeps SQLite's semantics where the two engines differ:

- LIKE-based lookups fold ASCII case only and have no escape character, as SQLite's LIKE;
- text compares byte-wise (``COLLATE "C"``), as SQLite's BINARY collation;
- a value the column's type cannot hold matches as SQLite matches a number against text:
  never equal, greater than any number (``id=abc`` finds nothing instead of failing);
- a fractional number compares with an integer column numerically (``id__lt=2.5``,
  ``id=1.0``), as SQLite compares an INTEGER column with a REAL;
- a boolean field's value is read by its Table Schema's ``trueValues``/``falseValues``
  (dataplane/boolean_filters.py) for ``exact``, ``not``, ``in`` and ``notin``, as on SQLite;
- an unknown plain column name is a string literal, as SQLite reads ``"nope"``; ``__in``
  on one, or any unknown bracket-quoted name, is "no such column" (400), as on SQLite.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from datasette.filters import Filters, _coerce_numeric_filter_value
from datasette.utils import escape_sqlite
from datasette.views.base import DatasetteError

from ..boolean_filters import BOOLEAN_LOOKUPS, DEFAULT_READING, Readings
from ..filter_values import refuse_nul
from .days import day_of
from .introspect import Column, Relation
from .readable import TEXT_LIKE_KINDS, fits, fits_temporal, is_decimal
from .sqlite_values import (
    as_numeric_text,
    as_text,
    core_bound,
    is_infinite,
    read_booleans,
    split_values,
    sqlite_number,
)
from .sqltext import quote
from .stored_text import expr as _expr
from .stored_text import glob_regex as _glob_regex
from .stored_text import ordered as _ordered
from .stored_text import text as _text

ASCII_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ASCII_LOWER = str.maketrans(ASCII_UPPER, ASCII_UPPER.lower())
_DIGITS = re.compile(r"\s*[+-]?[0-9]+\s*", re.ASCII)  # an integer, however long
_DECIMAL = re.compile(r"\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*", re.ASCII)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
LIKE_FORMATS = {
    "contains": "%{}%",
    "notcontains": "%{}%",
    "startswith": "{}%",
    "endswith": "%{}",
    "like": "{}",
    "notlike": "{}",
}
COMPARISONS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
NUMERIC_LOOKUPS = set(COMPARISONS)
NUMBER_KINDS = {"integer", "number", "boolean"}  # SQLite: INTEGER or REAL affinity


@dataclass
class Where:
    clauses: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)  # bound: text, cast by PostgreSQL
    shown: dict[str, Any] = field(default_factory=dict)  # as core shows them (_extra=query)

    def add_param(self, value: Any, shown: Any = None) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        self.shown[name] = value if shown is None else shown
        return f"%({name})s"


def filter_pairs(args) -> list[tuple[str, str]]:
    """The query string arguments that are filters, sorted, as core collects them."""
    pairs = []
    for key in args:
        if not (key.startswith("_") and "__" not in key):
            pairs.extend((key, value) for value in args.getlist(key))
    return sorted(pairs)


def build_where(
    pairs: list[tuple[str, str]],
    relation: Relation,
    booleans: Readings | None = None,
    reals: frozenset[str] = frozenset(),
) -> Where:
    """WHERE clauses (``%(pN)s`` placeholders) for the filters in ``pairs``; ``booleans``:
    how boolean fields read their values (frictionless' defaults for any other); ``reals``:
    a view's columns of Table Schema numbers (SQLite's view reads them as REALs).

    >>> from .introspect import Column, Relation
    >>> r = Relation("t", False, (Column("id", 20, -1, "bigint", True, 1),
    ...                            Column("name", 25, -1, "text", False, 0)))
    >>> w = build_where([("id__gt", "2"), ("name__contains", "Ab")], r)
    >>> w.clauses[0], w.params, w.shown
    ('"id" > %(p0)s', {'p0': '2', 'p1': '%ab%'}, {'p0': 2, 'p1': '%Ab%'})
    >>> build_where([("id", "abc")], r).clauses
    ['FALSE']
    """
    where = Where()
    for column_name, lookup, value in Filters(pairs).selections():
        build = LOOKUPS.get(lookup)
        if build is None:
            continue  # core ignores lookups it does not know
        column = relation.column(column_name)
        if column is not None and column.name in reals:
            column = dataclasses.replace(column, real=True)
        bare = escape_sqlite(column_name) == column_name  # SQLite: an unquoted identifier
        if column is None and lookup in ("in", "notin") and bare:
            raise DatasetteError(f"no such column: {column_name}", title="Invalid SQL", status=400)
        if column is None and lookup in ("arraycontains", "arraynotcontains"):
            message = f"no such column: {relation.name}.{column_name}"  # core's {t}.{c}
            raise DatasetteError(message, title="Invalid SQL", status=400)
        first = len(where.params)
        if column is not None and column.kind == "boolean" and lookup in BOOLEAN_LOOKUPS:
            reading = (booleans or {}).get(column.name, DEFAULT_READING)
            read = read_booleans(value, lookup, reading)
            where.clauses.append(build(where, column, column_name, read))
            _show_booleans(where, first, value, lookup, reading)
        else:
            where.clauses.append(build(where, column, column_name, value))
    return where


def _show_booleans(where: Where, first: int, value: str, lookup: str, reading) -> None:
    """The parameters as core binds them on SQLite (web/core_filters.py): each text the
    field reads as 1/0, any other as it is."""
    try:
        values = split_values(value) if lookup in ("in", "notin") else [value]
    except (ValueError, RecursionError):
        return
    names = list(where.params)[first:]
    for name, item in zip(names, values if isinstance(values, list) else [values], strict=False):
        truth = reading.get(item) if isinstance(item, str) else None
        where.shown[name] = item if truth is None else int(truth)


# Expressions -------------------------------------------------------------------------------


def _unfit(column: Column | None, name: str, operator: str, placeholder: str, value: str) -> str:
    """``column <operator> value`` for a value the column's type cannot hold, as SQLite
    answers it: dates and times compare as their text; an integer beyond the column's range
    as the number it is (web/core_filters.py binds it so on SQLite); a number is less than
    any text."""
    if column is not None and column.kind in TEXT_LIKE_KINDS:
        return f'{_text(column, name)} COLLATE "C" {operator} {placeholder}'
    if is_decimal(column, value):
        return f"{_expr(column, name)} {operator} {_as_numeric(placeholder)}"
    never = operator in ("=", ">", ">=")  # no stored value is above (or equal to) it
    if column is not None and column.kind == "integer" and _DIGITS.fullmatch(value):
        never = operator in ("=", "<", "<=") if value.strip().startswith("-") else never
    if never:
        return "FALSE"
    return f"{_expr(column, name)} IS NOT NULL"


def _as_numeric(placeholder: str) -> str:
    return f"CAST({placeholder} AS numeric)"


def compare(column: Column | None, name: str, operator: str, placeholder: str, value: str) -> str:
    """``name <operator> value`` as SQLite answers it, whatever text ``value`` is."""
    if column is not None and column.kind == "boolean":
        return _boolean_compare(column, operator, placeholder, value)
    if not fits(column, value) or not typed_temporal(column, value):
        return _unfit(column, name, operator, placeholder, value)
    return f"{_ordered(column, name)} {operator} {placeholder}"


def _boolean_compare(column: Column, operator: str, placeholder: str, value: str) -> str:
    """SQLite's stored 1/0 against a number, numerically; against any text, as a number
    against text: always less."""
    if _DECIMAL.fullmatch(value):
        return f"CAST({quote(column.name)} AS integer) {operator} {_as_numeric(placeholder)}"
    if operator in ("=", ">", ">="):
        return "FALSE"
    return f"{quote(column.name)} IS NOT NULL"


def typed_temporal(column: Column | None, value: str) -> bool:
    """Whether a date, time or timestamp column may compare with ``value`` as its type:
    only where that answers as SQLite's comparison of the stored ISO text does (a date with
    a date written YYYY-MM-DD); any other compares as text (``_unfit``)."""
    if column is None or column.kind not in TEXT_LIKE_KINDS:
        return True
    return column.kind == "date" and bool(_ISO_DATE.fullmatch(value))


def _equatable(column: Column | None, name: str) -> str:
    return (
        _text(column, name) if column is not None and column.kind == "json" else _expr(column, name)
    )


def _fold(pattern: str) -> str:
    return pattern.translate(_ASCII_LOWER)


# Lookups -----------------------------------------------------------------------------------

Build = Callable[[Where, "Column | None", str, str], str]


def _exact(negate: bool) -> Build:
    def build(where: Where, column: Column | None, name: str, value: str) -> str:
        placeholder = where.add_param(value)
        operator = "!=" if negate else "="
        if not fits(column, value) or not typed_temporal(column, value):
            return _unfit(column, name, operator, placeholder, value)
        return f"{_equatable(column, name)} {operator} {placeholder}"

    return build


def _like(lookup: str) -> Build:
    negate = lookup.startswith("not")

    def build(where: Where, column: Column | None, name: str, value: str) -> str:
        pattern = LIKE_FORMATS[lookup].format(value)
        placeholder = where.add_param(_fold(pattern), shown=pattern)
        text = _text(column, name)
        folded = f"translate({text}, '{ASCII_UPPER}', '{ASCII_UPPER.lower()}')"
        return f"{folded} {'NOT LIKE' if negate else 'LIKE'} {placeholder} ESCAPE ''"

    return build


def _comparison(lookup: str) -> Build:
    """Core binds the number the text reads as (``+3``: 3), which a text column compares
    with as SQLite writes it and a number column as a number (dataplane/postgres/
    sqlite_values.py); an unknown name's literal text is above any number."""
    operator = COMPARISONS[lookup]

    def build(where: Where, column: Column | None, name: str, value: str) -> str:
        shown = _coerce_numeric_filter_value(value)
        bound = core_bound(value)
        if column is None or column.kind not in NUMBER_KINDS:
            text = value if isinstance(bound, str) else as_text(bound)
            placeholder = where.add_param(text, shown=shown)
            if column is None and not isinstance(bound, str):
                return "TRUE" if operator.startswith(">") else "FALSE"
            return compare(column, name, operator, placeholder, text)
        number = sqlite_number(value) if isinstance(bound, str) else bound
        text = value if number is None else as_numeric_text(number)
        placeholder = where.add_param(text, shown=shown)
        if is_infinite(number):  # beyond every stored number
            above = operator.startswith("<") == (number > 0)
            return f"{_expr(column, name)} IS NOT NULL" if above else "FALSE"
        return compare(column, name, operator, placeholder, text)

    return build


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _in(negate: bool) -> Build:
    def build(where: Where, column: Column | None, name: str, value: str) -> str:
        try:
            values = split_values(value)
        except (ValueError, RecursionError) as error:  # RecursionError: nested too deeply
            raise DatasetteError(f"Invalid JSON list: {error}", status=400) from error
        if not isinstance(values, list):
            values = [values]
        placeholders = []
        as_text = column is not None and column.kind in TEXT_LIKE_KINDS
        refuse_nul([(name, item) for item in values])  # web/postgres/table.py: the rest
        for item in values:
            text = _as_text(item)
            placeholder = where.add_param(text, shown=item)
            if text is not None and (as_text or fits(column, text)):
                placeholders.append(placeholder)
            elif text is not None and is_decimal(column, text):
                placeholders.append(_as_numeric(placeholder))
        expr = _text(column, name) if as_text else _equatable(column, name)
        if negate and None in values:
            return "FALSE"  # SQLite: x NOT IN (..., NULL) is never true
        if not placeholders:
            return f"{expr} IS NOT NULL" if negate else "FALSE"
        return f"{expr} {'NOT IN' if negate else 'IN'} ({', '.join(placeholders)})"

    return build


def _glob(where: Where, column: Column | None, name: str, value: str) -> str:
    placeholder = where.add_param(_glob_regex(value), shown=value)
    return f"{_text(column, name)} ~ {placeholder}"


def _array(negate: bool) -> Build:
    """SQLite's ``:p in (select value from json_each(column))``: an array's elements, an
    object's values, a scalar itself; text that is no JSON fails ("malformed JSON"); only a
    JSON string equals the (text) value; numbers and booleans never do."""

    def build(where: Where, column: Column | None, name: str, value: str) -> str:
        placeholder = where.add_param(value)
        if column is None or column.kind in ("integer", "number", "boolean"):
            return "TRUE" if negate else "FALSE"
        if column.kind == "json":
            document = f"CAST({quote(column.name)} AS jsonb)"
        else:  # text, and dates and times stored as text by SQLite: read as JSON
            document = f"CAST({_text(column, name)} AS jsonb)"
        values = (
            f"CASE jsonb_typeof({document}) WHEN 'array' THEN {document} "
            f"WHEN 'object' THEN (SELECT jsonb_agg(o.value) FROM jsonb_each({document}) AS o) "
            f"ELSE jsonb_build_array({document}) END"
        )
        exists = (
            f"EXISTS (SELECT 1 FROM jsonb_array_elements({values}) AS e(v) "
            f"WHERE e.v = to_jsonb(CAST({placeholder} AS text)))"
        )
        return f"NOT {exists}" if negate else exists

    return build


def _date(where: Where, column: Column | None, name: str, value: str) -> str:
    """SQLite's ``date(column) = :value``: the stored value's day (days.py), as text."""
    placeholder = where.add_param(value)
    day = day_of(column) if column is not None else None
    if day is None or value != value.strip() or not fits_temporal("date", value):
        return "FALSE"  # no day, or text date() never writes
    return f"{day} = {placeholder}"


def _no_argument(template: str) -> Build:
    def build(where: Where, column: Column | None, name: str, value: str) -> str:
        return template.format(c=_expr(column, name), t=_text(column, name))

    return build


LOOKUPS: dict[str, Build] = {
    "exact": _exact(False),
    "not": _exact(True),
    **{lookup: _like(lookup) for lookup in LIKE_FORMATS},
    **{lookup: _comparison(lookup) for lookup in COMPARISONS},
    "glob": _glob,
    "in": _in(False),
    "notin": _in(True),
    "arraycontains": _array(False),
    "arraynotcontains": _array(True),
    "date": _date,
    "isnull": _no_argument("{c} IS NULL"),
    "notnull": _no_argument("{c} IS NOT NULL"),
    "isblank": _no_argument("({c} IS NULL OR {t} = '')"),
    "notblank": _no_argument("({c} IS NOT NULL AND {t} != '')"),
}
