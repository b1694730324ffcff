"""Stored values as CSV cells that frictionless reads back as the same values.

The row validator stores JSON-native values (see :func:`.cast.native`): dates and times as
ISO text, booleans as true/false, objects and arrays as JSON. A CSV cell must be what the
field's own reader accepts: its ``trueValues``, its date ``format``, its list ``delimiter``,
its ``decimalChar``, and null as the first missing value. Pure: no I/O.

>>> write = cell_writers({"fields": [
...     {"name": "ok", "type": "boolean", "trueValues": ["yes"], "falseValues": ["no"]},
...     {"name": "on", "type": "date", "format": "%d/%m/%Y"},
...     {"name": "tags", "type": "list", "delimiter": ";"},
...     {"name": "doc", "type": "object"},
... ]})
>>> [w(v) for w, v in zip(write, [True, "2024-01-31", ["a", "b"], {"k": [1]}])]
['yes', '31/01/2024', 'a;b', '{"k": [1]}']
>>> [w(None) for w in write]
['', '', '', '']
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

CellWriter = Callable[[Any], str]
JSON_TYPES = {"object", "array", "geojson"}
PARSERS = {
    "date": datetime.date.fromisoformat,
    "datetime": datetime.datetime.fromisoformat,
    "time": datetime.time.fromisoformat,
}


def _missing_value(field: dict[str, Any], schema: dict[str, Any]) -> str:
    values = field.get("missingValues", schema.get("missingValues", [""]))
    if not values:
        return ""
    first = values[0]
    return str(first.get("value", "")) if isinstance(first, dict) else str(first)


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _text(field: dict[str, Any]) -> CellWriter:
    """The writer of one non-null value of ``field``."""
    kind = field.get("type") or "string"
    fmt = field.get("format") or "default"
    if kind == "boolean":
        yes = (field.get("trueValues") or ["true"])[0]
        no = (field.get("falseValues") or ["false"])[0]
        return lambda value: yes if value else no
    if kind in JSON_TYPES:
        return _json
    if kind == "list":
        item = _text({"type": field.get("itemType") or "string"})
        delimiter = field.get("delimiter", ",")
        return lambda value: (
            value if isinstance(value, str) else delimiter.join(item(v) for v in value)
        )
    if kind == "number":  # always as a float, as CSV input is stored (jsonb keeps JSON ints)
        decimal = field.get("decimalChar", ".")
        return lambda value: str(float(value) if type(value) is int else value).replace(
            ".", decimal
        )
    if kind in PARSERS and fmt not in ("default", "any"):
        parse = PARSERS[kind]
        return lambda value: parse(value).strftime(fmt)
    if kind == "geopoint" and fmt in ("array", "object"):
        template = "[{0}, {1}]" if fmt == "array" else '{{"lon": {0}, "lat": {1}}}'
        return lambda value: template.format(*str(value).split(","))
    if kind == "any":
        return lambda value: (
            _json(value)
            if isinstance(value, dict | list)
            else ("true" if value else "false")
            if isinstance(value, bool)
            else str(value)
        )
    return str


def cell_writers(schema: dict[str, Any]) -> list[CellWriter]:
    """One writer per field of ``schema``, in order: stored value -> CSV cell text."""
    writers = []
    for field in schema["fields"]:
        missing, text = _missing_value(field, schema), _text(field)
        writers.append(
            lambda value, missing=missing, text=text: missing if value is None else text(value)
        )
    return writers
