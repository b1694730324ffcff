"""Core's table filters on managed SQLite tables, with integers SQLite can bind.

Core reads ``?id__gt=99999999999999999999999`` as a Python int, which SQLite cannot bind (a
500). On a managed table such a parameter is given again as the float of the same value:
SQLite compares integers with floats exactly, so every stored 64-bit integer is below it,
as PostgreSQL finds for the same filter on a Postgres-backed table.
"""

from __future__ import annotations

import math

from datasette.filters import FilterArguments, Filters

from ..schema.stored_numbers import INT64_MAX, INT64_MIN
from ..service.core import is_managed_database


def bindable_filter_params(datasette, request, database: str, table: str):
    """FilterArguments overriding core's out-of-range integer parameters, or None."""
    if not is_managed_database(datasette, database):
        return None
    selections = [
        (key, value)
        for key in request.args
        if not (key.startswith("_") and "__" not in key)  # as core's table view selects them
        for value in request.args.getlist(key)
    ]
    _, params = Filters(sorted(selections)).build_where_clauses(table)
    wide = {
        name: _as_float(value)
        for name, value in params.items()
        if type(value) is int and not INT64_MIN <= value <= INT64_MAX
    }
    return FilterArguments([], params=wide) if wide else None


def _as_float(value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf
