"""Core's table filters on managed SQLite tables, answering as on PostgreSQL.

- Integers SQLite can bind: core reads ``?id__gt=99999999999999999999999`` as a Python int,
  which SQLite cannot bind (a 500). Such a parameter is given again as the float of the same
  value: SQLite compares integers with floats exactly, so every stored 64-bit integer is
  below it, as PostgreSQL finds for the same filter on a Postgres-backed table.
- Boolean fields: ``?active=true`` is bound as 1, as the field reads it
  (dataplane/boolean_filters.py); core alone compares the stored 1/0 with the text "true".
- A filter, ``_next``, ``_where`` or ``_facet*`` with a NUL character is a 400
  (dataplane/filter_values.py), as on PostgreSQL, where core fails with a 500 or answers
  otherwise.
- ``?_next=`` on a view must be an offset: a 400 where core fails with a 500; on a sorted
  table, one of too many values is a 400 in PostgreSQL's words (core: a syntax error).
- ``/db/table.nope`` is a 404 ("Invalid format"), as on PostgreSQL, where core fails with
  a 500. (``?col__in=[1``, a list that is no JSON, fails in core before this hook runs:
  web/exceptions.py answers it.)
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from datasette.filters import FilterArguments, Filters
from datasette.utils.asgi import NotFound

from ..dataplane.boolean_filters import BOOLEAN_LOOKUPS, Readings, readings_of
from ..dataplane.filter_values import checked_arguments, refuse_nul
from ..dataplane.paging import check_sorted_token, offset_of
from ..schema.stored_numbers import INT64_MAX, INT64_MIN
from ..service.core import is_managed_database, service_for


async def boolean_readings(datasette, database: str, table: str) -> Readings:
    """The readings of the managed datatable served by ``table``; none for other tables."""
    datatable = await service_for(datasette).managed_datatable(database, table)
    return readings_of(json.loads(datatable["json_schema"])) if datatable else {}


async def managed_filter_params(datasette, request, database: str, table: str):
    """FilterArguments overriding core's parameters where they would answer otherwise than
    PostgreSQL, or None."""
    if not is_managed_database(datasette, database):
        return None
    format_ = request.url_vars.get("format")
    if format_ and format_ not in ("html", "json", "csv") and format_ not in datasette.renderers:
        raise NotFound(f"Invalid format: {format_}")
    refuse_nul(checked_arguments(request.args))
    token = request.args.get("_next")
    db = datasette.get_database(database)
    if token and table in await db.view_names():
        offset_of(token)
    elif token and (request.args.get("_sort") or request.args.get("_sort_desc")):
        check_sorted_token(token, await db.primary_keys(table) or ["rowid"])
    selections = [
        (key, value)
        for key in request.args
        if not (key.startswith("_") and "__" not in key)  # as core's table view selects them
        for value in request.args.getlist(key)
    ]
    if not selections:
        return None
    readings = await boolean_readings(datasette, database, table)
    params = {}
    for name, column, lookup, value in numbered_params(Filters(sorted(selections)), table):
        refuse_nul([(column, value)])  # an __in list's item: "\u0000"
        if type(value) is int and not INT64_MIN <= value <= INT64_MAX:
            params[name] = _as_float(value)
        elif lookup in BOOLEAN_LOOKUPS and isinstance(value, str):
            truth = readings.get(column, {}).get(value)
            if truth is not None:
                params[name] = int(truth)
    return FilterArguments([], params=params) if params else None


def numbered_params(filters: Filters, table: str) -> Iterator[tuple[str, str, str, Any]]:
    """(parameter name, column, lookup, value) of each parameter core binds, numbered as
    ``Filters.build_where_clauses`` numbers them."""
    i = 0
    for column, lookup, value in filters.selections():
        known = filters._filters_by_key.get(lookup)
        if known is None:
            continue
        _, param = known.where_clause(table, column, value, i)
        if param is None:
            continue
        for individual in param if isinstance(param, list) else [param]:
            yield f"p{i}", column, lookup, individual
            i += 1


def _as_float(value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf
