"""Core's JSON output, with a ``?_json=COLUMN`` that works on every page and shape.

Core's ``json_renderer`` parses ``_json`` columns by zipping each row with the columns, which
fails three ways (Datasette 1.0a41): a row that is a dict (table pages with
``_extra=columns``, every Postgres-backed page) is zipped by its keys, so each value becomes
its column's name; the parsed rows are lists, which ``_shape=arrays`` and
``_shape=arrayfirst`` then fail on (500s); and a table page without ``_extra=columns`` skips
``_json`` altogether. Here the ``_json`` columns are parsed first, into dict rows every shape
reads, and core's renderer does the rest. Databases the data service does not manage keep
core's renderer as it is.
"""

from __future__ import annotations

import json
from typing import Any

from datasette.renderer import json_renderer
from datasette.utils import MultiParams

from ..service.core import is_managed_database


def parsed_json_columns(rows: list, columns: list[str], names: list[str]) -> list[dict]:
    """``rows`` as dicts, the ``names`` columns' JSON text parsed (other values unchanged).

    >>> parsed_json_columns([{"id": 1, "tags": '["a"]'}, (2, "x")], ["id", "tags"], ["tags"])
    [{'id': 1, 'tags': ['a']}, {'id': 2, 'tags': 'x'}]
    """
    wanted = set(names)
    parsed = []
    for row in rows:
        values = dict(row) if isinstance(row, dict) else dict(zip(columns, row, strict=False))
        for name in wanted.intersection(values):
            try:
                values[name] = json.loads(values[name])
            except (TypeError, ValueError):
                pass
        parsed.append(values)
    return parsed


def render_json(request, args, data: dict[str, Any], error, truncated=None):
    """Core's ``json_renderer`` after parsing the ``_json`` columns (the Postgres pages'
    JSON too)."""
    names = args.getlist("_json") if "_json" in args else []
    rows = data.get("rows") if isinstance(data, dict) else None
    if names and rows:
        columns = data.get("columns") or (list(rows[0].keys()) if hasattr(rows[0], "keys") else [])
        data["rows"] = parsed_json_columns(rows, columns, names)
    if names:
        args = MultiParams({key: args.getlist(key) for key in args.keys() if key != "_json"})
    return json_renderer(request, args, data, error, truncated=truncated)


def render_json_for(datasette, database, request, args, data, error, truncated=None):
    """The ``json`` output renderer: core's own on databases the service does not manage."""
    if is_managed_database(datasette, database):
        return render_json(request, args, data, error, truncated)
    return json_renderer(request, args, data, error, truncated=truncated)


RENDERER = {"extension": "json", "render": render_json_for, "can_render": lambda: True}
